"""Alembic environment: runs the migrations in ``versions/`` against one database.

Where the database comes from, first match wins:

1. ``config.attributes["connection"]`` or ``["url"]``, set by ``fellesdrift.assembly.migrations``;
2. ``-x url=...`` on the command line, then ``sqlalchemy.url`` in the config;
3. the platform settings, i.e. ``FELLESDRIFT_DATABASE_URL``.

Adding a migration after changing the models (from the repository root). Autogenerate against
PostgreSQL, the production database; this starts a throw-away server, migrates an empty database
to head and runs the command against it:

    python -m tests.rig.postgres alembic -c fellesdrift/assembly/migrations/alembic.ini \
        revision --autogenerate -m "add ticket table"

Revisions are numbered 0001, 0002, ... automatically; for a hand-written revision (data
migration) pass ``--rev-id`` with the next number. Read the generated file before committing:
autogenerate misses renames and server-side defaults. ``tests/test_migrations.py`` then proves
the models and migrations agree (``alembic check``) and that the revision runs up and down on
SQLite and PostgreSQL. Operations are rendered in batch mode because SQLite cannot ALTER most
things; on PostgreSQL batch mode emits plain ALTER statements.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, make_url
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import fellesdrift.assembly.tables  # noqa: F401  (puts every table on SQLModel.metadata)
from fellesdrift.assembly.migrations import PG_MIGRATION_LOCK, migration_engine

config = context.config
target_metadata = SQLModel.metadata
log = logging.getLogger("alembic.env")

# Only the command line configures logging; in code the application's logging stays as it is.
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def database_url() -> URL:
    given = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    given = given or config.get_main_option("sqlalchemy.url")
    if not given:
        from fellesdrift.kernel.settings import get_settings

        given = get_settings().database_url
    return make_url(given)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Make generated revisions import our column types and not depend on SQLModel's."""
    if type_ != "type":
        return False
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    module = type(obj).__module__
    if module.split(".")[0] in ("fellesdrift", "register", "servicedesk", "billing", "sla"):
        autogen_context.imports.add(f"import {module}")
    return False


def number_revision(
    _context: MigrationContext, _revision: Any, directives: list[MigrationScript]
) -> None:
    """On ``revision --autogenerate``: skip empty revisions and number the new one."""
    if not getattr(config.cmd_opts, "autogenerate", False):
        return
    script = directives[0]
    if all(ops.is_empty() for ops in script.upgrade_ops_list):
        log.info("The models match the migrations; no revision written.")
        directives.clear()
        return
    if getattr(config.cmd_opts, "rev_id", None):
        return
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        script.rev_id = "0001"
    elif head.isdigit():
        script.rev_id = f"{int(head) + 1:04d}"


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Leave alone the tables that hand-written revisions keep outside the models: the ticket
    search table of revision 0003 (on SQLite an FTS5 virtual table with shadow tables), which
    autogenerate would otherwise offer to drop and ``alembic check`` report."""
    from servicedesk.tickets.service.search import is_search_table

    if type_ == "table" and name is not None and name not in target_metadata.tables:
        return not is_search_table(name)
    return True


def options() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "render_as_batch": True,
        "render_item": render_item,
        "include_name": include_name,
        "process_revision_directives": number_revision,
    }


def run_migrations_offline() -> None:
    """``--sql`` mode: write the SQL instead of running it."""
    context.configure(url=database_url(), literal_binds=True, **options())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    # Alembic treats SQLite's DDL as non-transactional and would commit after each revision,
    # letting a concurrent migrator read the version between two revisions and run the second
    # one again. migration_engine() makes SQLite's DDL transactional, so all revisions run in
    # one transaction that holds the write lock from the version check to the commit.
    context.configure(connection=connection, transactional_ddl=True, **options())
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several web workers may start at once; the first migrates, the others then find
            # the database at head.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
            )
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:10]}")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = migration_engine(database_url())
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
