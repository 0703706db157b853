"""PostgreSQL for the suite: one server per test session, one fresh database per test.

The server is a testcontainers container when a Docker engine is reachable, otherwise the
locally installed binaries (Debian package ``postgresql``) run in a temporary directory. Each
test gets a copy of ``fellesdrift_template``, a database migrated to head once per session;
copying a template is much cheaper than migrating or truncating. Under pytest-xdist every
worker runs its own server, so database names never clash.

Run a command against a scratch database migrated to head (used to autogenerate migrations):

    python -m tests.rig.postgres alembic -c fellesdrift/assembly/migrations/alembic.ini check
"""

from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, create_engine

from fellesdrift.assembly.migrations import upgrade
from fellesdrift.kernel.db import make_engine
from tests.rig.base import docker_reachable, free_port, is_root, missing, worker_id

TEMPLATE = "fellesdrift_template"
PG_ROOT = Path("/usr/lib/postgresql")
DOCKER_IMAGE = "postgres:15"  # the major version of Debian 12, as on the local-binary path
# Trust would do on loopback, but other users of a shared machine could then connect.
INITDB_FLAGS = [
    "--auth=scram-sha-256",
    "--encoding=UTF8",
    "--locale=C.UTF-8",
    "--no-sync",
    "--no-instructions",
]
# Durability is worth nothing in a throw-away server; turning it off makes DDL-heavy tests and
# CREATE DATABASE much faster. Enough connections for several engines per test.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


@dataclass(frozen=True)
class PostgresServer:
    """A running server; ``url(dbname)`` gives a SQLAlchemy URL for one of its databases."""

    host: str
    port: int
    user: str
    password: str

    def url(self, dbname: str) -> str:
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=dbname,
        ).render_as_string(hide_password=False)

    @property
    def admin_url(self) -> str:
        return self.url("postgres")


def find_bindir() -> Path | None:
    """The ``bin`` folder of the newest installed major version, e.g. /usr/lib/postgresql/15/bin."""
    versions = [p.parent for p in PG_ROOT.glob("*/bin/initdb") if p.parent.parent.name.isdigit()]
    return max(versions, key=lambda b: int(b.parent.name), default=None)


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; the Debian package creates the `postgres` user.
    return ["runuser", "-u", "postgres", "--", *argv] if is_root() else argv


def _run(tool: Path, *args: str | Path) -> None:
    argv = [str(tool), *map(str, args)]
    # cwd "/": the caller's working directory may be closed to `postgres`.
    result = subprocess.run(_as_postgres(argv), cwd="/", capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _scratch_base() -> str:
    # A throw-away server needs no disk. On tmpfs a per-test CREATE DATABASE takes ~10 ms
    # instead of ~150 ms; fall back to /tmp where /dev/shm is missing or small (containers).
    shm = Path("/dev/shm")  # noqa: S108  (a private mkdtemp folder is made inside)
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2**30:
        return str(shm)
    # Not $TMPDIR or pytest's temporary folders when root: they may be closed to `postgres`.
    return "/tmp" if is_root() else tempfile.gettempdir()  # noqa: S108  (as above)


def _make_workdir() -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="fellesdrift-pg-", dir=_scratch_base()))
    if is_root():
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(workdir)
            missing("The system user `postgres`", "postgresql")
        os.chown(workdir, owner.pw_uid, owner.pw_gid)
    return workdir


def _start(pg_ctl: Path, data: Path, log: Path) -> int:
    """Start the server on a free port; retry in case another process took the port first."""
    failure = ""
    for _attempt in range(3):
        port = free_port()
        try:
            _run(pg_ctl, "-D", data, "-l", log, "-o", f"-p {port}", "-w", "-t", "60", "start")
            return port
        except RuntimeError as exc:
            failure = f"{exc}\n--- server log ---\n{log.read_text(errors='replace')[-3000:]}"
    raise RuntimeError(failure)


@dataclass
class Cluster:
    """A cluster made by :func:`new_cluster`, running: its folders, binaries and superuser."""

    workdir: Path
    bindir: Path
    data: Path
    log: Path
    port: int
    password: str

    @property
    def pg_ctl(self) -> Path:
        return self.bindir / "pg_ctl"


def new_cluster(label: str, **settings: str) -> Cluster:
    """initdb a cluster from the local binaries in a new temporary folder, with the rig's
    server settings (and ``settings`` over them), and start it on a free loopback port. The
    caller stops it and removes ``workdir``."""
    bindir = find_bindir()
    if bindir is None:
        missing(f"PostgreSQL server binaries ({PG_ROOT}/<version>/bin)", "postgresql")
    workdir = _make_workdir()
    data, log, pwfile = workdir / "data", workdir / "server.log", workdir / "pwfile"
    password = secrets.token_hex(16)
    try:
        # Written by us, then handed to `postgres`; mkdtemp made the folder private (0700).
        pwfile.write_text(password)
        if is_root():
            shutil.chown(pwfile, "postgres", "postgres")
        _run(bindir / "initdb", "-D", data, "-U", "postgres", f"--pwfile={pwfile}", *INITDB_FLAGS)
        chosen = {
            **SERVER_SETTINGS,
            **settings,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{workdir}'",
        }
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# fellesdrift test rig{label}\n")
            conf.writelines(f"{key} = {value}\n" for key, value in chosen.items())
        port = _start(bindir / "pg_ctl", data, log)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Cluster(workdir, bindir, data, log, port, password)


@contextmanager
def local_postgres() -> Iterator[PostgresServer]:
    """A server from the local binaries in a temporary directory, removed afterwards."""
    cluster = new_cluster("")
    try:
        yield PostgresServer("127.0.0.1", cluster.port, "postgres", cluster.password)
    finally:
        _run(cluster.pg_ctl, "-D", cluster.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(cluster.workdir, ignore_errors=True)


@contextmanager
def docker_postgres() -> Iterator[PostgresServer]:
    """A server in a container (testcontainers), removed afterwards."""
    # testcontainers deprecates parts of its own API internally; the suite turns warnings into
    # errors, so its warnings are silenced here and only here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.community.postgres import PostgresContainer

        password = secrets.token_hex(16)
        flags = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
        container = PostgresContainer(
            DOCKER_IMAGE, username="postgres", password=password, dbname="postgres", driver=None
        ).with_command(f"postgres {flags}")
        # As on the local path: a data directory in memory makes CREATE DATABASE ~10x faster.
        container.with_kwargs(tmpfs={"/var/lib/postgresql/data": "rw"})
        container.start()
    try:
        host, port = container.get_container_host_ip(), int(container.get_exposed_port(5432))
        yield PostgresServer(host, port, "postgres", password)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            container.stop()


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = docker_postgres() if docker_reachable() else local_postgres()
    with server as running:
        yield running


def create_database(admin: Engine, name: str, template: str = "template0") -> None:
    with admin.connect() as connection:
        # FILE_COPY copies the files after a checkpoint, which is cheap with fsync off; the
        # default WAL_LOG strategy (PostgreSQL 15+) writes the whole template through the WAL.
        version = connection.dialect.server_version_info or (0,)
        strategy = " STRATEGY FILE_COPY" if version >= (15,) else ""
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')


def drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        # FORCE ends connections a test left open, so they cannot keep the database alive.
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_numbers = itertools.count(1)


@contextmanager
def fresh_database(server: PostgresServer, admin: Engine, template: str) -> Iterator[str]:
    name = f"test_{worker_id()}_{next(_numbers)}"
    create_database(admin, name, template)
    try:
        yield server.url(name)
    finally:
        drop_database(admin, name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def pg_admin(pg_server: PostgresServer) -> Iterator[Engine]:
    engine = create_engine(pg_server.admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer, pg_admin: Engine) -> str:
    create_database(pg_admin, TEMPLATE)
    upgrade(pg_server.url(TEMPLATE))
    with pg_admin.connect() as connection:
        # A connection to a template makes CREATE DATABASE ... TEMPLATE fail; forbid them.
        connection.exec_driver_sql(
            f"ALTER DATABASE {TEMPLATE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
        )
    return TEMPLATE


@pytest.fixture
def pg_url(pg_server: PostgresServer, pg_admin: Engine, pg_template: str) -> Iterator[str]:
    with fresh_database(pg_server, pg_admin, pg_template) as url:
        yield url


@pytest.fixture
def pg_empty_url(pg_server: PostgresServer, pg_admin: Engine) -> Iterator[str]:
    with fresh_database(pg_server, pg_admin, "template0") as url:
        yield url


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def main(argv: list[str]) -> int:
    """Run ``argv`` with FELLESDRIFT_DATABASE_URL set to a scratch database migrated to head."""
    if not argv:
        sys.stderr.write(f"usage: python -m tests.rig.postgres COMMAND [ARG...]\n{__doc__}")
        return 2
    with postgres_server() as server:
        admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        try:
            create_database(admin, "scratch")
        finally:
            admin.dispose()
        upgrade(server.url("scratch"))
        env = {
            **os.environ,
            "FELLESDRIFT_DATABASE_URL": server.url("scratch"),
            "FELLESDRIFT_SECRET_KEY": secrets.token_urlsafe(48),
        }
        return subprocess.run(argv, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
