"""The ticket lifecycle: who may move a ticket from which status to which, replies, reopening
within a number of working days, closing by itself, and rating."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, Problem, forbidden, invalid
from fellesdrift.kernel.types import utcnow
from register.access import Principal, principal_of
from register.choices import Role
from servicedesk.tickets.choices import EntryKind, PendingReason, Status
from servicedesk.tickets.models import Ticket, TicketEntry
from servicedesk.tickets.rules import sees_internal
from servicedesk.tickets.schemas import RatingIn, ReplyIn, Transition
from servicedesk.tickets.service import notify
from servicedesk.tickets.service.core import (
    add_entry,
    check_desk_ticket,
    check_version,
    get_ticket,
    is_agent,
    raise_if_closed,
    settings_of,
    touch,
)
from servicedesk.tickets.service.moves import awaiting_approval, move_status
from sla.calendar import SERVICE_DESK

S = Status
#: Which status may follow which, for the drift unit.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.NEW: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.PENDING, S.RESOLVED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.NEW, S.IN_PROGRESS, S.PENDING, S.RESOLVED, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.ASSIGNED, S.PENDING, S.RESOLVED, S.CANCELLED}),
    S.PENDING: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.RESOLVED, S.CANCELLED}),
    S.RESOLVED: frozenset({S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}
#: What a requester (or their kommune contact) may do: withdraw, confirm, reopen.
REQUESTER_TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.NEW: frozenset({S.CANCELLED}),
    S.ASSIGNED: frozenset({S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.CANCELLED}),
    S.PENDING: frozenset({S.CANCELLED, S.IN_PROGRESS}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
}


def _is_requester_side(p: Principal, ticket: Ticket) -> bool:
    return ticket.requester_id == p.user_id or (
        p.has(Role.KOMMUNE_CONTACT) and ticket.kommune_id in p.kommuner
    )


#: All that may happen to a request awaiting approval by a transition: it is withdrawn (or
#: the drift unit cancels it). Only the approver's decision moves it on (``approvals.decide``).
WHILE_AWAITING_APPROVAL = frozenset({S.CANCELLED})


def allowed_transitions(p: Principal, ticket: Ticket) -> frozenset[Status]:
    current = Status(ticket.status)
    if is_agent(p):
        allowed = TRANSITIONS[current]
    elif _is_requester_side(p, ticket):
        allowed = REQUESTER_TRANSITIONS.get(current, frozenset())
    else:
        return frozenset()
    return allowed & WHILE_AWAITING_APPROVAL if awaiting_approval(ticket) else allowed


def reopen_deadline(session: Session, ticket: Ticket) -> datetime | None:
    if ticket.resolved_at is None:
        return None
    days = settings_of(session).ticket_reopen_working_days
    return SERVICE_DESK.add_working_days(ticket.resolved_at, days)


def transition(session: Session, ticket_id: int, data: Transition) -> Ticket:
    p = principal_of(session)
    ticket = get_ticket(session, ticket_id, lock=True)
    check_desk_ticket(ticket)
    check_version(ticket, data.version)
    current, target = Status(ticket.status), data.status
    if awaiting_approval(ticket) and target not in WHILE_AWAITING_APPROVAL:
        raise Problem(
            409,
            "Awaiting approval",
            f"request {ticket.id} is waiting for approval; only the approver's decision "
            f"moves it on (it can be cancelled), so it cannot become {target.value}",
        )
    if target not in allowed_transitions(p, ticket):
        if target not in TRANSITIONS[current] or not (is_agent(p) or _is_requester_side(p, ticket)):
            raise Problem(
                409,
                "Invalid transition",
                f"a ticket that is {current.value} cannot become {target.value}",
            )
        raise forbidden(f"you may not set this ticket to {target.value}")
    if current == S.RESOLVED and target == S.IN_PROGRESS:
        deadline = reopen_deadline(session, ticket)
        if deadline is not None and utcnow() > deadline and not is_agent(p):
            raise Problem(
                409,
                "Reopen window passed",
                f"the ticket was resolved more than "
                f"{settings_of(session).ticket_reopen_working_days} working days ago; "
                "file a new one and refer to it",
            )
        ticket.reopen_count += 1
    _assignment_rule(session, p, ticket, target)
    move_status(session, ticket, target, data.pending_reason, data.resolution)
    if data.comment:
        add_entry(session, ticket, EntryKind.REPLY, data.comment, public=True)
    notify.status_changed(session, ticket, current)
    if target == S.RESOLVED:
        from servicedesk.tickets.service.links import resolve_children

        resolve_children(session, ticket)
    return ticket


#: Moves that say someone works the ticket: without an assignee, the agent who makes the
#: move takes it (one does not start or resolve a ticket on nobody's behalf).
TAKES_THE_TICKET = frozenset({S.IN_PROGRESS, S.RESOLVED})


def _assignment_rule(session: Session, p: Principal, ticket: Ticket, target: Status) -> None:
    """Assigned means assigned to someone: that status needs an assignee. Starting or
    resolving an unassigned ticket makes the acting agent its assignee. The system itself
    (an alert that resolves, a requester's reopening) assigns nobody."""
    if ticket.assignee_id is not None:
        return
    if target == S.ASSIGNED:
        raise invalid(FieldError("assignee_id", "choose who the ticket is assigned to"))
    if target in TAKES_THE_TICKET and is_agent(p) and p.user_id is not None:
        ticket.assignee_id = p.user_id
        change = {"field": "assignee_id", "old": None, "new": p.user_id}
        add_entry(session, ticket, EntryKind.FIELD, change=change)


def reply(session: Session, ticket_id: int, data: ReplyIn) -> TicketEntry:
    """A public reply or an internal note. A requester's reply to a ticket waiting for them
    puts it back in progress; the first public reply from the drift unit is the response."""
    p = principal_of(session)
    ticket = get_ticket(session, ticket_id, lock=True)
    raise_if_closed(ticket)
    agent = is_agent(p)
    if not data.public and not (agent or sees_internal(session, p, ticket.id)):
        raise forbidden("internal notes are for the drift unit")
    entry = add_entry(
        session,
        ticket,
        EntryKind.REPLY if data.public else EntryKind.NOTE,
        data.body,
        public=data.public,
    )
    now = utcnow()
    if (
        not agent
        and ticket.status == S.PENDING.value
        and ticket.pending_reason == PendingReason.USER.value
        and _is_requester_side(p, ticket)
    ):
        move_status(session, ticket, S.IN_PROGRESS)  # a change of state: the version moves
    touched = {"updated_at": now}
    if agent and data.public and ticket.first_response_at is None:
        touched["first_response_at"] = now
    if agent and data.public:
        from servicedesk.tickets.service import clocks

        clocks.on_response(session, ticket, now)
    # A reply is no edit: it leaves the version alone, so it never makes an editor's next
    # change a conflict (and concurrent replies queue on the row lock).
    touch(session, ticket, **touched)
    notify.replied(session, ticket, entry)
    if agent and data.public:
        from servicedesk.tickets.service.links import reply_to_children

        reply_to_children(session, ticket, data.body)
    return entry


def rate(session: Session, ticket_id: int, data: RatingIn) -> Ticket:
    p = principal_of(session)
    ticket = get_ticket(session, ticket_id, lock=True)
    if ticket.requester_id != p.user_id:
        raise forbidden("only the requester rates the resolution")
    if ticket.status not in (S.RESOLVED.value, S.CLOSED.value):
        raise Problem(409, "Conflict", "a ticket is rated once it is resolved")
    ticket.rating = data.rating
    ticket.rating_comment = data.comment
    add_entry(
        session,
        ticket,
        EntryKind.FIELD,
        data.comment,
        change={"field": "rating", "new": data.rating},
    )
    return ticket


def close_resolved(session: Session, now: datetime | None = None) -> list[int]:
    """The job: close tickets resolved longer ago than the configured working days.

    Safe to run from several workers at once: each ticket is claimed by a conditional UPDATE
    on its version, so a ticket closed elsewhere is skipped."""
    now = now or utcnow()
    days = settings_of(session).ticket_autoclose_working_days
    closed = []
    candidates = session.exec(
        select(Ticket).where(
            Ticket.status == S.RESOLVED.value, col(Ticket.resolved_at).is_not(None)
        )
    ).all()
    for ticket in candidates:
        assert ticket.resolved_at is not None and ticket.id is not None
        if SERVICE_DESK.add_working_days(ticket.resolved_at, days) > now:
            continue
        try:
            with session.begin_nested():
                move_status(session, ticket, S.CLOSED)
                add_entry(
                    session, ticket, EntryKind.SYSTEM, change={"event": "auto_closed", "days": days}
                )
        except StaleDataError:
            continue  # changed by someone else meanwhile (reopened, closed): leave it
        closed.append(ticket.id)
    return closed
