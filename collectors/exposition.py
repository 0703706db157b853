"""``/metrics``: the cached results of the last poll of every target, never a poll on scrape.

Every per-target series carries ``instance`` (the target address) and the target's labels
(kommune, kommuner, ci, ci_kind, service, criticality, probe, ...), so Prometheus scraping with
``honor_labels: true`` files them under the right target and community dashboards built for
node_exporter and blackbox_exporter work unchanged. The collector's own metrics are under
``fellesdrift_collector_*``.
"""

from __future__ import annotations

import functools
import gzip
import math
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.exposition import ThreadingWSGIServer, gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from collectors.metrics import MetricSpec
from collectors.state import Histogram, State, Store, TargetState
from collectors.webconfig import WebConfig, secured

CACHED = " Cached from the last poll; a scrape does not poll."
P = "fellesdrift_collector_"
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
Extra = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Labels:
    """Labels many series share (a target's), rendered for the text format once, not per series.
    Names need no escaping: target and metric label names are validated when declared."""

    __slots__ = ("dict", "text")

    def __init__(self, labels: Mapping[str, str]) -> None:
        self.dict = dict(labels)
        self.text = ",".join(f'{k}="{_escape(v)}"' for k, v in self.dict.items())


@dataclass
class _Family:
    name: str
    help: str
    type: str
    samples: list[tuple[str, _Labels, Extra, float, float | None]] = field(default_factory=list)


class _Families:
    """The families of one scrape, as prometheus-client Metrics or directly as text."""

    def __init__(self) -> None:
        self.by_name: dict[str, _Family] = {}

    def family(self, name: str, help: str, typ: str) -> _Family:
        base = name.removesuffix("_total") if typ == "counter" else name
        found = self.by_name.get(base)
        if found is None:
            found = self.by_name[base] = _Family(base, help, typ)
        return found

    def add(
        self,
        name: str,
        help: str,
        labels: _Labels | Mapping[str, str],
        value: float,
        typ: str = "gauge",
        extra: Extra = (),
        timestamp: float | None = None,
    ) -> None:
        shared = labels if isinstance(labels, _Labels) else _Labels(labels)
        self.family(name, help, typ).samples.append((name, shared, extra, value, timestamp))

    def histogram(self, name: str, help: str, labels: dict[str, str], hist: Histogram) -> None:
        family, shared = self.family(name, help, "histogram"), _Labels(labels)
        bounds = [*(_le(b) for b in hist.buckets), "+Inf"]
        for bound, count in zip(bounds, [*hist.counts, hist.count], strict=True):
            family.samples.append((f"{name}_bucket", shared, (("le", bound),), count, None))
        family.samples.append((f"{name}_count", shared, (), hist.count, None))
        family.samples.append((f"{name}_sum", shared, (), hist.sum, None))

    def metrics(self) -> Iterator[Metric]:
        for family in self.by_name.values():
            metric = Metric(family.name, family.help, family.type)
            for name, shared, extra, value, stamp in family.samples:
                metric.add_sample(name, {**shared.dict, **dict(extra)}, value, stamp)
            yield metric

    def text(self) -> bytes:
        """The Prometheus text format 0.0.4, as prometheus-client writes it (HELP and TYPE
        lines, a counter's family named with its _total), without re-escaping every label."""
        lines: list[str] = []
        extras: dict[Extra, str] = {}
        for family in self.by_name.values():
            title = family.name + "_total" if family.type == "counter" else family.name
            doc = family.help.replace("\\", "\\\\").replace("\n", "\\n")
            lines.append(f"# HELP {title} {doc}\n# TYPE {title} {family.type}\n")
            for name, shared, extra, value, stamp in family.samples:
                labels = shared.text
                if extra:
                    more = extras.get(extra)
                    if more is None:  # few distinct ones (states, phases, reasons): render once
                        more = extras[extra] = ",".join(f'{k}="{_escape(v)}"' for k, v in extra)
                    labels = f"{labels},{more}" if labels else more
                text = f"{_value(value)} {int(stamp * 1000)}" if stamp else _value(value)
                lines.append(f"{name}{{{labels}}} {text}\n" if labels else f"{name} {text}\n")
        return "".join(lines).encode()


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class CachedCollector(Collector):
    """A prometheus-client collector over the :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> Iterable[Metric]:
        return []  # no poll or snapshot at registration

    def collect(self) -> Iterator[Metric]:
        yield from self._families().metrics()

    def text(self) -> bytes:
        """The same metrics as :meth:`collect`, rendered straight to the text format: a scrape
        of thousands of targets costs a fraction of prometheus-client's generic rendering."""
        return self._families().text()

    def _families(self) -> _Families:
        out = _Families()
        for entry in sorted(self.store.snapshot(), key=lambda e: e.target.key):
            base = _Labels({"instance": entry.target.address, **entry.target.label_dict})
            _target_results(out, entry, base)
            _target_health(out, entry, base)
        self._collector_health(out)
        return out

    def _collector_health(self, families: _Families) -> None:
        store = self.store
        # Worker processes of one collector (--workers) each serve their own series; the
        # `worker` label keeps them apart when the parent merges them.
        out = _Tagged(families, store.worker) if store.worker is not None else families
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
        if store.pool_stats is not None:
            _pool_health(out, store.pool_stats())
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


class _Tagged(_Families):
    """The families of one scrape, adding a ``worker`` label to every series."""

    def __init__(self, inner: _Families, worker: str) -> None:
        self.by_name, self._inner, self._worker = inner.by_name, inner, worker

    def add(
        self,
        name: str,
        help: str,
        labels: _Labels | Mapping[str, str],
        value: float,
        typ: str = "gauge",
        extra: Extra = (),
        timestamp: float | None = None,
    ) -> None:
        plain = labels.dict if isinstance(labels, _Labels) else labels
        tagged = {**plain, "worker": self._worker}
        self._inner.add(name, help, tagged, value, typ, extra, timestamp)

    def histogram(self, name: str, help: str, labels: dict[str, str], hist: Histogram) -> None:
        self._inner.histogram(name, help, {**labels, "worker": self._worker}, hist)


def _pool_health(out: _Families, stats: Any) -> None:
    """Saturation of the poll pool (collectors.pool): polls waiting for a slot mean the
    collector cannot keep up; slow ones are waiting on the network and hold no slot."""
    out.add(f"{P}polls_waiting", "Polls due but waiting for a free slot.", {}, stats.waiting)
    out.add(
        f"{P}polls_active",
        "Polls holding a slot (started less than slow_after seconds ago).",
        {},
        stats.active,
    )
    out.add(
        f"{P}polls_slow",
        "Polls running past slow_after (waiting on a slow or hung target; they hold no slot).",
        {},
        stats.slow,
    )
    out.add(f"{P}poll_slots", "Polls that may be active at once (--concurrency).", {}, stats.limit)
    out.add(f"{P}poll_threads", "Threads of the poll pool.", {}, stats.threads)


def _copy(hist: Histogram) -> Histogram:
    copy = Histogram(hist.buckets)
    copy.counts, copy.sum, copy.count = list(hist.counts), hist.sum, hist.count
    return copy


@functools.cache
def _cached_help(spec: MetricSpec) -> str:
    return spec.help + "." * (not spec.help.endswith(".")) + CACHED


STATES = tuple((state, (("state", state.value),)) for state in State)


def _target_results(out: _Families, entry: TargetState, base: _Labels) -> None:
    if entry.result is None:
        return
    for sample in entry.result:
        spec: MetricSpec = sample.spec
        out.add(
            spec.name,
            _cached_help(spec),
            base,
            sample.value,
            spec.type,
            tuple(zip(spec.labels, sample.label_values, strict=True)),
            entry.result.timestamp,
        )


def _target_health(out: _Families, entry: TargetState, base: _Labels) -> None:
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
    out.add(
        f"{P}target_interval_seconds",
        "The target's poll interval (CollectorStale compares the last poll's age with it).",
        base,
        entry.target.interval,
    )
    for state, extra in STATES:
        out.add(
            f"{P}target_state",
            "Soft/hard state of the target: 1 for the current state. hard_down after "
            "failures_before_down consecutive failed polls." + CACHED,
            base,
            1 if entry.state == state else 0,
            extra=extra,
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
            base,
            count,
            "counter",
            (("reason", reason),),
        )


class CachedRegistry(CollectorRegistry):
    """The registry of one collector's store; :func:`serve` renders it with the fast path."""

    def __init__(self, store: Store) -> None:
        super().__init__(auto_describe=False)
        self.cached = CachedCollector(store)
        self.register(self.cached)


def new_registry(store: Store) -> CollectorRegistry:
    return CachedRegistry(store)


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {text!r}: expected host:port, e.g. 127.0.0.1:9700")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - only when asked for


Start = Callable[[str, list[tuple[str, str]]], Any]


class TextSource(Protocol):
    def text(self) -> bytes: ...


def metrics_app(cached: TextSource) -> Callable[[dict[str, Any], Start], list[bytes]]:
    """WSGI app serving the text format 0.0.4 at any path, as node_exporter does (it offers no
    OpenMetrics either), gzip-compressed at a low level when the scraper accepts it: a big
    exposition compresses nearly as well at level 1 as at 9, for a fraction of the CPU."""

    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        if environ.get("PATH_INFO") == "/favicon.ico":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b""]
        body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else cached.text()
        headers = [("Content-Type", TEXT_FORMAT)]
        if body and gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None  # a log line per scrape would drown the collector's own log


def serve(
    registry: CollectorRegistry, listen: str, web: WebConfig | None = None
) -> tuple[WSGIServer, threading.Thread]:
    """Start the /metrics HTTP server in a thread; returns (server, thread). ``web``: TLS and
    credentials from ``--web-config-file`` (see ``collectors.webconfig``)."""
    host, port = parse_listen(listen)
    if not isinstance(registry, CachedRegistry):
        return start_http_server(port, host, registry=registry)
    return serve_text(registry.cached, listen, web)


def serve_text(
    source: TextSource, listen: str, web: WebConfig | None = None
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``source.text()`` at /metrics from a thread; returns (server, thread). ``web``: TLS
    and credentials from ``--web-config-file`` (see ``collectors.webconfig``)."""
    host, port = parse_listen(listen)

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = secured(
        metrics_app(source), web, lambda app: make_server(host, port, app, Server, _QuietHandler)
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return server, thread
