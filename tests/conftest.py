"""Fixtures for the whole suite. The server and database fixtures live in tests/rig/."""

from __future__ import annotations

import pytest

from tests.rig.markers import mark_by_fixtures
from tests.rig.postgres import pg_admin, pg_empty_url, pg_engine, pg_server, pg_template, pg_url
from tests.rig.sqlite import sqlite_template, sqlite_url

# App-level fixtures (settings, app, factories, signed-in clients) on top of the rig.
pytest_plugins = ["tests.support.fixtures"]

__all__ = [
    "pg_admin",
    "pg_empty_url",
    "pg_engine",
    "pg_server",
    "pg_template",
    "pg_url",
    "sqlite_template",
    "sqlite_url",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_by_fixtures(items)
