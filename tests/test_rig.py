"""The rig itself: the servers answer, each test gets its own migrated database, nothing lingers."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel, select

from fellesdrift.assembly.migrations import config as migrations_config
from fellesdrift.kernel.db import make_engine, session_scope
from register.access import Principal
from register.models import Kommune
from tests.rig.postgres import TEMPLATE, PostgresServer, fresh_database

SYSTEM = Principal.system("test rig")
HEAD = ScriptDirectory.from_config(migrations_config()).get_current_head()


def _kommune() -> Kommune:
    return Kommune(
        slug="tromso",
        name="Tromsø",
        kommunenummer="5501",
        orgnr="940101808",
        valid_from=date(2024, 1, 1),
    )


def _assert_migrated_and_empty(engine: Engine) -> None:
    with engine.connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        tables = set(sa.inspect(connection).get_table_names())
        kommuner = connection.execute(sa.text("SELECT count(*) FROM kommune")).scalar()
    assert version == HEAD
    assert set(SQLModel.metadata.tables) <= tables
    assert kommuner == 0, "a row written by another test is visible"


def test_postgres_server_answers_on_loopback(pg_server: PostgresServer, pg_admin: Engine) -> None:
    with pg_admin.connect() as connection:
        version = connection.execute(sa.text("SELECT version()")).scalar_one()
        fsync = connection.execute(sa.text("SHOW fsync")).scalar_one()
    assert version.startswith("PostgreSQL ")
    assert fsync == "off"
    assert make_url(pg_server.admin_url).database == "postgres"
    assert make_url(pg_server.url("x")).drivername == "postgresql+psycopg"


# Each round writes the same kommune; the second round would see it (or hit the unique index)
# if databases were shared between tests.
@pytest.mark.parametrize("round_", [1, 2])
def test_each_postgres_test_gets_a_fresh_migrated_database(pg_engine: Engine, round_: int) -> None:
    _assert_migrated_and_empty(pg_engine)
    with session_scope(pg_engine, principal=SYSTEM) as session:
        session.add(_kommune())
    with session_scope(pg_engine, principal=SYSTEM) as session:
        stored = session.exec(select(Kommune)).one()
    assert stored.name == "Tromsø"
    assert stored.created_at.tzinfo is not None


@pytest.mark.parametrize("round_", [1, 2])
def test_each_sqlite_test_gets_a_fresh_migrated_database(sqlite_url: str, round_: int) -> None:
    engine = make_engine(sqlite_url)
    try:
        _assert_migrated_and_empty(engine)
        with session_scope(engine, principal=SYSTEM) as session:
            session.add(_kommune())
    finally:
        engine.dispose()


def test_per_test_databases_are_dropped_even_with_open_connections(
    pg_server: PostgresServer, pg_admin: Engine, pg_template: str
) -> None:
    with fresh_database(pg_server, pg_admin, pg_template) as url:
        engine = sa.create_engine(url)
        leaked = engine.connect()  # a test that forgets to close its connection
        name = make_url(url).database
    with pg_admin.connect() as connection:
        left = connection.execute(
            sa.text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
    assert left == 0
    leaked.invalidate()
    leaked.close()
    engine.dispose()


def test_template_refuses_connections(pg_server: PostgresServer, pg_template: str) -> None:
    # A stray connection to the template would make every CREATE DATABASE ... TEMPLATE fail.
    assert pg_template == TEMPLATE
    engine = sa.create_engine(pg_server.url(pg_template))
    try:
        with pytest.raises(OperationalError, match="not currently accepting connections"):
            engine.connect()
    finally:
        engine.dispose()
