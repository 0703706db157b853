"""What people see of the SLA clocks: time left or overdue per ticket in the agent's lists, the
queue of clocks by due time ("close to breach", "overdue"), both clocks with their pauses on a
ticket's page, the requester's "svar innen" and "løst innen", and the counts for /metrics.

Time left and overdue are business time on the clock's calendar (a desk that closes at 15:30
does not count the night); the due time itself is shown in Europe/Oslo.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.types import utcnow
from servicedesk.tickets.clock_models import TicketClock, TicketClockEvent
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.service.clocks import spec_of, state_of
from sla import clock as rules
from sla.calendar import OSLO
from sla.display import duration

#: The SLA queue's views: at risk (a threshold passed, not yet due), overdue, all running.
VIEWS = ("naer", "forfalt", "alle")
QUEUE_LIMIT = 100


def local(moment: datetime) -> str:
    return moment.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")


@dataclass
class DueCell:
    """One ticket's nearest running clock, as a list shows it."""

    text: str
    css: str
    due_iso: str
    due_local: str
    kind_label: str


@dataclass
class ClockView:
    kind: str
    kind_label: str
    state: str
    state_label: str
    due_iso: str
    due_local: str
    text: str
    css: str
    percent: int
    level: str
    agreement: str
    breached: bool
    pauses: list[tuple[str, str]] = field(default_factory=list)


def _left(row: TicketClock, lang: str, now: datetime) -> tuple[str, str]:
    """The text and class of a clock at ``now``: time left, overdue, paused, met."""
    spec, c = spec_of(row), state_of(row)
    if c.state == rules.ClockStateName.MET:
        late = c.breached_at is not None
        key = "sla.clock.met_late" if late else "sla.clock.met"
        return translate(key, lang, at=local(c.met_at or now)), "overdue" if late else "met"
    if c.state == rules.ClockStateName.STOPPED:
        return translate("sla.clock.stopped", lang), "met"
    if c.state == rules.ClockStateName.PAUSED:
        return translate("sla.clock.paused", lang), "paused"
    cal = spec.business_calendar()
    if now >= c.due_at:
        over = duration(cal.working_seconds(c.due_at, now), lang)
        return translate("sla.clock.overdue", lang, time=over), "overdue"
    left = duration(cal.working_seconds(now, c.due_at), lang)
    first = min(spec.warn_at) if spec.warn_at else 100
    at_risk = rules.percent_used(spec, c, now) >= first
    return translate("sla.clock.left", lang, time=left), "at-risk" if at_risk else ""


def due_cells(
    db: Session, ticket_ids: Iterable[int], lang: str, now: datetime | None = None
) -> dict[int, DueCell]:
    """Per ticket the nearest running clock (else a paused one), read in one statement."""
    ids = sorted(set(ticket_ids))
    if not ids:
        return {}
    now = now or utcnow()
    rows = db.exec(
        select(TicketClock).where(
            col(TicketClock.ticket_id).in_(ids), col(TicketClock.state).in_(("running", "paused"))
        )
    ).all()
    best: dict[int, TicketClock] = {}
    for row in rows:
        have = best.get(row.ticket_id)
        rank = (row.state != "running", row.due_at)
        if have is None or rank < (have.state != "running", have.due_at):
            best[row.ticket_id] = row
    out = {}
    for ticket_id, row in best.items():
        text, css = _left(row, lang, now)
        out[ticket_id] = DueCell(
            text, css, row.due_at.isoformat(), local(row.due_at),
            translate(f"choice.ClockKind.{row.kind}", lang),
        )  # fmt: skip
    return out


def ticket_clocks(
    db: Session, ticket_id: int, lang: str, now: datetime | None = None
) -> list[ClockView]:
    """Both clocks of a ticket with their pauses, response first."""
    now = now or utcnow()
    # The clocks with their history, in one statement (a clock row per event).
    joined = db.exec(
        select(TicketClock, TicketClockEvent)
        .outerjoin(
            TicketClockEvent,
            sa.and_(
                col(TicketClockEvent.ticket_id) == col(TicketClock.ticket_id),
                col(TicketClockEvent.kind) == col(TicketClock.kind),
            ),
        )
        .where(TicketClock.ticket_id == ticket_id)
        .order_by(col(TicketClockEvent.id))
    ).all()
    rows = list({clock.id: clock for clock, _ in joined}.values())
    history = [e for _, e in joined if e is not None]
    out = []
    for row in sorted(rows, key=lambda r: r.kind != "response"):
        text, css = _left(row, lang, now)
        spec, c = spec_of(row), state_of(row)
        out.append(
            ClockView(
                kind=row.kind,
                kind_label=translate(f"choice.ClockKind.{row.kind}", lang),
                state=row.state,
                state_label=translate(f"choice.ClockStateName.{row.state}", lang),
                due_iso=row.due_at.isoformat(),
                due_local=local(row.due_at),
                text=text,
                css=css,
                percent=min(999, int(rules.percent_used(spec, c, now))),
                level=row.level,
                agreement=row.agreement,
                breached=row.breached_at is not None,
                pauses=_pauses([e for e in history if e.kind == row.kind], lang),
            )
        )
    return out


def _pauses(events: list[TicketClockEvent], lang: str) -> list[tuple[str, str]]:
    """(from, to) of each pause, "to" being "pågår" while it lasts; a reopen's resolved time
    counts as a pause too (from the met event to the resume)."""
    out: list[tuple[str, str]] = []
    begun: datetime | None = None
    for e in events:
        if e.event == "pause" or (e.event == "met" and e.kind == "resolution"):
            begun = e.at
        elif e.event == "resume" and begun is not None:
            out.append((local(begun), local(e.at)))
            begun = None
        elif e.event in ("met", "stopped"):
            begun = None
    if begun is not None and events and events[-1].event == "pause":
        out.append((local(begun), translate("sla.clock.ongoing", lang)))
    return out


def _queue_filter(view: str, now: datetime) -> Any:
    running = col(TicketClock.state) == "running"
    if view == "forfalt":
        return sa.and_(running, col(TicketClock.due_at) <= now)
    if view == "naer":
        threshold = sa.or_(col(TicketClock.warned_pct) > 0, col(TicketClock.next_check_at) <= now)
        return sa.and_(running, col(TicketClock.due_at) > now, threshold)
    return running


def sla_queue(db: Session, view: str, now: datetime | None = None) -> list[Any]:
    """Open tickets by their nearest due time, as ``queues.LIST_COLUMNS`` rows."""
    from servicedesk.tickets.service.queues import LIST_COLUMNS

    now = now or utcnow()
    nearest = (
        select(TicketClock.ticket_id, func.min(TicketClock.due_at).label("due"))
        .where(_queue_filter(view, now))
        .group_by(col(TicketClock.ticket_id))
        .subquery()
    )
    stmt = (
        select(*LIST_COLUMNS)
        .join(nearest, nearest.c.ticket_id == Ticket.id)
        .order_by(nearest.c.due, col(Ticket.id))
        .limit(QUEUE_LIMIT)
    )
    return list(db.exec(stmt).all())


def at_risk_count(db: Session, now: datetime | None = None, cap: int = 99) -> int:
    """Tickets with a clock close to breach (capped, like the sidebar's other counts)."""
    now = now or utcnow()
    ids = select(TicketClock.ticket_id).where(_queue_filter("naer", now)).distinct().limit(cap + 1)
    return len(db.exec(ids).all())


def sla_counts(
    db: Session, now: datetime | None = None
) -> tuple[dict[tuple[int | None, int, str], int], dict[tuple[int | None, int, str], int]]:
    """For /metrics, by (kommune id, priority, clock kind): breaches so far (recorded, or a
    running clock past due whose breach the job has yet to record: never undone, so the count
    only grows) and clocks at risk now (running, a warning threshold passed, not yet due)."""
    now = now or utcnow()
    c = TicketClock
    breached = sa.or_(
        col(c.breached_at).is_not(None), sa.and_(col(c.state) == "running", col(c.due_at) <= now)
    )
    out: list[dict[tuple[int | None, int, str], int]] = []
    for condition in (breached, _queue_filter("naer", now)):
        rows = db.exec(
            select(c.kommune_id, c.priority, c.kind, func.count())
            .where(condition)
            .group_by(col(c.kommune_id), col(c.priority), col(c.kind))
        )
        out.append({(k, p, kind): int(n) for k, p, kind, n in rows})
    return out[0], out[1]
