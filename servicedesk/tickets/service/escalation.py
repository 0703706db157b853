"""SLA escalation: warn at a clock's thresholds (default 75 % and 100 %) and record its breach.

Safe to run anywhere, any number of times, and to kill at any point:

* the job runs under its advisory lock (``register.jobs``), and each clock is handled in a
  transaction of its own that locks the clock row (``FOR UPDATE SKIP LOCKED``: a status move
  holding it is left alone and the clock is taken next time);
* a threshold is recorded on the clock (``warned_pct``, a ``warned`` event) in the same
  transaction that queues its notifications in the outbox, and a breach likewise
  (``breached_at``, a ``breached`` event): a run killed before its commit leaves nothing, the
  next run does it all, and a committed warning is never sent again;
* a breach is recorded once and never undone.

Who is told: the assignee and the lead of the assignment group; for a P1 or a major incident
also the unit's leadership (the default agreement's ``leadership`` addresses) and those the
kommune's agreement names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from fellesdrift.kernel.types import utcnow
from servicedesk.tickets.clock_models import TicketClock
from servicedesk.tickets.models import Group, Ticket
from servicedesk.tickets.service import notify
from servicedesk.tickets.service.clocks import save, spec_of, state_of
from sla import clock as rules
from sla.agreements import catalogue
from sla.calendar import OSLO
from sla.clock import ClockEvent, Happened

BATCH = 500


@dataclass
class EscalationReport:
    warned: int = 0
    breached: int = 0
    notifications: int = 0
    skipped: int = 0
    tickets: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"warnings {self.warned}, breaches {self.breached}, notifications "
            f"{self.notifications}, left for later {self.skipped}"
        )


def due_clocks(session: Session, now: datetime, batch: int = BATCH) -> list[int]:
    """Running clocks whose next threshold or due time has come."""
    stmt = (
        select(TicketClock.id)
        .where(TicketClock.state == "running", col(TicketClock.next_check_at) <= now)
        .order_by(col(TicketClock.next_check_at))
        .limit(batch)
    )
    return [i for i in session.exec(stmt) if i is not None]


def escalate(
    open_session: Callable[[], Session], now: datetime | None = None, batch: int = BATCH
) -> EscalationReport:
    """One run: every due clock in its own transaction."""
    now = now or utcnow()
    report = EscalationReport()
    with open_session() as session:
        ids = due_clocks(session, now, batch)
    for clock_id in ids:
        with open_session() as session:
            handle_clock(session, clock_id, now, report)
            session.commit()
    return report


def handle_clock(
    session: Session, clock_id: int, now: datetime, report: EscalationReport
) -> list[Happened]:
    """Record what is due on one clock and queue its notifications (the caller commits)."""
    row = session.exec(
        select(TicketClock).where(TicketClock.id == clock_id).with_for_update(skip_locked=True)
    ).first()
    if row is None or row.state != "running":
        report.skipped += row is None
        return []
    spec, c = spec_of(row), state_of(row)
    happened = rules.check(spec, c, now)
    if not happened:  # a threshold moved (priority change): look again when it comes
        row.next_check_at = rules.next_check_at(spec, c)
        return []
    save(session, row, spec, c, happened)
    ticket = session.get(Ticket, row.ticket_id)
    assert ticket is not None
    for h in happened:
        if h.event == ClockEvent.BREACHED:
            report.breached += 1
        if h.event == ClockEvent.WARNED:
            report.warned += 1
            report.notifications += _notify(session, ticket, row, h.detail["threshold"], now)
            report.tickets.append(ticket.id or 0)
    return happened


def _notify(
    session: Session, ticket: Ticket, row: TicketClock, threshold: int, now: datetime
) -> int:
    recipients: list[int | None] = [ticket.assignee_id]
    if ticket.assignment_group_id is not None:
        group = session.get(Group, ticket.assignment_group_id)
        recipients.append(group.lead_id if group else None)
    emails: list[str] = []
    if ticket.priority == 1 or ticket.major:
        emails = _leadership(session, row, now)
    reason = f"sla_{'breach' if threshold >= 100 else 'warning'}_{row.kind}"
    values = {
        "threshold": threshold,
        "due": row.due_at.astimezone(OSLO).strftime("%d.%m.%Y %H:%M"),
        "priority": ticket.priority,
    }
    return notify.sla_alert(session, ticket, reason, recipients, emails, values)


def _leadership(session: Session, row: TicketClock, now: datetime) -> list[str]:
    agreements = catalogue(session)
    day = now.astimezone(OSLO).date()
    emails: list[str] = []
    for a in (agreements.in_force(None, day), agreements.named(row.agreement)):
        if a is not None:
            emails += a.leadership
    return emails
