"""Serving with several uvicorn workers: connections must not wait for delayed ACKs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fellesdrift.assembly.serving import GC_THRESHOLDS, _Config
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


def _workers(port: int, workers: int = 2) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "fellesdrift.assembly.serving", "bench.bare_app:app"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return process
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < deadline, "the workers did not start in 60 s"
            time.sleep(0.2)


def test_several_workers_serve_and_stop() -> None:
    port = free_port()
    process = _workers(port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert response.json() == {"status": "ok"}
        # What loading made is frozen (the collector's full passes skip it) and the young
        # generation is collected every GC_THRESHOLDS[0] objects, not every 700.
        worker = httpx.get(f"http://127.0.0.1:{port}/pid", timeout=5).json()
        assert worker["gc_frozen"] > 10_000, worker
        assert tuple(worker["gc"]) == GC_THRESHOLDS
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output


def test_connections_are_spread_over_the_workers() -> None:
    # uvicorn's shared socket let the first worker to wake accept a whole burst of
    # connections; with a socket per worker (SO_REUSEPORT) the kernel spreads them. 24
    # connections opened at once all landing on one of 2 workers by chance: p = 2^-23.
    port = free_port()
    process = _workers(port)
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) for _ in range(24)]
    try:
        for client in clients:  # open every connection before any is used twice
            client.get("/healthz")
        pids = [client.get("/pid").json()["pid"] for client in clients]
        assert len(set(pids)) == 2, pids
        # Keep-alive: a connection stays with its worker.
        assert [client.get("/pid").json()["pid"] for client in clients] == pids
    finally:
        for client in clients:
            client.close()
        process.terminate()
        process.communicate(timeout=30)


def test_a_worker_that_dies_is_replaced() -> None:
    port = free_port()
    process = _workers(port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            victim = client.get("/pid").json()["pid"]
        time.sleep(10.5)  # past the start-up grace: a later death is a crash, not a bad start
        os.kill(victim, signal.SIGKILL)
        # New connections reach the surviving worker and, once it is up, its replacement.
        deadline, answered = time.monotonic() + 40, set[int]()
        while len(answered) < 2:
            assert time.monotonic() < deadline, f"no replacement for worker {victim}: {answered}"
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                    answered.add(client.get("/pid").json()["pid"])
            except httpx.TransportError:
                time.sleep(0.1)
        assert victim not in answered
        assert process.poll() is None
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
