"""CPU seconds per HTTP probe and per TCP probe: the collector against blackbox_exporter.

    python -m bench.probes --rounds 7 --probes 1000     # the figure for BENCHMARKS.md
    python -m bench.probes --small                      # the smoke run CI does

Both sides probe the same target: one nginx worker on a loopback port serving a small static
page (keep-alive off, so every probe is a fresh connection on both sides).

* **peer**: Debian's prometheus-blackbox-exporter with the stock ``http_2xx`` and
  ``tcp_connect`` modules, driven through ``/probe?module=...&target=...`` one request at a time
  over a kept-alive connection, as Prometheus scrapes it. Per probe it parses the request, runs
  the prober, builds a registry and writes the metrics as text.
* **ours**: ``bench.poller``, a process with the collector's probe registry, store and runner and
  one target, doing ``Runner.poll`` (probe, deadline, store update: what the scheduler's job
  does). Rendering ``/metrics`` is not part of a poll (Prometheus scrapes the cache on its own
  schedule), so it is measured separately and shown added on as one full scrape per poll, the
  case where the scrape interval equals the poll interval.

CPU is user + system time of the probing process from ``/proc/<pid>/stat``, read before and
after each batch; the driver, nginx and the kernel's loopback work are not counted for either.
Batches alternate (peer, ours, ours, peer, ...) so background load hits both alike; the figure
is the median of the per-round ratios ours/peer, with their range.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.loopback import blackbox, cpu_seconds, free_port, nginx, summary

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("http", "tcp")
MODULES = {"http": "http_2xx", "tcp": "tcp_connect"}


@dataclass
class Figures:
    peer: list[float] = field(default_factory=list)  # CPU seconds per probe, one per round
    ours: list[float] = field(default_factory=list)
    scrape: list[float] = field(default_factory=list)  # CPU seconds per /metrics render

    def ratios(self, with_scrape: bool = False) -> list[float]:
        extra = self.scrape if with_scrape else [0.0] * len(self.ours)
        return [(o + s) / p for o, s, p in zip(self.ours, extra, self.peer, strict=True)]


class Ours:
    """A bench.poller process with one target of ``kind``."""

    def __init__(self, kind: str, target: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.poller", "--probe", kind, "--target", target, *extra],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._line() != "ready":
            raise RuntimeError(f"bench.poller for {kind} did not start")

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def command(self, text: str) -> tuple[float, str]:
        """Run one command; (CPU seconds it took, its answer)."""
        assert self.process.stdin is not None
        before = cpu_seconds(self.process.pid)
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        answer = self._line()
        return cpu_seconds(self.process.pid) - before, answer

    def polls(self, n: int) -> float:
        cpu, answer = self.command(f"poll {n}")
        if not answer.startswith("ok 0"):
            raise RuntimeError(f"our probe failed: {answer}")
        return cpu

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait(10)
        assert self.process.stdout is not None
        self.process.stdout.close()


class Peer:
    """blackbox_exporter's /probe endpoint for one module and target."""

    def __init__(self, pid: int, port: int, kind: str, target: str) -> None:
        self.pid = pid
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self.params = {"module": MODULES[kind], "target": target}

    def polls(self, n: int) -> float:
        before = cpu_seconds(self.pid)
        for _ in range(n):
            response = self.client.get("/probe", params=self.params)
            if "\nprobe_success 1" not in response.text:
                raise RuntimeError(f"blackbox probe failed: {response.text[-500:]}")
        return cpu_seconds(self.pid) - before


def measure(rounds: int, probes: int, kinds: tuple[str, ...] = KINDS) -> dict[str, Figures]:
    results = {kind: Figures() for kind in kinds}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-probes-")))
        web, exporter = free_port(), free_port()
        targets = {"http": f"http://127.0.0.1:{web}/", "tcp": f"127.0.0.1:{web}"}
        stack.enter_context(nginx(tmp, [web]))
        peer_process = stack.enter_context(blackbox(tmp, exporter))
        sides: dict[str, tuple[Peer, Ours]] = {}
        for kind in kinds:
            peer = Peer(peer_process.pid, exporter, kind, targets[kind])
            stack.callback(peer.client.close)
            ours = Ours(kind, targets[kind])
            stack.callback(ours.close)
            sides[kind] = (peer, ours)
        for peer, ours in sides.values():
            peer.polls(min(50, probes))  # warm-up: lazy imports, Go's first GC
            ours.polls(min(50, probes))
        for number in range(rounds):
            for kind, (peer, ours) in sides.items():
                _round(results[kind], peer, ours, probes, peer_first=number % 2 == 0)
    return results


def _round(figures: Figures, peer: Peer, ours: Ours, n: int, peer_first: bool) -> None:
    if peer_first:
        figures.peer.append(peer.polls(n) / n)
        figures.ours.append(ours.polls(n) / n)
    else:
        figures.ours.append(ours.polls(n) / n)
        figures.peer.append(peer.polls(n) / n)
    cpu, _ = ours.command(f"scrape {n}")
    figures.scrape.append(cpu / n)


def report(results: dict[str, Figures], rounds: int, probes: int) -> str:
    ms = 1000
    lines = [
        f"rounds: {rounds}, probes per side per round: {probes}",
        "| probe | blackbox CPU ms/probe | ours ms/poll | ours + one /metrics render | "
        "ratio ours/blackbox | ratio with render |",
        "|---|---|---|---|---|---|",
    ]
    for kind, f in results.items():
        with_render = [o + s for o, s in zip(f.ours, f.scrape, strict=True)]
        peer, ours = statistics.median(f.peer) * ms, statistics.median(f.ours) * ms
        lines.append(
            f"| {kind} | {peer:.3f} | {ours:.3f}"
            f" | {statistics.median(with_render) * ms:.3f} | {summary(f.ratios())}"
            f" | {summary(f.ratios(with_scrape=True))} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--probes", type=int, default=1000, help="probes per side per round")
    parser.add_argument("--small", action="store_true", help="3 rounds of 100 (a smoke run)")
    args = parser.parse_args()
    rounds, probes = (3, 100) if args.small else (args.rounds, args.probes)
    print(report(measure(rounds, probes), rounds, probes))


if __name__ == "__main__":
    main()
