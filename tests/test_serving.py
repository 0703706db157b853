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


def _answering(port: int, want: int, deadline: float) -> set[int]:
    """The pids of the workers answering new connections, once ``want`` of them do."""
    answered = set[int]()
    while len(answered) < want:
        assert time.monotonic() < deadline, f"only {answered} answered"
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                answered.add(client.get("/pid").json()["pid"])
        except httpx.TransportError:
            time.sleep(0.05)
    return answered


def _workers_of(process: subprocess.Popen[bytes]) -> set[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    pids = set()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in command:
            pids.add(int(child))
    return pids


def test_a_worker_that_dies_is_replaced() -> None:
    port = free_port()
    process = _workers(port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            victim = client.get("/pid").json()["pid"]
        os.kill(victim, signal.SIGKILL)
        # New connections reach the surviving worker and, once it is up, its replacement.
        answered = _answering(port, 2, time.monotonic() + 40)
        assert victim not in answered
        assert process.poll() is None
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output


def test_a_restarted_worker_killed_again_and_again_keeps_the_server_serving() -> None:
    # A replacement that died within the old start-up grace (10 s) was taken for a broken
    # start-up, and the supervisor stopped the healthy worker too and exited 1.
    port = free_port()
    process = _workers(port)
    try:
        first = _answering(port, 2, time.monotonic() + 40)
        survivor, victim = sorted(first)
        os.kill(victim, signal.SIGKILL)
        # Its replacement served, and is killed at once: a crash after serving.
        second = _answering(port, 2, time.monotonic() + 40) - first
        assert len(second) == 1, second
        os.kill(min(second), signal.SIGKILL)
        # The next replacement is killed before it serves (while it loads the app).
        deadline, starting = time.monotonic() + 20, set[int]()
        while not starting:
            assert time.monotonic() < deadline, "no replacement was started"
            starting = _workers_of(process) - first - second
            time.sleep(0.01)
        os.kill(starting.pop(), signal.SIGKILL)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get("/pid").json()["pid"] == survivor  # never stopped for it
        # Restarted with backoff (0.5 s, then 1 s): two workers serve again.
        third = _answering(port, 2, time.monotonic() + 40)
        assert survivor in third
        assert process.poll() is None
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert "after serving" in output and "before it served" in output, output


def test_a_broken_start_up_stops_the_server_with_exit_status_1() -> None:
    command = [sys.executable, "-m", "fellesdrift.assembly.serving", "bench.bare_app:no_such_app"]
    port = free_port()
    process = subprocess.run(
        [*command, "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    output = (process.stdout + process.stderr).decode()
    assert process.returncode == 1, output
    assert "at start; stopping" in output, output
