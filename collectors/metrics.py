"""Metric specifications and the samples one poll produces.

Probes do not talk to prometheus-client: they fill a :class:`Result` with samples of declared
:class:`MetricSpec` s. The runner adds ``probe_success`` and ``probe_duration_seconds``, keeps the
result of the last poll per target, and the exposition turns the cached results into metric
families with the target's labels. Names follow blackbox_exporter (``probe_*``) and node_exporter
(``node_*``) so their community dashboards and alert rules work unchanged.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

MetricType = Literal["gauge", "counter", "untyped"]  # untyped: as node_exporter's netstat

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_lock = threading.Lock()
_specs: dict[str, MetricSpec] = {}

# Labels the exposition itself puts on series; a target label may not use them either.
EXPOSITION_LABELS = frozenset(
    {
        "instance",
        "job",
        "le",
        "quantile",
        "reason",
        "state",
        "source",
        "entry",
        "shard",
        "shards",
        "probe_kind",
        "worker",
    }
)


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: name, HELP text, type and the names of its own labels."""

    name: str
    help: str
    type: MetricType = "gauge"
    labels: tuple[str, ...] = ()


def spec(name: str, help: str, *labels: str, type: MetricType = "gauge") -> MetricSpec:
    """Declare (or look up) a metric family; the same name must always mean the same family."""
    new = MetricSpec(name, help, type, labels)
    with _lock:
        existing = _specs.get(name)
        if existing is not None:
            if existing != new:
                raise ValueError(f"metric {name} declared twice with different shapes")
            return existing
        if not _NAME.match(name) or not all(_LABEL.match(label) for label in labels):
            raise ValueError(f"invalid metric or label name in {name}{labels}")
        if type == "counter" and not name.endswith("_total"):
            raise ValueError(f"counter {name} must end in _total")
        _specs[name] = new
        return new


def reserved_label_names() -> frozenset[str]:
    """Label names that metrics use themselves: a target label must not collide with them."""
    with _lock:
        names = {label for s in _specs.values() for label in s.labels}
    return frozenset(names) | EXPOSITION_LABELS


def valid_label_name(name: str) -> bool:
    return bool(_LABEL.match(name)) and not name.startswith("__")


@dataclass(frozen=True)
class Sample:
    spec: MetricSpec
    label_values: tuple[str, ...]
    value: float


@dataclass
class Result:
    """Samples collected by one poll, in the order they were set.

    ``timestamp`` (Unix seconds), when a probe sets it, is when the values were read; the
    exposition gives it with every sample, so Prometheus files each value under the time it was
    read and not under each scrape's time: a counter cached between polls then never shows a
    rate of zero for the scrapes that repeat it, nor a spike for the one that catches up."""

    samples: list[Sample] = field(default_factory=list)
    timestamp: float | None = None
    # The probe's own measure of its exchange with the target (first lookup to last byte), when
    # it takes one: ``probe_duration_seconds`` is then this, as blackbox_exporter's prober
    # measures it, without the collector's own set-up and bookkeeping around the exchange.
    exchange_seconds: float | None = None

    def set(self, metric: MetricSpec, value: float, *label_values: str) -> None:
        if len(label_values) != len(metric.labels):
            raise ValueError(f"{metric.name} takes labels {metric.labels}, got {label_values}")
        self.samples.append(Sample(metric, tuple(label_values), float(value)))

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def value(self, name: str, **labels: str) -> float:
        """Like :meth:`get`, but a missing sample is a KeyError."""
        found = self.get(name, **labels)
        if found is None:
            raise KeyError(f"no sample {name}{labels}")
        return found

    def get(self, name: str, **labels: str) -> float | None:
        """The value of the first sample of ``name`` whose labels include ``labels``."""
        for sample in self.samples:
            if sample.spec.name != name:
                continue
            have = dict(zip(sample.spec.labels, sample.label_values, strict=True))
            if all(have.get(k) == v for k, v in labels.items()):
                return sample.value
        return None


PROBE_SUCCESS = spec("probe_success", "Displays whether or not the probe was a success")
PROBE_DURATION = spec(
    "probe_duration_seconds", "Returns how long the probe took to complete in seconds"
)
