"""5,000 HTTP targets at a 60 s interval: how many polls start late or not at all.

    python -m bench.schedule_load                                  # 5000 targets, 60 s, 3 intervals
    python -m bench.schedule_load --targets 5000 --interval 60 --intervals 3
    python -m bench.schedule_load --small                          # the smoke run CI does

The real collector (``python -m collectors.cli`` with a targets file, default concurrency)
polls N HTTP targets spread over a few nginx ports on 127.0.0.1 (each target its own URL), while
this harness scrapes ``/metrics`` every ``--scrape-interval`` seconds as Prometheus would (a
scrape renders every target's series, and its CPU competes with the polls).

A poll is **late** if it started more than ``--late`` seconds (default 1 s) after its slot (the
target's fixed offset in its interval): the collector's own histogram
``fellesdrift_collector_scheduler_lag_seconds`` counts those. A poll is **not run** if a slot
passed without a poll: the larger of the scheduler's own skip counters
(``fellesdrift_collector_polls_skipped_total``) and the slots counted from outside (each target's
slots between the first scrape and the end, less a timeout's margin, against the growth of its
``fellesdrift_collector_polls_total``). The figure is (late + not run) / (polls + not run), over
every poll since the collector started, the start-up storm included.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from bench.loopback import cpu_seconds, free_port, nginx, stop, wait_for_port
from collectors.sharding import phase

ROOT = Path(__file__).resolve().parent.parent
P = "fellesdrift_collector_"
SAMPLE = re.compile(r"^([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)$")
INSTANCE = re.compile(r'instance="([^"]*)"')


@dataclass
class Outcome:
    targets: int
    interval: float
    seconds: float  # measured wall time
    polls: int  # polls started (the lag histogram's count)
    late: int  # started more than `late` seconds after the slot
    skipped: int  # the scheduler's own count of polls that did not run
    missing: int  # slots without a poll, counted from outside
    failed: int  # polls that ran and failed (should be none: the targets are healthy)
    lag_sum: float
    cpu: float  # the collector's CPU seconds over the run
    scrapes: int
    scrape_seconds: float  # slowest scrape, wall time
    timeline: list[tuple[int, int]]  # (polls started, late) at each scrape, cumulative

    @property
    def not_run(self) -> int:
        return max(self.skipped, self.missing)

    @property
    def late_percent(self) -> float:
        total = self.polls + self.not_run
        return 100.0 * (self.late + self.not_run) / total if total else 100.0


def targets_file(path: Path, ports: list[int], count: int, interval: float) -> list[str]:
    urls = [f"http://127.0.0.1:{ports[i % len(ports)]}/t/{i}" for i in range(count)]
    layout = {
        "defaults": {"interval_seconds": interval, "timeout_seconds": min(10.0, interval)},
        "targets": [{"target": url, "probe": "http"} for url in urls],
    }
    path.write_text(yaml.safe_dump(layout))
    return urls


Samples = dict[str, list[tuple[str, float]]]


def parse(text: str) -> Samples:
    """Sample lines of the metrics we need: name -> [(labels text, value)]."""
    wanted = tuple(
        f"{P}{name}"
        for name in ("polls_total", "poll_errors_total", "scheduler_lag_seconds", "polls_skipped")
    )
    found: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if not line.startswith(wanted):
            continue
        match = SAMPLE.match(line)
        if match:
            found.setdefault(match.group(1), []).append(
                (match.group(2) or "", float(match.group(3)))
            )
    return found


def per_instance(samples: list[tuple[str, float]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for labels, value in samples:
        found = INSTANCE.search(labels)
        if found:
            counts[found.group(1)] += int(value)
    return counts


def slots(key: str, interval: float, start: float, end: float) -> int:
    """How many of the target's slots k * interval + phase lie in (start, end]."""
    offset = phase(key, interval)
    return max(0, math.floor((end - offset) / interval) - math.floor((start - offset) / interval))


def lag_counts(data: Samples, late: float) -> tuple[int, int, float]:
    """(polls, polls later than ``late`` seconds, lag sum) from the lag histogram."""
    name = f"{P}scheduler_lag_seconds"
    buckets = {
        float(labels.split('le="')[1].split('"')[0]): int(value)
        for labels, value in data.get(f"{name}_bucket", [])
    }
    count = int(sum(v for _, v in data.get(f"{name}_count", [])))
    total = sum(v for _, v in data.get(f"{name}_sum", []))
    on_time = max((v for bound, v in buckets.items() if bound <= late), default=0)
    return count, count - on_time, total


def run(
    targets: int, interval: float, intervals: float, scrape_every: float, late: float
) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        folder = Path(tmp)
        ports = [free_port() for _ in range(8)]
        urls = targets_file(folder / "targets.yaml", ports, targets, interval)
        with nginx(folder, ports):
            return _run_collector(folder, urls, interval, intervals, scrape_every, late)


def _run_collector(
    folder: Path, urls: list[str], interval: float, intervals: float, every: float, late: float
) -> Outcome:
    port = free_port()
    command = [sys.executable, "-m", "collectors.cli", "--targets-file"]
    command += [str(folder / "targets.yaml"), "--listen", f"127.0.0.1:{port}"]
    log = (folder / "collector.log").open("wb")
    process = subprocess.Popen(
        [*command, "--log-level", "WARNING"], cwd=ROOT, stdout=log, stderr=log
    )
    try:
        wait_for_port(port, process, "collector", timeout=120)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            started, cpu_before = time.time(), cpu_seconds(process.pid)
            first = parse(client.get("/metrics").text)
            timeline: list[tuple[int, int]] = []
            end = started + intervals * interval
            last, scrapes, slowest = _scrape_until(client, end, every, late, timeline)
            finished, cpu = time.time(), cpu_seconds(process.pid) - cpu_before
    finally:
        stop(process)
        log.close()
    count, late_count, lag_sum = lag_counts(last, late)
    return Outcome(
        targets=len(urls),
        interval=interval,
        seconds=finished - started,
        polls=count,
        late=late_count,
        skipped=int(sum(v for _, v in last.get(f"{P}polls_skipped_total", []))),
        missing=_missing(urls, interval, first, last, started, finished),
        failed=int(sum(v for _, v in last.get(f"{P}poll_errors_total", []))),
        lag_sum=lag_sum,
        cpu=cpu,
        scrapes=scrapes + 1,
        scrape_seconds=slowest,
        timeline=timeline,
    )


def _scrape_until(
    client: httpx.Client, end: float, every: float, late: float, timeline: list[tuple[int, int]]
) -> tuple[Samples, int, float]:
    """Scrape every ``every`` seconds until ``end``: (the last scrape, scrapes, slowest); appends
    (polls started, polls late) so far to ``timeline`` at each scrape."""
    scrapes, slowest, text = 0, 0.0, ""
    while (now := time.time()) < end:
        time.sleep(min(every, end - now))
        t0 = time.perf_counter()
        text = client.get("/metrics").text
        slowest = max(slowest, time.perf_counter() - t0)
        scrapes += 1
        count, late_count, _ = lag_counts(parse(_lag_lines(text)), late)
        timeline.append((count, late_count))
    return parse(text), scrapes, slowest


def _lag_lines(text: str) -> str:
    """Just the lag histogram's lines of a scrape (cheaper to parse than all of it)."""
    start = text.find(f"# HELP {P}scheduler_lag_seconds ")
    return text[start : text.find("# HELP", start + 10)] if start >= 0 else ""


def _missing(
    urls: list[str], interval: float, first: Samples, last: Samples, start: float, end: float
) -> int:
    """Slots between the first scrape and the end without a poll, per target."""
    before = per_instance(first.get(f"{P}polls_total", []))
    after = per_instance(last.get(f"{P}polls_total", []))
    margin = min(10.0, interval) + 1  # a poll started this close to the end may still be running
    return sum(
        max(0, slots(f"http/http/{u}", interval, start, end - margin) - (after[u] - before[u]))
        for u in urls
    )


def report(o: Outcome, late: float) -> str:
    return "\n".join(
        [
            f"targets: {o.targets}, interval: {o.interval:g} s, measured: {o.seconds:.0f} s, "
            f"cpus: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.2f}",
            f"polls started: {o.polls}, late (> {late:g} s after the slot): {o.late}, "
            f"not run: {o.not_run} (scheduler's skip counters {o.skipped}, slots without a poll "
            f"{o.missing}), failed probes: {o.failed}",
            f"mean lag: {1000 * o.lag_sum / max(1, o.polls):.1f} ms; collector CPU: "
            f"{o.cpu:.1f} s = {100 * o.cpu / o.seconds:.0f} % of one core; "
            f"{o.scrapes} scrapes, slowest {o.scrape_seconds:.2f} s",
            f"late polls between scrapes: {_windows(o.timeline)}",
            f"late or not run: {o.late_percent:.3f} %",
        ]
    )


def _windows(timeline: list[tuple[int, int]]) -> str:
    before, parts = (0, 0), []
    for polls, late in timeline:
        parts.append(f"{late - before[1]}/{polls - before[0]}")
        before = (polls, late)
    return " ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds (at least 1)")
    parser.add_argument("--intervals", type=float, default=3.0, help="how long to run")
    parser.add_argument("--scrape-interval", type=float, default=15.0)
    parser.add_argument("--late", type=float, default=1.0, help="seconds after the slot")
    parser.add_argument("--small", action="store_true", help="200 targets at 2 s for 3 intervals")
    args = parser.parse_args()
    if args.small:
        args.targets, args.interval, args.intervals, args.scrape_interval = 200, 2.0, 3.0, 2.0
    outcome = run(args.targets, args.interval, args.intervals, args.scrape_interval, args.late)
    print(report(outcome, args.late))


if __name__ == "__main__":
    main()
