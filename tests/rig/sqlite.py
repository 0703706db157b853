"""SQLite, the embedded default: a fresh migrated database file per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fellesdrift.assembly.migrations import upgrade


def sqlite_url_for(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated to head once per session; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "fellesdrift.kernel.db"
    upgrade(sqlite_url_for(path))
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "fellesdrift.kernel.db"
    shutil.copyfile(sqlite_template, path)
    return sqlite_url_for(path)
