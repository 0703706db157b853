"""Debian's prometheus-node-exporter, from the local binary, on a loopback port: the reference the
SSH report is compared with, series by series, on the same host. Default flags only, so its
default collectors and exclusions are the ones compared."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.rig.base import free_port, missing

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


@contextlib.contextmanager
def node_exporter(directory: Path) -> Iterator[str]:
    """Yields the /metrics URL of a running node_exporter; stops it afterwards."""
    if not Path(NODE_EXPORTER).exists():
        missing("node_exporter (/usr/bin/prometheus-node-exporter)", "prometheus-node-exporter")
    port = free_port()
    log = (directory / "node_exporter.log").open("wb")
    process = subprocess.Popen(
        [
            NODE_EXPORTER,
            f"--web.listen-address=127.0.0.1:{port}",
            # The textfile directory of the machine's own node_exporter is not ours to read.
            f"--collector.textfile.directory={directory}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"node_exporter exited: {(directory / 'node_exporter.log')}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("node_exporter did not listen within 15 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def scrape(url: str) -> str:
    return httpx.get(url, timeout=10).text
