"""Helpers for the collector tests: run one probe, read /metrics back."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from collectors.metrics import Result
from collectors.probes import PROBES, Deadline, Probe, ProbeEnv, ProbeError


def run_probe(
    kind: str,
    address: str,
    *,
    timeout: float = 5.0,
    probe: Probe | None = None,
    env: ProbeEnv | None = None,
    **options: Any,
) -> tuple[Result, ProbeError | None]:
    """Validate options like the config loader does, poll once, return (samples, error)."""
    probe = probe or PROBES[kind](env or ProbeEnv())
    parsed = probe.options_model.model_validate(options)
    probe.check_target(address, parsed)
    out = Result()
    try:
        probe.run(address, parsed, Deadline(timeout), out)
    except ProbeError as error:
        return out, error
    return out, None


def scrape(url: str) -> dict[str, list[Sample]]:
    """GET /metrics and parse it with prometheus_client's own parser: samples by family name."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test URL
        text = response.read().decode()
    return {f.name: list(f.samples) for f in text_string_to_metric_families(text)}


def families(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test URL
        text = response.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")
