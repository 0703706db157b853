"""A ticket's change of status, the one place every status move goes through (transitions,
replies that take a ticket back into work, approvals, mass-outage children, auto-close), so
what a move records is the same wherever it starts."""

from __future__ import annotations

from sqlmodel import Session

from fellesdrift.kernel.types import utcnow
from register.access import principal_of
from servicedesk.tickets.choices import EntryKind, PendingReason, Status
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.service.core import add_entry, is_agent

S = Status


def awaiting_approval(ticket: Ticket) -> bool:
    return (
        ticket.status == S.PENDING.value and ticket.pending_reason == PendingReason.APPROVAL.value
    )


def move_status(
    session: Session,
    ticket: Ticket,
    target: Status,
    pending_reason: PendingReason | None = None,
    resolution: str = "",
    author_id: int | None = None,
) -> None:
    now = utcnow()
    old = ticket.status
    ticket.status = target.value
    ticket.pending_reason = pending_reason.value if target == S.PENDING and pending_reason else None
    if target == S.RESOLVED:
        ticket.resolution = resolution
        ticket.resolved_at = now
    elif target == S.IN_PROGRESS and old == S.RESOLVED.value:
        ticket.resolved_at = None
    if target in (S.CLOSED, S.CANCELLED):
        ticket.closed_at = now
    ticket.updated_at = now
    change = {"field": "status", "old": old, "new": target.value}
    if ticket.pending_reason:
        change["pending_reason"] = ticket.pending_reason
    body = resolution if target == S.RESOLVED else ""
    add_entry(session, ticket, EntryKind.STATUS, body, change=change, author_id=author_id)
    if old != target.value:
        from servicedesk.tickets.service import clocks

        clocks.on_status(session, ticket, old, now, by_agent=is_agent(principal_of(session)))
