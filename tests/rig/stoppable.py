"""A PostgreSQL server of a test's own, which the test stops and starts again (fault tests).

Always the local binaries (Debian package ``postgresql``): the test controls the process with
``pg_ctl``. Unlike the suite's shared server, commits are durable across a crash of the server
(``synchronous_commit`` on): a fault test asserts that nothing acknowledged is lost.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine

from fellesdrift.assembly.migrations import upgrade
from tests.rig.base import is_root, missing
from tests.rig.postgres import (
    INITDB_FLAGS,
    PG_ROOT,
    SERVER_SETTINGS,
    PostgresServer,
    _make_workdir,
    _run,
    _start,
    create_database,
    find_bindir,
)


@dataclass
class StoppablePostgres:
    """A running server and a database migrated to head (``url``); ``stop`` and ``start``."""

    server: PostgresServer
    url: str
    pg_ctl: Path
    data: Path
    log: Path

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session (as ``systemctl stop``); ``immediate`` is a crash."""
        _run(self.pg_ctl, "-D", self.data, "-m", mode, "-w", "stop")

    def start(self) -> None:
        port = self.server.port
        _run(self.pg_ctl, "-D", self.data, "-l", self.log, "-o", f"-p {port}", "-w", "start")


@contextmanager
def stoppable_postgres() -> Iterator[StoppablePostgres]:
    bindir = find_bindir()
    if bindir is None:
        missing(f"PostgreSQL server binaries ({PG_ROOT}/<version>/bin)", "postgresql")
    workdir = _make_workdir()
    data, log, pwfile = workdir / "data", workdir / "server.log", workdir / "pwfile"
    password = secrets.token_hex(16)
    try:
        pwfile.write_text(password)
        if is_root():
            shutil.chown(pwfile, "postgres", "postgres")
        _run(bindir / "initdb", "-D", data, "-U", "postgres", f"--pwfile={pwfile}", *INITDB_FLAGS)
        settings = {
            **SERVER_SETTINGS,
            "synchronous_commit": "on",
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{workdir}'",
        }
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# fellesdrift test rig (stoppable)\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        port = _start(bindir / "pg_ctl", data, log)
        server = PostgresServer("127.0.0.1", port, "postgres", password)
        running = StoppablePostgres(server, server.url("fellesdrift"), bindir / "pg_ctl", data, log)
        try:
            admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
            try:
                create_database(admin, "fellesdrift")
            finally:
                admin.dispose()
            upgrade(running.url)
            yield running
        finally:
            with suppress(RuntimeError):  # the test may have left it stopped
                running.stop("immediate")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
