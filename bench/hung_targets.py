"""Hung targets beside healthy ones: does any healthy poll start late or not at all?

    python -m bench.hung_targets                 # issue 17's case: 150 hung, 200 healthy, 15 s
    python -m bench.hung_targets --small         # the smoke run CI does

The real collector (``python -m collectors.cli``, default concurrency) polls ``--healthy`` HTTP
targets on one nginx worker and ``--hung`` HTTP targets on a loopback listener that accepts
connections and never answers (each poll holds its connection until the ``--timeout``), every
``--interval`` seconds, for ``--intervals`` intervals. At the end one scrape of ``/metrics``
gives: polls started more than 1 s after their slot (the lag histogram), polls skipped (the
scheduler's counters), and for each healthy target its polls against its slots in the run
(each target's slots follow from its fixed phase, ``sharding.first_run``).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.loopback import free_port, nginx, stop, wait_for_port
from collectors.sharding import first_run

ROOT = Path(__file__).resolve().parent.parent
P = "fellesdrift_collector_"


@dataclass
class Outcome:
    polls: int  # polls started, all targets
    late: int  # started more than 1 s after the slot
    skipped: int
    healthy_slots: int  # slots of healthy targets in the run
    healthy_polls: int  # polls of healthy targets
    healthy_failed: int  # healthy targets whose last poll failed


def run(healthy: int, hung: int, interval: float, timeout: float, intervals: int) -> Outcome:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-hung-")))
        web = free_port()
        stack.enter_context(nginx(tmp, [web]))
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)  # accepts (the kernel does) and never answers
        silent = listener.getsockname()[1]
        good = [f"http://127.0.0.1:{web}/h{i}" for i in range(healthy)]
        bad = [f"http://127.0.0.1:{silent}/x{i}" for i in range(hung)]
        layout = {
            "defaults": {"interval_seconds": interval, "timeout_seconds": timeout},
            "targets": [{"target": t, "probe": "http"} for t in good + bad],
        }
        path = tmp / "targets.yaml"
        path.write_text(yaml.safe_dump(layout))
        port = free_port()
        command = [sys.executable, "-m", "collectors.cli", "--targets-file", str(path)]
        command += ["--listen", f"127.0.0.1:{port}", "--log-level", "ERROR"]
        process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL)
        stack.callback(stop, process)
        wait_for_port(port, process, "collector", timeout=120)
        started = time.time()  # polls that finished before the first scrape are not counted
        first = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60).text
        time.sleep(interval * intervals)
        ended = time.time()
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60).text
    return _outcome(first, text, good, interval, started, ended)


Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _parse(text: str) -> Values:
    values: Values = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return values


def _outcome(
    first: str, text: str, good: list[str], interval: float, started: float, ended: float
) -> Outcome:
    """Lateness and skips over the whole run (start-up included); healthy polls over the
    window between the two scrapes, against the slots in it."""
    before, values = _parse(first), _parse(text)

    def pick(name: str, source: Values | None = None, **labels: str) -> list[float]:
        return [
            v
            for (n, ls), v in (values if source is None else source).items()
            if n == name and all(dict(ls).get(k) == want for k, want in labels.items())
        ]

    count = sum(pick(f"{P}scheduler_lag_seconds_count"))
    on_time = sum(pick(f"{P}scheduler_lag_seconds_bucket", le="1.0"))
    slots = polls = failed = 0
    for url in good:
        at = first_run(f"http/http/{url}", interval, started)
        while at <= ended - 0.2:  # a poll started just before the end may not have finished
            slots, at = slots + 1, at + interval
        polls += int(
            sum(pick(f"{P}polls_total", instance=url))
            - sum(pick(f"{P}polls_total", before, instance=url))
        )
        failed += int(sum(pick("probe_success", instance=url)) == 0)
    return Outcome(
        polls=int(count),
        late=int(count - on_time),
        skipped=int(sum(pick(f"{P}polls_skipped_total"))),
        healthy_slots=slots,
        healthy_polls=polls,
        healthy_failed=failed,
    )


def report(outcome: Outcome, healthy: int, hung: int, interval: float, timeout: float) -> str:
    o = outcome
    return (
        f"{hung} hung targets ({timeout:g} s timeout) beside {healthy} healthy, every "
        f"{interval:g} s\n\n"
        "| polls | started over 1 s late | skipped | healthy polls / their slots | "
        "healthy targets failing |\n| --- | --- | --- | --- | --- |\n"
        f"| {o.polls} | {o.late} | {o.skipped} | {o.healthy_polls} / {o.healthy_slots} "
        f"| {o.healthy_failed} |"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.hung_targets", description=__doc__.split("\n")[0])
    p.add_argument("--healthy", type=int, default=200)
    p.add_argument("--hung", type=int, default=150)
    p.add_argument("--interval", type=float, default=15)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--intervals", type=int, default=8)
    p.add_argument("--small", action="store_true")
    args = p.parse_args(argv)
    if args.small:
        args.healthy, args.hung, args.interval, args.timeout, args.intervals = 20, 15, 2, 1, 2
    outcome = run(args.healthy, args.hung, args.interval, args.timeout, args.intervals)
    sys.stdout.write(report(outcome, args.healthy, args.hung, args.interval, args.timeout) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
