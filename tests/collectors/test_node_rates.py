"""rate() over the SSH collector's cached counters, evaluated by a real Prometheus.

Prometheus scrapes far more often than the target is polled, as in production (a 60 s poll and
a 15 s scrape, here scaled down to 3 s and 0.5 s). Each cached value carries the time it was
read, so the repeated scrapes of one value add nothing and the rate over a window that holds two
polls is the host's own: on a busy host never 0 (as a window of repeated values would give), and
never more CPUs than the host has (as the scrape that catches up with a poll would give)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.probes import ProbeEnv
from tests.collectors.sshd import SSHServer
from tests.support.servers import run_prometheus

POLL_SECONDS, SCRAPE = 3, "500ms"
WINDOW = "8s"  # at least two polls in every window, as $__rate_interval is 4 scrape intervals
OBSERVE_SECONDS = 30


@pytest.fixture
def busy_cpu() -> Iterator[None]:
    """One core kept busy, so the host's non-idle CPU rate is never really 0."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    burner.kill()
    burner.wait()


def test_cpu_rate_is_never_zero_and_never_above_the_cpus(
    busy_cpu: None, sshd: SSHServer, collector: Callable[..., Any], tmp_path: Path
) -> None:
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("rates"), ssh_key=sshd.keys["client"], ssh_user=sshd.user
    )
    target = {"target": sshd.address, "probe": "ssh", "interval_seconds": POLL_SECONDS}
    running = collector({"targets": [{**target, "timeout_seconds": 2}]}, env=env)
    config = {
        "global": {"scrape_interval": SCRAPE, "scrape_timeout": "400ms"},
        "scrape_configs": [
            {
                "job_name": "collectors",
                "honor_labels": True,
                "static_configs": [{"targets": [running.url.split("/")[2]]}],
            }
        ],
    }
    with run_prometheus(yaml.safe_dump(config), tmp_path / "prom") as prom:
        first = _wait_for_data(prom)
        time.sleep(OBSERVE_SECONDS)
        start, end = first + 2 * POLL_SECONDS, time.time()
        busy = _range(
            prom, f'sum(rate(node_cpu_seconds_total{{mode!="idle"}}[{WINDOW}]))', start, end
        )
        total = _range(prom, f"sum(rate(node_cpu_seconds_total[{WINDOW}]))", start, end)
    cpus = os.cpu_count() or 1
    expected_steps = (end - start) / 0.5
    assert len(busy) >= expected_steps - 2, f"{len(busy)} of {expected_steps:.0f} evaluations"
    assert min(busy) > 0.5, busy  # one core is burning: never 0
    assert max(total) <= cpus * 1.05, total  # never more CPUs than the host has
    assert min(total) >= cpus * 0.8, total  # and the whole host is accounted for


def _wait_for_data(prom: Any) -> float:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if prom.api("query", query="node_cpu_seconds_total")["result"]:
            return time.time()
        time.sleep(0.5)
    raise AssertionError("no node_cpu_seconds_total in Prometheus within 30 s")


def _range(prom: Any, query: str, start: float, end: float) -> list[float]:
    result = prom.api(
        "query_range", query=query, start=f"{start:.3f}", end=f"{end:.3f}", step="0.5"
    )["result"]
    assert len(result) == 1, result
    return [float(value) for _, value in result[0]["values"]]
