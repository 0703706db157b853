"""Helpers for the import and export tests: sessions as a principal, row counts, a second
database for round trips."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, func, select

from fellesdrift.kernel.db import make_engine
from fellesdrift.kernel.problems import FieldError
from register import auth
from register.access import Principal, bind
from register.choices import Role
from register.models import (
    AuditEvent,
    CIRelation,
    CIResponsibility,
    CIUsage,
    ConfigItem,
    Kommune,
    MonitorTarget,
    RoleGrant,
    Site,
    User,
)
from register.service.io import ImportRejected, ImportReport, Source, export_data, import_files
from tests.rig.postgres import PostgresServer, fresh_database
from tests.support.factories import Factory

DATA = Path(__file__).parent / "data"
YAML_SET = [DATA / "knutepunkt.yaml"]
CSV_SET = sorted((DATA / "csv").glob("*.csv"))
TABLES: tuple[type[SQLModel], ...] = (
    Kommune, Site, User, RoleGrant, ConfigItem, CIResponsibility, CIRelation, CIUsage,
    MonitorTarget, AuditEvent,
)  # fmt: skip
SYSTEM = Principal.system("import-test")


@contextmanager
def session_as(engine: Engine, principal: Principal) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        bind(session, principal)
        yield session
        session.commit()


def principal(engine: Engine, user: User) -> Principal:
    with session_as(engine, SYSTEM) as s:
        return auth.principal_for(s, s.get(User, user.id))  # type: ignore[arg-type]


def run_import(
    engine: Engine,
    who: Principal,
    sources: Sequence[Source],
    dry_run: bool = False,
    entity: str | None = None,
) -> ImportReport:
    with session_as(engine, who) as s:
        return import_files(s, sources, dry_run=dry_run, entity=entity)


def rejected(engine: Engine, who: Principal, sources: Sequence[Source]) -> list[FieldError]:
    """The errors of an import that must be refused."""
    with session_as(engine, who) as s, pytest.raises(ImportRejected) as caught:
        import_files(s, sources)
    return caught.value.errors


def export(engine: Engine, who: Principal, fmt: str) -> dict[str, str]:
    with session_as(engine, who) as s:
        return export_data(s, fmt)


def row_counts(engine: Engine) -> dict[str, int]:
    with session_as(engine, SYSTEM) as s:
        return {t.__name__: s.exec(select(func.count()).select_from(t)).one() for t in TABLES}


def errors_at(errors: list[FieldError], field: str) -> list[FieldError]:
    return [e for e in errors if e.field == field]


@pytest.fixture
def admin(make: Factory) -> Principal:
    user = make.user(None, Role.ADMIN, Role.AGENT, username="ada.admin", full_name="Ada Admin")
    return principal(make.engine, user)


@pytest.fixture
def second_db(pg_server: PostgresServer, pg_admin: Engine, pg_template: str) -> Iterator[Engine]:
    """Another fresh, migrated database: the target of a round trip."""
    with fresh_database(pg_server, pg_admin, pg_template) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()
