"""The import on the embedded default, SQLite, as the CLI runs it (the system principal):
savepoints there behave differently from PostgreSQL, so all-or-nothing is checked here too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from fellesdrift.kernel.db import make_engine
from tests.importexport.conftest import (
    CSV_SET,
    DATA,
    SYSTEM,
    YAML_SET,
    export,
    rejected,
    row_counts,
    run_import,
)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def test_import_dry_run_reimport_and_refusal_on_sqlite(sqlite_engine: Engine) -> None:
    empty = row_counts(sqlite_engine)
    assert run_import(sqlite_engine, SYSTEM, CSV_SET, dry_run=True).totals.created == 22
    assert row_counts(sqlite_engine) == empty

    assert run_import(sqlite_engine, SYSTEM, YAML_SET).totals.created == 22
    stored = row_counts(sqlite_engine)
    assert not run_import(sqlite_engine, SYSTEM, CSV_SET).changed
    assert row_counts(sqlite_engine) == stored

    # A refusal in the writing phase (a cycle) takes back what went in before it.
    cycle = b"cis:\n  - {key: a, name: A, kind: server, depends_on: [b]}\n" + (
        b"  - {key: b, name: B, kind: server, depends_on: [a]}\n"
    )
    assert [e.field for e in rejected(sqlite_engine, SYSTEM, [("r.yaml", cycle)])] == ["depends_on"]
    errors = rejected(sqlite_engine, SYSTEM, [DATA / "bad" / "kommuner.csv"])
    assert [e.line for e in errors] == [2, 7]
    assert row_counts(sqlite_engine) == stored
    yaml_text = export(sqlite_engine, SYSTEM, "yaml")["fellesdrift.yaml"]
    assert "key: a\n" not in yaml_text and "key: visma\n" in yaml_text
