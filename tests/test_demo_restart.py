"""The demo command started twice on the same data, with port 9700 taken (issue 14.9): the
collector gets a free port and says which, starts once the web server answers (so it logs no
failure to read its feed), a second start prints the sign-ins again and reuses the collector's
token instead of piling up revoked ones; a taken port that was asked for is one clear line."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlmodel import Session, select

from fellesdrift.kernel.db import make_engine
from register.access import Principal, bind
from register.models import ApiToken
from tests.rig.base import free_port


@contextlib.contextmanager
def _holding(port: int) -> Iterator[bool]:
    """Keep ``port`` busy on loopback (False if something else holds it already)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        try:
            held.bind(("127.0.0.1", port))
            held.listen()
        except OSError:
            yield False
            return
        yield True


def _demo(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FELLESDRIFT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "fellesdrift.assembly.cli", "demo", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _start_and_read(tmp_path: Path) -> str:
    port = free_port()
    process = _demo(tmp_path, "--port", str(port))
    lines: list[str] = []
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    metrics: str | None = None
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            chunk = process.stdout.read() or b""
            lines += chunk.decode().splitlines()
            found = re.search(r"Collectors: (http://\S+/metrics)", "\n".join(lines))
            if found and metrics is None:
                metrics = found.group(1)
            if metrics:
                with contextlib.suppress(httpx.HTTPError):
                    body = httpx.get(metrics, timeout=2).text
                    if "probe_success" in body:
                        time.sleep(2)  # what the collector logs after its first round
                        break
            time.sleep(0.5)
        assert metrics, "\n".join(lines)
    finally:
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=60)[0] or b""
        lines += rest.decode().splitlines()
    return "\n".join(lines)


def _tokens(tmp_path: Path) -> list[ApiToken]:
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'fellesdrift.kernel.db'}")
    try:
        with bind(Session(engine), Principal.system("test")) as s:
            return list(s.exec(select(ApiToken).where(ApiToken.name == "demo-collector")))
    finally:
        engine.dispose()


def test_two_demo_starts_with_port_9700_taken(tmp_path: Path) -> None:
    with _holding(9700):
        first = _start_and_read(tmp_path)
        second = _start_and_read(tmp_path)
    for output in (first, second):
        metrics = re.search(r"Collectors: http://127\.0\.0\.1:(\d+)/metrics", output)
        assert metrics and metrics.group(1) != "9700", output
        assert "Traceback" not in output, output
        # The collector starts once the web server answers: no failure to read its feed.
        failures = [
            line
            for line in output.splitlines()
            if re.search(r"\b(ERROR|WARNING|CRITICAL)\b", line)
            and re.search(r"collector|inventory|targets|refused", line, re.I)
        ]
        assert failures == [], output
        assert "ansatt" in output and "fellesdrift-demo" in output, output
    tokens = _tokens(tmp_path)
    assert len(tokens) == 1 and tokens[0].revoked_at is None


def test_a_taken_collector_port_is_one_clear_line(tmp_path: Path) -> None:
    taken = free_port()
    with _holding(taken):
        process = _demo(tmp_path, "--port", str(free_port()), "--collector-port", str(taken))
        output = process.communicate(timeout=300)[0].decode()
    assert process.returncode == 2
    assert f"port {taken} for the collector is taken" in output
    assert "Traceback" not in output
