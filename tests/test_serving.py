"""Serving with several uvicorn workers: connections must not wait for delayed ACKs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fellesdrift.serving import _Config
from tests.rig.base import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_accepted_connections_have_nagle_off() -> None:
    # uvicorn's own socket for --workers has protocol 0, so asyncio leaves Nagle on for each
    # connection; ours sets TCP_NODELAY on the listener, and accepted connections inherit it.
    config = _Config("bench.bare_app:app", host="127.0.0.1", port=free_port(), workers=2)
    listener = config.bind_socket()
    try:
        listener.listen()
        with socket.create_connection(listener.getsockname(), timeout=5):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()


def test_several_workers_serve_and_stop() -> None:
    port = free_port()
    command = [sys.executable, "-m", "fellesdrift.serving", "bench.bare_app:app"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0].decode()
                assert time.monotonic() < deadline, "the workers did not start in 60 s"
                time.sleep(0.2)
        assert response.json() == {"status": "ok"}
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
