"""A PostgreSQL server of a test's own, which the test stops and starts again (fault tests).

Always the local binaries (Debian package ``postgresql``): the test controls the process with
``pg_ctl``. Unlike the suite's shared server, commits are durable across a crash of the server
(``synchronous_commit`` on): a fault test asserts that nothing acknowledged is lost.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine

from fellesdrift.assembly.migrations import upgrade
from tests.rig.postgres import PostgresServer, _run, create_database, new_cluster


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
    cluster = new_cluster(" (stoppable)", synchronous_commit="on")
    server = PostgresServer("127.0.0.1", cluster.port, "postgres", cluster.password)
    running = StoppablePostgres(
        server, server.url("fellesdrift"), cluster.pg_ctl, cluster.data, cluster.log
    )
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
        shutil.rmtree(cluster.workdir, ignore_errors=True)
