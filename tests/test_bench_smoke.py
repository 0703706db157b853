"""Benchmarks run in CI only as a smoke check: they must run, their figures are not judged."""

from __future__ import annotations

from bench import startup


def test_startup_benchmark_runs() -> None:
    results = startup.measure(1)
    assert set(results) == {"cold", "warm", "peer"}
    assert all(len(v) == 1 and v[0] > 0 for v in results.values())
