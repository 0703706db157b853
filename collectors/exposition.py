"""``/metrics``: the cached results of the last poll of every target, never a poll on scrape.

Every per-target series carries ``instance`` (the target address) and the target's labels
(kommune, kommuner, ci, ci_kind, service, criticality, probe, ...), so Prometheus scraping with
``honor_labels: true`` files them under the right target and community dashboards built for
node_exporter and blackbox_exporter work unchanged. The collector's own metrics are under
``fellesdrift_collector_*``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from collectors.metrics import MetricSpec
from collectors.state import Histogram, State, Store, TargetState

CACHED = " Cached from the last poll; a scrape does not poll."
P = "fellesdrift_collector_"


class _Families:
    def __init__(self) -> None:
        self.by_name: dict[str, Metric] = {}

    def family(self, name: str, help: str, typ: str) -> Metric:
        base = name.removesuffix("_total") if typ == "counter" else name
        metric = self.by_name.get(base)
        if metric is None:
            metric = self.by_name[base] = Metric(base, help, typ)
        return metric

    def add(
        self, name: str, help: str, labels: dict[str, str], value: float, typ: str = "gauge"
    ) -> None:
        self.family(name, help, typ).add_sample(name, labels, value)

    def histogram(self, name: str, help: str, labels: dict[str, str], hist: Histogram) -> None:
        metric = self.family(name, help, "histogram")
        for bound, count in zip(hist.buckets, hist.counts, strict=True):
            metric.add_sample(f"{name}_bucket", {**labels, "le": _le(bound)}, count)
        metric.add_sample(f"{name}_bucket", {**labels, "le": "+Inf"}, hist.count)
        metric.add_sample(f"{name}_count", labels, hist.count)
        metric.add_sample(f"{name}_sum", labels, hist.sum)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class CachedCollector(Collector):
    """A prometheus-client collector over the :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> Iterable[Metric]:
        return []  # no poll or snapshot at registration

    def collect(self) -> Iterator[Metric]:
        out = _Families()
        for entry in sorted(self.store.snapshot(), key=lambda e: e.target.key):
            base = {"instance": entry.target.address, **entry.target.label_dict}
            _target_results(out, entry, base)
            _target_health(out, entry, base)
        self._collector_health(out)
        yield from out.by_name.values()

    def _collector_health(self, out: _Families) -> None:
        store = self.store
        with store.lock:
            durations = {k: _copy(h) for k, h in store.poll_duration.items()}
            lag = _copy(store.lag)
            skipped, abandoned = dict(store.skipped), store.abandoned
            errors, sources = list(store.config_errors), dict(store.sources)
            kinds = [e.target.probe for e in store.targets.values()]
            in_flight = sum(1 for e in store.targets.values() if e.running is not None)
        for kind, hist in sorted(durations.items()):
            out.histogram(
                f"{P}poll_duration_seconds",
                "Duration of polls by probe kind.",
                {"probe": kind},
                hist,
            )
        out.histogram(
            f"{P}scheduler_lag_seconds", "How late polls started after their planned time.", {}, lag
        )
        for reason in ("missed", "still_running", "overlap"):
            out.add(
                f"{P}polls_skipped_total",
                "Planned polls that did not run, by reason.",
                {"reason": reason},
                skipped.get(reason, 0),
                "counter",
            )
        out.add(
            f"{P}polls_abandoned_total",
            "Polls the runner settled as timeouts because the probe overran its deadline.",
            {},
            abandoned,
            "counter",
        )
        out.add(f"{P}polls_in_flight", "Polls running now.", {}, in_flight)
        for kind in sorted(set(kinds)):
            out.add(
                f"{P}targets",
                "Targets this collector polls, by probe kind.",
                {"probe": kind},
                kinds.count(kind),
            )
        shard = store.shard
        out.add(
            f"{P}shard_info",
            "This collector's shard (i of N, Prometheus hashmod).",
            {"shard": str(shard.index), "shards": str(shard.count)},
            1,
        )
        for error in errors:
            out.add(
                f"{P}config_errors",
                "Invalid target entries, by source and entry name (1 while invalid).",
                {"source": error.source, "entry": error.entry, "message": error.message[:200]},
                1,
            )
        for source, status in sorted(sources.items()):
            out.add(
                f"{P}config_last_reload_successful",
                "Whether the last reload of this target source succeeded.",
                {"source": source},
                1 if status.ok else 0,
            )
            if status.last_success is not None:
                out.add(
                    f"{P}config_last_reload_success_timestamp_seconds",
                    "When this target source was last loaded successfully.",
                    {"source": source},
                    status.last_success,
                )


def _copy(hist: Histogram) -> Histogram:
    copy = Histogram(hist.buckets)
    copy.counts, copy.sum, copy.count = list(hist.counts), hist.sum, hist.count
    return copy


def _target_results(out: _Families, entry: TargetState, base: dict[str, str]) -> None:
    if entry.result is None:
        return
    for sample in entry.result:
        spec: MetricSpec = sample.spec
        labels = {**base, **dict(zip(spec.labels, sample.label_values, strict=True))}
        out.add(
            spec.name,
            spec.help + "." * (not spec.help.endswith(".")) + CACHED,
            labels,
            sample.value,
            spec.type,
        )


def _target_health(out: _Families, entry: TargetState, base: dict[str, str]) -> None:
    if entry.last_success is not None:
        out.add(
            f"{P}last_success_timestamp_seconds",
            "Unix time of the last successful poll of the target." + CACHED,
            base,
            entry.last_success,
        )
    if entry.last_poll is not None:
        out.add(
            f"{P}last_poll_timestamp_seconds",
            "Unix time the last poll of the target finished." + CACHED,
            base,
            entry.last_poll,
        )
    for state in State:
        out.add(
            f"{P}target_state",
            "Soft/hard state of the target: 1 for the current state. hard_down after "
            "failures_before_down consecutive failed polls." + CACHED,
            {**base, "state": state.value},
            1 if entry.state == state else 0,
        )
    out.add(
        f"{P}consecutive_failures",
        "Failed polls in a row." + CACHED,
        base,
        entry.consecutive_failures,
    )
    out.add(
        f"{P}polls_total",
        "Polls of the target since the collector started.",
        base,
        entry.polls,
        "counter",
    )
    for reason, count in sorted(entry.errors.items()):
        out.add(
            f"{P}poll_errors_total",
            "Failed polls of the target by reason.",
            {**base, "reason": reason},
            count,
            "counter",
        )


def new_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CachedCollector(store))
    return registry


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {text!r}: expected host:port, e.g. 127.0.0.1:9700")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - only when asked for


def serve(registry: CollectorRegistry, listen: str) -> tuple[WSGIServer, threading.Thread]:
    """Start the /metrics HTTP server in a thread; returns (server, thread)."""
    host, port = parse_listen(listen)
    return start_http_server(port, host, registry=registry)
