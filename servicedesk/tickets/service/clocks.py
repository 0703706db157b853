"""A ticket's SLA clocks: started when it is filed, moved by its status changes, replies and
priority changes (the hooks in ``core``, ``moves`` and ``lifecycle`` call in here), following
``sla.clock``'s rules to the second. The rules in words: ``sla/README.md``.

Every change of a clock appends to its history (``TicketClockEvent``) in the same transaction.
A clock is read with its row locked (``FOR UPDATE``): the escalation job locks it too, so a
status move and the job never both record one breach.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from fellesdrift.kernel.types import utcnow
from register.access import ACCESS_CHECKED
from servicedesk.tickets.choices import Status, TicketType
from servicedesk.tickets.clock_models import TicketClock, TicketClockEvent
from servicedesk.tickets.models import CatalogueItem, Ticket
from sla import clock as rules
from sla.agreements import catalogue
from sla.clock import ClockKind, ClockState, ClockStateName, Happened, LevelSpec
from sla.importer import register_service_keys

#: Ticket types with clocks (problems have none).
CLOCKED = frozenset({TicketType.INCIDENT.value, TicketType.REQUEST.value})


def _catalogue_keys(session: Session) -> set[str]:
    return set(session.exec(select(CatalogueItem.key)))


register_service_keys(_catalogue_keys)


def spec_of(row: TicketClock) -> LevelSpec:
    """The level the clock was started with (its copy)."""
    return LevelSpec.from_json(row.spec)


def state_of(row: TicketClock) -> ClockState:
    return ClockState(
        kind=ClockKind(row.kind),
        priority=row.priority,
        target_seconds=row.target_seconds,
        started_at=row.started_at,
        due_at=row.due_at,
        state=ClockStateName(row.state),
        paused_since=row.paused_since,
        paused_seconds=row.paused_seconds,
        met_at=row.met_at,
        breached_at=row.breached_at,
        warned_pct=row.warned_pct,
    )


_FIELDS = (
    "priority",
    "target_seconds",
    "due_at",
    "paused_since",
    "paused_seconds",
    "met_at",
    "breached_at",
    "warned_pct",
)


def save(
    session: Session, row: TicketClock, spec: LevelSpec, c: ClockState, happened: list[Happened]
) -> None:
    """Write the moved state back and append its events (nothing if nothing happened)."""
    if not happened:
        return
    for name in _FIELDS:
        if getattr(row, name) != getattr(c, name):
            setattr(row, name, getattr(c, name))
    row.state = c.state.value
    next_check = rules.next_check_at(spec, c)
    if row.next_check_at != next_check:
        row.next_check_at = next_check
    for h in happened:
        session.add(_event(row, h))


def _event(row: TicketClock, h: Happened) -> TicketClockEvent:
    return TicketClockEvent(
        ticket_id=row.ticket_id,
        kind=row.kind,
        event=h.event.value,
        at=h.at,
        due_at=row.due_at,
        detail=h.detail,
    )


# ---- the hooks --------------------------------------------------------------------------------


def start_clocks(
    session: Session,
    ticket: Ticket,
    ci_ids: Iterable[int] = (),
    item: CatalogueItem | None = None,
) -> list[dict[str, Any]]:
    """Start both clocks of a newly filed incident or request, from the agreement in force for
    its kommune and its systems or catalogue service (no query when the agreements are cached).
    Returns the clocks' stored values."""
    if ticket.type not in CLOCKED:
        return []
    ci_ids = [*ci_ids, *([item.ci_id] if item is not None and item.ci_id else [])]
    spec = catalogue(session).level_for(
        ticket.kommune_id, ticket.priority, ticket.created_at, ci_ids, item.key if item else None
    )
    if spec is None:
        return []
    as_json = spec.as_json()
    rows: list[dict[str, Any]] = []
    for kind in ClockKind:
        c = rules.start(spec, kind, ticket.priority, ticket.created_at)
        rows.append(
            {
                "ticket_id": ticket.id,
                "kind": kind.value,
                "kommune_id": ticket.kommune_id,
                "priority": c.priority,
                "agreement": spec.agreement,
                "level": spec.level,
                "spec": as_json,
                "target_seconds": c.target_seconds,
                "started_at": c.started_at,
                "due_at": c.due_at,
                "state": c.state.value,
                "paused_since": None,
                "paused_seconds": 0.0,
                "met_at": None,
                "breached_at": None,
                "warned_pct": 0,
                "next_check_at": rules.next_check_at(spec, c),
            }
        )
    if session.get_bind().dialect.name == "postgresql":
        _insert_started(session, rows)
    else:  # SQLite has no INSERT in a WITH clause: two statements through the session
        for values in rows:
            row = TicketClock(**values)
            session.add(row)
            session.add(_event(row, Happened(rules.ClockEvent.START, row.started_at)))
    return rows


_clock_table = TicketClock.__table__  # type: ignore[attr-defined]
_event_table = TicketClockEvent.__table__  # type: ignore[attr-defined]
_CLOCK_COLUMNS = [c.key for c in _clock_table.columns if c.key != "id"]


def _started_statement() -> Any:
    """Both clocks and their ``start`` events in one statement: an INSERT of the two clocks in
    a WITH clause whose RETURNING feeds the INSERT of the events. Built once with named
    parameters (``r0_<column>``, ``r1_<column>``, ``detail``, ``recorded_at``)."""
    # A UNION of parameter rows, not a multi-row VALUES: SQLAlchemy caches the compiled form
    # of the former only.
    rows = [
        sa.select(
            *(
                sa.cast(
                    sa.bindparam(f"r{i}_{k}", type_=_clock_table.c[k].type), _clock_table.c[k].type
                )
                for k in _CLOCK_COLUMNS
            )
        )
        for i in range(len(ClockKind))
    ]
    started = (
        _clock_table.insert()
        .from_select(_CLOCK_COLUMNS, sa.union_all(*rows))
        .returning(
            _clock_table.c.ticket_id,
            _clock_table.c.kind,
            _clock_table.c.started_at,
            _clock_table.c.due_at,
        )
        .cte("started")
    )
    return _event_table.insert().from_select(
        ["ticket_id", "kind", "event", "at", "due_at", "detail", "recorded_at"],
        sa.select(
            started.c.ticket_id,
            started.c.kind,
            sa.literal_column(f"'{rules.ClockEvent.START.value}'"),
            started.c.started_at,
            started.c.due_at,
            sa.bindparam("detail", type_=_event_table.c.detail.type),
            sa.bindparam("recorded_at", type_=_event_table.c.recorded_at.type),
        ),
    )


_STARTED = _started_statement()


def _insert_started(session: Session, rows: list[dict[str, Any]]) -> None:
    """The clocks and their start events by :data:`_STARTED` (a filing stays cheap).

    The clocks are the new ticket's own bookkeeping: whoever may file the ticket (checked by
    ``core._insert``) starts its clocks, which is what the table's write rule says too."""
    params: dict[str, Any] = {"detail": {}, "recorded_at": utcnow()}
    for i, row in enumerate(rows):
        params |= {f"r{i}_{k}": row[k] for k in _CLOCK_COLUMNS}
    session.execute(_STARTED, params, execution_options={ACCESS_CHECKED: True})


def clocks_of(session: Session, ticket_id: int, lock: bool = False) -> list[TicketClock]:
    stmt = select(TicketClock).where(TicketClock.ticket_id == ticket_id)
    if lock:
        stmt = stmt.with_for_update()
    return list(session.exec(stmt.order_by(col(TicketClock.kind).desc())))


def _each(session: Session, ticket: Ticket, step: Any) -> None:
    if ticket.type not in CLOCKED or ticket.id is None:
        return
    for row in clocks_of(session, ticket.id, lock=True):
        spec = spec_of(row)
        c = state_of(row)
        save(session, row, spec, c, step(spec, c))


def on_status(session: Session, ticket: Ticket, old: str, at: datetime, by_agent: bool) -> None:
    """A status move: response met by an agent's change; resolution met by Resolved and
    continued by a reopen; a pending status pauses where the level says; Cancelled stops."""
    new, reason = ticket.status, ticket.pending_reason

    def step(spec: LevelSpec, c: ClockState) -> list[Happened]:
        if new == Status.CANCELLED.value:
            return rules.stop(spec, c, at)
        happened: list[Happened] = []
        if old == Status.PENDING.value:
            happened += rules.resume(spec, c, at)
        if c.kind == ClockKind.RESPONSE and by_agent:
            happened += rules.meet(spec, c, at)
        if c.kind == ClockKind.RESOLUTION:
            if new == Status.RESOLVED.value:
                happened += rules.meet(spec, c, at)
            elif old == Status.RESOLVED.value and new == Status.IN_PROGRESS.value:
                happened += rules.reopen(spec, c, at)
        if new == Status.PENDING.value:
            happened += rules.pause(spec, c, at, reason)
        return happened

    _each(session, ticket, step)


def on_response(session: Session, ticket: Ticket, at: datetime) -> None:
    """An agent's public reply: the response clock is met (if it was not already)."""

    def step(spec: LevelSpec, c: ClockState) -> list[Happened]:
        return rules.meet(spec, c, at) if c.kind == ClockKind.RESPONSE else []

    _each(session, ticket, step)


def on_priority(session: Session, ticket: Ticket, at: datetime) -> None:
    """A new priority: both clocks' due times worked out again from the filing time."""

    def step(spec: LevelSpec, c: ClockState) -> list[Happened]:
        return rules.recompute(spec, c, ticket.priority, at)

    _each(session, ticket, step)


def history(session: Session, ticket_id: int) -> list[TicketClockEvent]:
    return list(
        session.exec(
            select(TicketClockEvent)
            .where(TicketClockEvent.ticket_id == ticket_id)
            .order_by(col(TicketClockEvent.id))
        )
    )
