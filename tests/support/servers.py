"""Real servers for end-to-end tests: the app under uvicorn, Prometheus, and the way both
Prometheus and Alertmanager (``tests.support.alertmanager``) are started and stopped.

Everything listens on 127.0.0.1 and is stopped by the context manager that started it.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.rig.base import free_port, missing


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, log: Callable[[], str] = lambda: ""
) -> Any:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout} s\n{log()}")
        time.sleep(0.2)


@dataclass
class Daemon:
    """A server process of ours on loopback, with the log it writes."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def wait_for(self, check: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
        name = type(self).__name__
        return wait_until(check, timeout, f"{name}: {what or 'condition'}", self.log_text)


@contextmanager
def run_daemon(argv: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` (a Prometheus-style server listening on ``port``), wait until its
    ``/-/ready`` answers, and stop it afterwards; output goes to ``log``."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def tail() -> str:
        return log.read_text(errors="replace")[-3000:]

    try:
        wait_until(lambda: _ready(url) or process.poll() is not None, 30, argv[0], tail)
        if process.poll() is not None:
            raise AssertionError(f"{argv[0]} exited:\n{tail()}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Prometheus(Daemon):
    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]


def prometheus_binary() -> str:
    path = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(path).exists():
        missing("prometheus", "prometheus")
    return path


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(promtool).exists():
        missing("promtool", "prometheus")
    return subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60
    )


@contextmanager
def run_prometheus(config_yaml: str, workdir: Path) -> Iterator[Prometheus]:
    """Start Prometheus with ``config_yaml`` in ``workdir``; stops it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(config_yaml)
    port = free_port()
    log = workdir / "prometheus.log"
    argv = [
        prometheus_binary(),
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]
    with run_daemon(argv, port, log) as process:
        yield Prometheus(f"http://127.0.0.1:{port}", process, log)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
