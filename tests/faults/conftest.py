"""Fault tests: the app served as in production (``fellesdrift serve``, its own process) on a
PostgreSQL server of the test's own, which the test stops and starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from fellesdrift.kernel.db import make_engine
from tests.rig.base import free_port
from tests.rig.stoppable import StoppablePostgres, stoppable_postgres
from tests.support.factories import Factory
from tests.support.fixtures import SECRET

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class Served:
    """``fellesdrift serve`` on loopback; everything it logs goes to ``log``."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def own_pg() -> Iterator[StoppablePostgres]:
    with stoppable_postgres() as server:
        yield server


@pytest.fixture
def own_engine(own_pg: StoppablePostgres) -> Iterator[Engine]:
    engine = make_engine(own_pg.url)
    yield engine
    engine.dispose()


@pytest.fixture
def own_make(own_engine: Engine) -> Factory:
    return Factory(own_engine)


def serve(database_url: str, workdir: Path, **env: str) -> Iterator[Served]:
    port = free_port()
    log = workdir / "serve.log"
    environment = (
        os.environ
        | {
            "FELLESDRIFT_DATABASE_URL": database_url,
            "FELLESDRIFT_SECRET_KEY": SECRET,
            "FELLESDRIFT_DATA_DIR": str(workdir / "var"),
            "FELLESDRIFT_BASE_URL": f"http://127.0.0.1:{port}",
            "FELLESDRIFT_PORT": str(port),
            "FELLESDRIFT_RUN_JOBS": "0",
        }
        | env
    )
    command = [str(Path(sys.executable).parent / "fellesdrift"), "serve"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT
        )
    served = Served(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{served.url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, served.log_text()
                assert time.monotonic() < deadline, f"no answer in 60 s\n{served.log_text()}"
                time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def served(own_pg: StoppablePostgres, tmp_path: Path) -> Iterator[Served]:
    yield from serve(own_pg.url, tmp_path)
