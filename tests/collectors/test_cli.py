"""The console entry point, run as a process: serves /metrics, reloads on SIGHUP, stops on TERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from collectors.cli import main
from tests.collectors.helpers import families, wait_for
from tests.collectors.servers import HTTPTarget
from tests.rig.base import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def process_args(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def metric_instances(url: str) -> set[str]:
    try:
        found = families(url)
    except OSError:
        return set()
    family = found.get("probe_success")
    return {s.labels["instance"] for s in family.samples} if family else set()


def test_serves_reloads_and_stops(
    tmp_path: Path, http_target: HTTPTarget, process_args: list[subprocess.Popen[bytes]]
) -> None:
    targets = tmp_path / "targets.yaml"
    first = {"target": http_target.url("/"), "probe": "http", "interval_seconds": 1}
    targets.write_text(yaml.safe_dump({"targets": [first]}))
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "collectors.cli",
        "--targets-file",
        str(targets),
        "--listen",
        f"127.0.0.1:{port}",
        "--shard",
        "0/1",
        "--log-level",
        "WARNING",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    process_args.append(process)
    url = f"http://127.0.0.1:{port}/metrics"
    wait_for(lambda: metric_instances(url) == {http_target.url("/")}, timeout=20)

    second = {"target": http_target.address, "probe": "tcp", "interval_seconds": 1}
    targets.write_text(yaml.safe_dump({"targets": [first, second]}))
    process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: metric_instances(url) == {http_target.url("/"), http_target.address}, timeout=5
    )

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert process.stdout is not None
    output = process.stdout.read().decode()
    assert "Traceback" not in output


def test_print_ssh_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--print-ssh-command", "nginx.service", "cron.service"]) == 0
    printed = capsys.readouterr().out
    assert "systemctl show" in printed and "'nginx.service' 'cron.service'" not in printed
    assert "nginx.service cron.service" in printed
    assert main(["--print-ssh-command", "nginx; reboot"]) == 2


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--shard", "2/2", "--targets-file", "x"])
    assert exited.value.code == 2
    assert "shard" in capsys.readouterr().err
    assert main(["--listen", "9700", "--targets-file", "x"]) == 2
    assert main([]) == 2
