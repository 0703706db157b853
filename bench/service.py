"""The collector as a service against blackbox_exporter as a service (issue 17, item 1).

    python -m bench.service --rounds 5                  # the figures for BENCHMARKS.md
    python -m bench.service --small                     # the smoke run CI does

Both sides run as their users run them, on the same loopback targets (nginx, one worker,
keep-alive off, so every probe is a fresh connection on both sides) at the same rate:

* **ours**: ``python -m collectors.cli`` (its scheduler, adaptive pool, ``/metrics``) with a
  targets file, scraped by its own Prometheus every interval (``honor_labels``);
* **peer**: Debian's prometheus-blackbox-exporter (stock ``http_2xx``/``tcp_connect``), driven
  by its own Prometheus scraping ``/probe`` for each target every interval (the relabelling of
  blackbox's README): each probe is one scrape.

**CPU per probe** (steady state: ``--targets`` at ``--interval``): user + system CPU of the
service process (and its workers) over a window, over the probes done in it (ours: the growth
of ``sum(fellesdrift_collector_polls_total)`` in Prometheus; peer: the scrapes of the probe job,
``count_over_time(up[window])``). Prometheus's own CPU is counted for neither.
**Throughput at saturation**: ours polls ``--saturation-targets`` HTTP targets at a 1 s interval,
more than it can do, with ``--workers`` processes; the figure is polls done per second. The peer
is driven by wrk (closed loop, ``--wrk-connections``, default 256) on ``/probe``; the figure is
probes answered per second. Both report their CPU (percent of one core) too. **RSS** is the
service's resident memory (workers included) at the end of the steady-state window.
Rounds alternate which side goes first; each figure is the median of the per-round ratios
ours/peer with their range.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import loopback
from bench.loopback import blackbox, cpu_seconds, free_port, nginx, stop, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
MODULES = {"http": "http_2xx", "tcp": "tcp_connect"}


def _family(pid: int) -> list[int]:
    """``pid`` and its live children (the collector's workers)."""
    found = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            total += cpu_seconds(pid)
    return total


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def prometheus(directory: Path, jobs: list[dict[str, object]]) -> Any:
    """A Prometheus on loopback with these scrape jobs, every 15 s; yields its URL."""
    return loopback.prometheus(
        directory, {"global": {"scrape_interval": "15s"}, "scrape_configs": jobs}
    )


def query(url: str, expr: str, at: float) -> float:
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": str(at)}, timeout=30)
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


@contextlib.contextmanager
def collector(
    directory: Path, targets: list[str], kind: str, interval: float, workers: int
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    path = directory / "targets.yaml"
    entries = [{"target": t, "probe": kind} for t in targets]
    layout = {"defaults": {"interval_seconds": interval, "timeout_seconds": 5}, "targets": entries}
    path.write_text(yaml.safe_dump(layout))
    port = free_port()
    command = [sys.executable, "-m", "collectors.cli", "--targets-file", str(path)]
    command += ["--listen", f"127.0.0.1:{port}", "--log-level", "ERROR", "--workers", str(workers)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, process, "collector", timeout=120)  # workers load the targets
        yield process, port
    finally:
        stop(process)


@dataclass
class Steady:
    kind: str
    targets: int
    ours_cpu: list[float] = field(default_factory=list)  # CPU seconds per probe
    peer_cpu: list[float] = field(default_factory=list)
    ours_rss: list[float] = field(default_factory=list)  # MiB
    peer_rss: list[float] = field(default_factory=list)
    ours_probes: list[float] = field(default_factory=list)  # probes in the window
    peer_probes: list[float] = field(default_factory=list)
    ours_duration: list[float] = field(default_factory=list)  # probe_duration_seconds, median
    peer_duration: list[float] = field(default_factory=list)


@dataclass
class Saturation:
    ours: dict[int, list[float]] = field(default_factory=dict)  # probes/s, by --workers
    ours_cpu: dict[int, list[float]] = field(default_factory=dict)  # percent of one core
    peer: list[float] = field(default_factory=list)
    peer_cpu: list[float] = field(default_factory=list)


def _addresses(kind: str, ports: list[int], count: int) -> list[str]:
    if kind == "http":
        return [f"http://127.0.0.1:{ports[i % len(ports)]}/t{i}" for i in range(count)]
    return [f"127.0.0.1:{ports[i]}" for i in range(count)]  # one port per tcp target


def _ours_steady(
    tmp: Path, kind: str, targets: list[str], interval: float, window: float, workers: int
) -> tuple[float, float, float, float]:
    with contextlib.ExitStack() as stack:
        process, port = stack.enter_context(collector(tmp, targets, kind, interval, workers))
        job: dict[str, object] = {
            "job_name": "collector",
            "honor_labels": True,
            "scrape_interval": f"{interval:g}s",
            "scrape_timeout": f"{min(interval, 10):g}s",
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
        }
        url = stack.enter_context(prometheus(tmp / "prom-ours", [job]))
        time.sleep(interval * 2 + 2)  # every target polled, the first scrapes in
        pids = _family(process.pid)
        started, before = time.time(), cpu(pids)
        time.sleep(window)
        spent, ended = cpu(pids) - before, time.time()
        time.sleep(interval + 1)  # the scrape that saw the window's end
        polls = "sum(fellesdrift_collector_polls_total)"
        done = query(url, polls, ended) - query(url, polls, started)
        return spent / max(done, 1), rss_mib(pids), done, _duration(url, started, ended)


def _peer_steady(
    tmp: Path,
    exporter: subprocess.Popen[bytes],
    port: int,
    kind: str,
    targets: list[str],
    interval: float,
    window: float,
) -> tuple[float, float, float, float]:
    job: dict[str, object] = {
        "job_name": "blackbox",
        "scrape_interval": f"{interval:g}s",
        "scrape_timeout": f"{min(interval, 5):g}s",
        "metrics_path": "/probe",
        "params": {"module": [MODULES[kind]]},
        "static_configs": [{"targets": targets}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": f"127.0.0.1:{port}"},
        ],
    }
    with prometheus(tmp / "prom-peer", [job]) as url:
        time.sleep(interval * 2 + 2)
        started, before = time.time(), cpu_seconds(exporter.pid)
        time.sleep(window)
        spent, ended = cpu_seconds(exporter.pid) - before, time.time()
        time.sleep(1)
        done = query(
            url, f'sum(count_over_time(up{{job="blackbox"}}[{ended - started:.0f}s]))', ended
        )
        return spent / max(done, 1), rss_mib([exporter.pid]), done, _duration(url, started, ended)


def _duration(url: str, started: float, ended: float) -> float:
    """The median over targets of each target's mean probe_duration_seconds in the window."""
    expr = f"quantile(0.5, avg_over_time(probe_duration_seconds[{ended - started:.0f}s]))"
    return query(url, expr, ended)


def _ours_saturation(
    tmp: Path, targets: list[str], window: float, workers: int
) -> tuple[float, float]:
    # As Prometheus would; 1 s only for the smoke run (a 1 s scrape of thousands of targets
    # outlasts its own timeout, and the run then counts no polls at all).
    scrape = 15 if window >= 10 else 1
    with collector(tmp, targets, "http", 1, workers) as (process, port):
        job: dict[str, object] = {
            "job_name": "collector",
            "honor_labels": True,
            "scrape_interval": f"{scrape}s",
            "scrape_timeout": f"{scrape}s",
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
        }
        with prometheus(tmp / "prom-sat", [job]) as url:
            time.sleep(scrape + 4)  # the first scrapes in before the window starts
            pids = _family(process.pid)
            started, before = time.time(), cpu(pids)
            time.sleep(window)
            spent, ended = cpu(pids) - before, time.time()
            time.sleep(scrape + 1)
            polls = "sum(fellesdrift_collector_polls_total)"
            done = query(url, polls, ended) - query(url, polls, started)
            return done / (ended - started), spent / (ended - started) * 100


def _peer_saturation(
    exporter: subprocess.Popen[bytes], port: int, target: str, window: float, connections: int
) -> tuple[float, float]:
    """wrk on /probe: with 64 connections on a loaded machine blackbox waited on latency (about
    half a core busy), so the closed loop needs enough connections to keep it busy."""
    wrk = shutil.which("wrk") or "/usr/bin/wrk"
    url = f"http://127.0.0.1:{port}/probe?module=http_2xx&target={target}"
    before, started = cpu_seconds(exporter.pid), time.time()
    result = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{window:.0f}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.time() - started
    spent = cpu_seconds(exporter.pid) - before
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None or "Non-2xx" in result.stdout:
        raise RuntimeError(f"wrk against blackbox failed:\n{result.stdout}")
    return float(match.group(1)), spent / elapsed * 100


def measure(
    rounds: int,
    targets: tuple[int, ...],
    interval: float,
    window: float,
    saturation_targets: int,
    saturation_window: float,
    workers: int,
    kinds: tuple[str, ...] = tuple(MODULES),
    saturation_workers: tuple[int, ...] = (1, 2),
    progress: Callable[[list[Steady], Saturation, int], object] | None = None,
    wrk_connections: int = 256,
) -> tuple[list[Steady], Saturation]:
    steady = [Steady(kind, n) for kind in kinds for n in targets]
    saturation = Saturation()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-service-")))
        ports = _ports(max((*targets, 4)))
        stack.enter_context(nginx(tmp, ports))
        exporter_port = free_port()
        exporter = stack.enter_context(blackbox(tmp, exporter_port))
        for number in range(rounds):
            for figures in steady:
                addresses = _addresses(figures.kind, ports, figures.targets)
                sides = [
                    lambda d=figures, a=addresses: _record(
                        d, "ours", _ours_steady(_fresh(tmp), d.kind, a, interval, window, workers)
                    ),
                    lambda d=figures, a=addresses: _record(
                        d,
                        "peer",
                        _peer_steady(
                            _fresh(tmp), exporter, exporter_port, d.kind, a, interval, window
                        ),
                    ),
                ]
                for side in sides if number % 2 == 0 else sides[::-1]:
                    side()
            if saturation_targets:
                sat = _addresses("http", ports, saturation_targets)
                for count in saturation_workers:
                    ours = _ours_saturation(_fresh(tmp), sat, saturation_window, count)
                    saturation.ours.setdefault(count, []).append(ours[0])
                    saturation.ours_cpu.setdefault(count, []).append(ours[1])
                peer = _peer_saturation(
                    exporter, exporter_port, sat[0], saturation_window, wrk_connections
                )
                saturation.peer.append(peer[0])
                saturation.peer_cpu.append(peer[1])
            if progress is not None:
                progress(steady, saturation, number + 1)
    return steady, saturation


def _ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (free_port may hand out one twice)."""
    found: dict[int, None] = {}
    while len(found) < count:
        found[free_port()] = None
    return list(found)


_counter = iter(range(10**9))


def _fresh(tmp: Path) -> Path:
    path = tmp / f"run{next(_counter)}"
    path.mkdir()
    return path


def _record(figures: Steady, side: str, result: tuple[float, float, float, float]) -> None:
    per_probe, rss, done, duration = result
    getattr(figures, f"{side}_duration").append(duration)
    getattr(figures, f"{side}_cpu").append(per_probe)
    getattr(figures, f"{side}_rss").append(rss)
    getattr(figures, f"{side}_probes").append(done)


def _range(values: list[float], fmt: str = ".2f") -> str:
    return (
        f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"
        if values
        else "-"
    )


def report(steady: list[Steady], saturation: Saturation, rounds: int, workers: int) -> str:
    lines = [
        f"{rounds} rounds, --workers {workers}; median (range) of per-round figures",
        "",
        "| kind | targets | CPU/probe ours ms | CPU/probe blackbox ms | ratio ours/blackbox "
        "| RSS ours MiB | RSS blackbox MiB | RSS ratio | probe_duration_seconds ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in steady:
        ratio = [o / p for o, p in zip(f.ours_cpu, f.peer_cpu, strict=True)]
        rss = [o / p for o, p in zip(f.ours_rss, f.peer_rss, strict=True)]
        took = [o / p for o, p in zip(f.ours_duration, f.peer_duration, strict=True) if p]
        lines.append(
            f"| {f.kind} | {f.targets} | {_range([v * 1000 for v in f.ours_cpu], '.3f')} "
            f"| {_range([v * 1000 for v in f.peer_cpu], '.3f')} | {_range(ratio)} "
            f"| {_range(f.ours_rss, '.0f')} | {_range(f.peer_rss, '.0f')} | {_range(rss)} "
            f"| {_range(took)} |"
        )
    if saturation.peer:
        lines += ["", "| saturation (http) | probes/s | CPU % of one core | ratio ours/blackbox |"]
        lines.append("| --- | --- | --- | --- |")
        for count, done in sorted(saturation.ours.items()):
            ratio = [o / p for o, p in zip(done, saturation.peer, strict=True)]
            lines.append(
                f"| ours, --workers {count} | {_range(done, '.0f')} "
                f"| {_range(saturation.ours_cpu[count], '.0f')} | {_range(ratio)} |"
            )
        lines.append(
            f"| blackbox | {_range(saturation.peer, '.0f')} "
            f"| {_range(saturation.peer_cpu, '.0f')} | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.service", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--targets", default="200,1000", help="steady-state target counts")
    p.add_argument("--interval", type=float, default=15)
    p.add_argument("--window", type=float, default=60)
    p.add_argument("--saturation-targets", type=int, default=4000)
    p.add_argument("--saturation-window", type=float, default=30)
    p.add_argument("--workers", type=int, default=1, help="--workers of the steady-state runs")
    p.add_argument(
        "--saturation-workers", default=f"1,{os.cpu_count() or 1}", help="--workers to try"
    )
    p.add_argument("--kinds", default="http,tcp")
    p.add_argument("--wrk-connections", type=int, default=256)
    p.add_argument("--small", action="store_true", help="the CI smoke size")
    args = p.parse_args(argv)
    if args.small:
        args.rounds, args.targets, args.interval, args.window = 1, "10", 1, 2
        args.saturation_targets, args.saturation_window, args.kinds = 50, 2, "http"
        args.saturation_workers = "2"
    counts = tuple(int(n) for n in args.targets.split(",") if n)
    steady, saturation = measure(
        args.rounds,
        counts,
        args.interval,
        args.window,
        args.saturation_targets,
        args.saturation_window,
        args.workers,
        tuple(args.kinds.split(",")),
        tuple(int(n) for n in args.saturation_workers.split(",")),
        lambda s, t, n: sys.stderr.write(f"after round {n}:\n{report(s, t, n, args.workers)}\n"),
        args.wrk_connections,
    )
    sys.stdout.write(report(steady, saturation, args.rounds, args.workers) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
