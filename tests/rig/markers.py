"""Markers derived from the fixtures a test uses, so `-m postgres` / `-m sqlite` select them."""

from __future__ import annotations

import pytest

POSTGRES_FIXTURES = frozenset(
    {"pg_server", "pg_admin", "pg_template", "pg_url", "pg_empty_url", "pg_engine"}
)
SQLITE_FIXTURES = frozenset({"sqlite_template", "sqlite_url"})


def mark_by_fixtures(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & POSTGRES_FIXTURES:
            item.add_marker(pytest.mark.postgres)
        if used & SQLITE_FIXTURES:
            item.add_marker(pytest.mark.sqlite)
