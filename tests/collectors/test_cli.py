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


def _children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from any of its threads), zombies left out."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_workers_split_the_shard_and_serve_one_exposition(
    tmp_path: Path, http_target: HTTPTarget, process_args: list[subprocess.Popen[bytes]]
) -> None:
    """--workers 2: two processes poll disjoint parts of the targets; the supervisor serves
    every target once, the collector's own series per worker, and restarts a worker that dies."""
    targets = tmp_path / "targets.yaml"
    entries = [
        {"target": http_target.url(f"/?w={i}"), "probe": "http", "interval_seconds": 1}
        for i in range(40)
    ]
    targets.write_text(yaml.safe_dump({"targets": entries}))
    port = free_port()
    command = [sys.executable, "-m", "collectors.cli", "--targets-file", str(targets)]
    command += ["--listen", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "WARNING"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    process_args.append(process)
    url = f"http://127.0.0.1:{port}/metrics"
    wanted = {e["target"] for e in entries}
    wait_for(lambda: metric_instances(url) == wanted, timeout=30)
    found = families(url)
    success = [s for s in found["probe_success"].samples]
    assert len(success) == 40 and all(s.value == 1 for s in success)  # each target once
    counts = found["fellesdrift_collector_targets"].samples
    per_worker = {s.labels["worker"]: s.value for s in counts}
    assert set(per_worker) == {"0", "1"} and sum(per_worker.values()) == 40
    assert min(per_worker.values()) >= 8  # an even split of 40, give or take
    up = {s.labels["worker"]: s.value for s in found["fellesdrift_collector_worker_up"].samples}
    assert up == {"0": 1, "1": 1}

    workers = _children(process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    wait_for(lambda: len(set(_children(process.pid)) - set(workers)) == 1, timeout=10)
    wait_for(lambda: metric_instances(url) == wanted, timeout=30)

    seen = set(workers) | set(_children(process.pid))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert not [pid for pid in seen if Path(f"/proc/{pid}").exists()]  # the workers stopped
    assert process.stdout is not None
    assert "Traceback" not in process.stdout.read().decode()


def test_workers_stop_when_the_supervisor_is_killed(
    tmp_path: Path, http_target: HTTPTarget, process_args: list[subprocess.Popen[bytes]]
) -> None:
    """A supervisor killed outright (SIGKILL, OOM) cannot stop its workers: they notice that
    their parent is gone and stop, rather than poll on with nobody serving their results."""
    targets = tmp_path / "targets.yaml"
    entry = {"target": http_target.url("/"), "probe": "http", "interval_seconds": 1}
    targets.write_text(yaml.safe_dump({"targets": [entry]}))
    port = free_port()
    command = [sys.executable, "-m", "collectors.cli", "--targets-file", str(targets)]
    command += ["--listen", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "ERROR"]
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL
    )
    process_args.append(process)
    url = f"http://127.0.0.1:{port}/metrics"
    wait_for(lambda: metric_instances(url) == {http_target.url("/")}, timeout=30)
    workers = _children(process.pid)
    assert len(workers) == 2
    process.kill()
    process.wait()
    wait_for(lambda: not [p for p in workers if Path(f"/proc/{p}").exists()], timeout=15)
