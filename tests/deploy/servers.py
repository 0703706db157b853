"""Servers for the deploy tests: a real Alertmanager, a webhook recorder, a static exposition.

Each listens on 127.0.0.1 and is stopped by the context manager that started it.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.deploy.tools import tool
from tests.rig.base import free_port


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Recorder:
    """Records every POST (the Alertmanager webhook's notifications)."""

    url: str
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Request]:
        with self.lock:
            return list(self.requests)


@contextmanager
def webhook_recorder() -> Iterator[Recorder]:
    recorder = Recorder("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            with recorder.lock:
                recorder.requests.append(Request(self.path, dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def static_exposition(text: str) -> Iterator[str]:
    """Serve ``text`` as /metrics (Prometheus text format); yields host:port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Alertmanager:
    url: str
    log: Path

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/api/v2/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_for(self, check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Alertmanager: {what} not reached in {timeout}s; log:\n"
                    f"{self.log.read_text()[-3000:]}"
                )
            time.sleep(0.2)


@contextmanager
def run_alertmanager(config: Path, workdir: Path) -> Iterator[Alertmanager]:
    """Start Debian's Alertmanager on ``config`` with clustering off; stops it afterwards."""
    binary = tool("prometheus-alertmanager", "prometheus-alertmanager")
    port = free_port()
    log = workdir / "alertmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    manager = Alertmanager(f"http://127.0.0.1:{port}", log)
    try:
        manager.wait_for(lambda: _ready(manager.url) or process.poll() is not None, 30, "ready")
        if process.poll() is not None:
            raise AssertionError(f"Alertmanager exited:\n{log.read_text()[-3000:]}")
        yield manager
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
