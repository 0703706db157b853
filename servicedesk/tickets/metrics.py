"""The service desk's own Prometheus metrics, computed from the database on scrape.

=====================================================  =======  ==============================
metric                                                 type     labels
=====================================================  =======  ==============================
``fellesdrift_tickets_open``                           gauge    kommune, priority, status, type
``fellesdrift_tickets_created_total``                  counter  kommune, type
``fellesdrift_tickets_resolved_total``                 counter  kommune, type
``fellesdrift_outbox_pending``                         gauge
``fellesdrift_outbox_failed``                          gauge
``fellesdrift_outbox_oldest_pending_age_seconds``      gauge
``fellesdrift_outbox_smtp_configured``                 gauge    (1 or 0)
``fellesdrift_job_last_success_timestamp_seconds``     gauge    job
``fellesdrift_job_last_failure_timestamp_seconds``     gauge    job
``fellesdrift_job_failures_total``                     counter  job
``fellesdrift_sla_breaches_total``                     counter  kommune, priority, clock
``fellesdrift_sla_clocks_at_risk``                     gauge    kommune, priority, clock
``fellesdrift_servicedesk_metrics_up``                 gauge    (0 if the database failed)
=====================================================  =======  ==============================

``kommune`` is the kommune's slug, or ``felles`` for tickets of no single kommune (problems, the
parent of a mass outage). Open means new, assigned, in progress or pending.

**The counters are computed from stored data, not counted in memory,** so every web worker
reports the same values and they survive restarts: ``created_total`` counts tickets by their
stored creation; ``resolved_total`` counts resolutions, i.e. the tickets with a resolution time
plus the times tickets were reopened after one (``reopen_count``; reopening clears the
resolution time, so without it the counter would go down). They only go down if a ticket is
moved to another kommune, which Prometheus then reads as a counter reset of the old series.

Only counts leave the database: no title, description or other ticket content is a label or a
value. **TLP:RED tickets are not counted** (issue 14, item 14; docs/access.md): /metrics is read
by drift-unit tokens and ends up in Grafana, and a RED ticket, even its existence in a kommune,
is for its named participants only; the counts are what every drift reader may see. A ticket
that becomes RED leaves the counters, which Prometheus reads as a counter reset.

The queries run at most once per :data:`CACHE_SECONDS` per process, so frequent scrapes or
several Prometheus servers do not load the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from fellesdrift.kernel.settings import Settings
from fellesdrift.kernel.types import utcnow
from register.access import Principal, bind
from register.models import JobRun, Kommune
from servicedesk.tickets.choices import OPEN_STATUSES, OutboxState, TicketType, Tlp
from servicedesk.tickets.models import Notification, Ticket, desk_ticket

log = logging.getLogger("fellesdrift.metrics")

CACHE_SECONDS = 10.0

#: More metric families read on the same scrape, added by the packages built on tickets
#: (changes: counts by state and type, the success rate, the share of emergencies). Each is
#: called with the system's session and registered at import.
EXTRA_FAMILIES: list[Callable[[Session], Iterable[Metric]]] = []
SHARED = "felles"
PRIORITIES = ("1", "2", "3", "4")
_OPEN = sorted(s.value for s in OPEN_STATUSES)
_TYPES = [t.value for t in TicketType]


@dataclass
class Snapshot:
    """Everything the metrics show, read in one go."""

    kommuner: list[str] = field(default_factory=list)
    #: (kommune, priority, status, type) -> number of open tickets
    open: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    #: (kommune, type) -> (created, resolved)
    totals: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    outbox_pending: int = 0
    outbox_failed: int = 0
    oldest_pending_age: float = 0.0
    smtp_configured: bool = False
    jobs: list[JobRun] = field(default_factory=list)
    #: (kommune, priority, clock) -> SLA breaches so far / clocks at risk now
    sla_breaches: dict[tuple[str, str, str], int] = field(default_factory=dict)
    sla_at_risk: dict[tuple[str, str, str], int] = field(default_factory=dict)


def read_snapshot(session: Session, settings: Settings, now: datetime | None = None) -> Snapshot:
    """Query the counts (``session`` should be the system's: every ticket is counted)."""
    now = now or utcnow()
    slugs = {k_id: slug for k_id, slug in session.exec(select(Kommune.id, Kommune.slug))}
    snap = Snapshot(kommuner=sorted(slugs.values()), smtp_configured=bool(settings.smtp_host))

    def kommune(kommune_id: int | None) -> str:
        return slugs.get(kommune_id, SHARED) if kommune_id is not None else SHARED

    open_rows = session.execute(
        sa.select(
            col(Ticket.kommune_id),
            col(Ticket.priority),
            col(Ticket.status),
            col(Ticket.type),
            func.count(),
        )
        .where(col(Ticket.status).in_(_OPEN), col(Ticket.tlp) != Tlp.RED.value, desk_ticket())
        .group_by(
            col(Ticket.kommune_id), col(Ticket.priority), col(Ticket.status), col(Ticket.type)
        )
    )
    for kommune_id, priority, status, kind, n in open_rows:
        key = (kommune(kommune_id), str(priority), status, kind)
        snap.open[key] = snap.open.get(key, 0) + int(n)
    total_rows = session.execute(
        sa.select(
            col(Ticket.kommune_id),
            col(Ticket.type),
            func.count(col(Ticket.id)),
            func.count(col(Ticket.resolved_at)),
            func.coalesce(func.sum(col(Ticket.reopen_count)), 0),
        )
        .where(col(Ticket.tlp) != Tlp.RED.value, desk_ticket())
        .group_by(col(Ticket.kommune_id), col(Ticket.type))
    )
    for kommune_id, kind, created, resolved_now, reopened in total_rows:
        pair = (kommune(kommune_id), kind)
        before = snap.totals.get(pair, (0, 0))
        snap.totals[pair] = (
            before[0] + int(created),
            before[1] + int(resolved_now) + int(reopened),
        )
    _read_outbox(session, snap, now)
    _read_sla(session, snap, now, kommune)
    snap.jobs = list(session.exec(select(JobRun).order_by(col(JobRun.name))))
    return snap


def _read_sla(
    session: Session, snap: Snapshot, now: datetime, kommune: Callable[[int | None], str]
) -> None:
    from servicedesk.tickets.service.clock_views import sla_counts

    breaches, at_risk = sla_counts(session, now)
    for source, target in ((breaches, snap.sla_breaches), (at_risk, snap.sla_at_risk)):
        for (kommune_id, priority, kind), n in source.items():
            key = (kommune(kommune_id), str(priority), kind)
            target[key] = target.get(key, 0) + n


def _sla_families(snap: Snapshot, kommuner: list[str]) -> Iterator[Metric]:
    breaches = CounterMetricFamily(
        "fellesdrift_sla_breaches",
        "SLA clocks breached (computed from the stored clocks; a breach is never undone)",
        labels=["kommune", "priority", "clock"],
    )
    at_risk = GaugeMetricFamily(
        "fellesdrift_sla_clocks_at_risk",
        "Running SLA clocks past a warning threshold and not yet due",
        labels=["kommune", "priority", "clock"],
    )
    for k in kommuner:
        for p in PRIORITIES:
            for clock in ("response", "resolution"):
                breaches.add_metric([k, p, clock], snap.sla_breaches.get((k, p, clock), 0))
                at_risk.add_metric([k, p, clock], snap.sla_at_risk.get((k, p, clock), 0))
    yield breaches
    yield at_risk


def _read_outbox(session: Session, snap: Snapshot, now: datetime) -> None:
    states = [OutboxState.PENDING.value, OutboxState.FAILED.value]
    rows = session.exec(
        select(
            Notification.state, func.count(col(Notification.id)), func.min(Notification.created_at)
        )
        .where(col(Notification.state).in_(states))
        .group_by(col(Notification.state))
    )
    for state, n, oldest in rows:
        if state == OutboxState.PENDING.value:
            snap.outbox_pending = int(n)
            if oldest is not None:
                snap.oldest_pending_age = max(0.0, (now - oldest).total_seconds())
        else:
            snap.outbox_failed = int(n)


def metric_families(snap: Snapshot) -> Iterator[Metric]:
    """The Prometheus metric families of a snapshot; known kommuner and types start at 0, so a
    series exists before its first ticket (``increase()`` then sees the first one too)."""
    kommuner = [*snap.kommuner, SHARED]
    open_g = GaugeMetricFamily(
        "fellesdrift_tickets_open",
        "Open tickets (new, assigned, in progress, pending)",
        labels=["kommune", "priority", "status", "type"],
    )
    for k in kommuner:
        for p in PRIORITIES:
            for s in _OPEN:
                for t in _TYPES:
                    open_g.add_metric([k, p, s, t], snap.open.get((k, p, s, t), 0))
    yield open_g
    created = CounterMetricFamily(
        "fellesdrift_tickets_created",
        "Tickets created (computed from the stored tickets)",
        labels=["kommune", "type"],
    )
    resolved = CounterMetricFamily(
        "fellesdrift_tickets_resolved",
        "Ticket resolutions (tickets with a resolution time plus earlier resolutions undone by "
        "a reopen; computed from the stored tickets)",
        labels=["kommune", "type"],
    )
    for k in kommuner:
        for t in _TYPES:
            c, r = snap.totals.get((k, t), (0, 0))
            created.add_metric([k, t], c)
            resolved.add_metric([k, t], r)
    yield created
    yield resolved
    yield from _sla_families(snap, kommuner)
    yield from _outbox_families(snap)
    yield from _job_families(snap)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _outbox_families(snap: Snapshot) -> Iterator[Metric]:
    yield _gauge(
        "fellesdrift_outbox_pending",
        "Notifications waiting to be sent (they stay while SMTP is not configured)",
        snap.outbox_pending,
    )
    yield _gauge(
        "fellesdrift_outbox_failed",
        "Notifications given up after the last retry (see GET /api/v1/outbox)",
        snap.outbox_failed,
    )
    yield _gauge(
        "fellesdrift_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending notification (0 if none)",
        snap.oldest_pending_age,
    )
    yield _gauge(
        "fellesdrift_outbox_smtp_configured",
        "1 if an SMTP server is configured, else 0 (notifications are then kept, not sent)",
        1 if snap.smtp_configured else 0,
    )


def _job_families(snap: Snapshot) -> Iterator[Metric]:
    success = GaugeMetricFamily(
        "fellesdrift_job_last_success_timestamp_seconds",
        "When each background job last finished without error (Unix time)",
        labels=["job"],
    )
    failure = GaugeMetricFamily(
        "fellesdrift_job_last_failure_timestamp_seconds",
        "When each background job last failed (Unix time)",
        labels=["job"],
    )
    failures = CounterMetricFamily(
        "fellesdrift_job_failures",
        "Failed runs of each background job (e.g. alerts_reconcile while Alertmanager is "
        "unreachable)",
        labels=["job"],
    )
    for run in snap.jobs:
        if run.last_success_at is not None:
            success.add_metric([run.name], run.last_success_at.timestamp())
        if run.last_failure_at is not None:
            failure.add_metric([run.name], run.last_failure_at.timestamp())
        failures.add_metric([run.name], run.failures)
    yield success
    yield failure
    yield failures


class ServiceDeskCollector(Collector):
    """A prometheus_client collector that reads a :class:`Snapshot` on scrape, cached for
    ``cache_seconds``. A failing database gives ``fellesdrift_servicedesk_metrics_up 0`` (and
    the error in the log) instead of a failed scrape."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.settings = engine, settings
        self.cache_seconds, self.clock = cache_seconds, clock
        self._lock = threading.Lock()
        self._cached: list[Metric] | None = None
        self._cached_at = 0.0

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            stale = self.clock() - self._cached_at >= self.cache_seconds
            if self._cached is None or stale:
                self._cached = self._read()
                self._cached_at = self.clock()
            return list(self._cached)

    def _read(self) -> list[Metric]:
        started = time.monotonic()
        try:
            with bind(Session(self.engine), Principal.system("metrics")) as session:
                families = list(metric_families(read_snapshot(session, self.settings)))
                for extra in EXTRA_FAMILIES:
                    families += list(extra(session))
            up = 1
        except Exception:
            log.exception("service-desk metrics: reading the database failed")
            families, up = [], 0
        families.append(
            _gauge(
                "fellesdrift_servicedesk_metrics_up",
                "1 if the service-desk metrics could be read from the database",
                up,
            )
        )
        families.append(
            _gauge(
                "fellesdrift_servicedesk_metrics_duration_seconds",
                "How long reading the service-desk metrics took",
                time.monotonic() - started,
            )
        )
        return families


def registry_for(engine: Engine, settings: Settings, **kw: Any) -> CollectorRegistry:
    """A registry holding only the service-desk collector (not the process-wide default
    registry: tests and several apps in one process stay apart)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceDeskCollector(engine, settings, **kw))
    return registry
