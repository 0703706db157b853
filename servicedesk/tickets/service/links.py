"""Links between tickets: duplicates, incidents caused by a problem, and mass outages where
one parent incident gathers the reports from every kommune as children."""

from __future__ import annotations

from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, forbidden, invalid
from fellesdrift.kernel.types import utcnow
from register.access import elevated, principal_of
from servicedesk.tickets.choices import (
    DONE_STATUSES,
    EntryKind,
    LinkKind,
    Status,
    TicketType,
    Tlp,
)
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.schemas import LinkIn
from servicedesk.tickets.service import clocks, notify
from servicedesk.tickets.service.core import add_entry, get_ticket, is_agent
from servicedesk.tickets.service.moves import move_status


def link(session: Session, ticket_id: int, data: LinkIn) -> Ticket:
    if not is_agent(principal_of(session)):
        raise forbidden("only the drift unit links tickets")
    ticket = get_ticket(session, ticket_id, lock=True)
    target = get_ticket(session, data.target_id)
    if target.id == ticket.id:
        raise invalid(FieldError("target_id", "a ticket cannot link to itself", data.target_id))
    if data.kind == LinkKind.CAUSED_BY:
        if target.type != TicketType.PROBLEM:
            raise invalid(FieldError("target_id", "is not a problem", data.target_id))
        ticket.problem_id = target.id
    elif data.kind == LinkKind.DUPLICATE_OF:
        if target.duplicate_of_id == ticket.id:
            raise invalid(
                FieldError("target_id", "is already a duplicate of this ticket", target.id)
            )
        ticket.duplicate_of_id = target.id
    else:
        if target.parent_id is not None or _has_children(session, ticket):
            raise invalid(FieldError("target_id", "mass outages are one level deep", target.id))
        ticket.parent_id = target.id
    ticket.updated_at = utcnow()
    add_entry(session, ticket, EntryKind.FIELD, change={"field": data.kind.value, "new": target.id})
    return ticket


def _has_children(session: Session, ticket: Ticket) -> bool:
    return session.exec(select(Ticket.id).where(Ticket.parent_id == ticket.id)).first() is not None


def children_of(session: Session, ticket_id: int) -> list[Ticket]:
    return list(
        session.exec(select(Ticket).where(Ticket.parent_id == ticket_id).order_by(col(Ticket.id)))
    )


def linked_incidents(session: Session, problem_id: int) -> list[Ticket]:
    return list(
        session.exec(select(Ticket).where(Ticket.problem_id == problem_id).order_by(col(Ticket.id)))
    )


#: TLP levels from the least to the most restricted.
TLP_ORDER = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.RED)


def carries_text_of(parent: Ticket, child: Ticket) -> bool:
    """Whether a parent's words (public replies, its resolution) may be copied into a child:
    only into a child at least as restricted as the parent. A less restricted child has other
    readers (a TLP:RED parent's are its named participants only) and its messages carry its own,
    lower TLP label, so it gets no text of the parent (docs/access.md)."""
    return TLP_ORDER.index(Tlp(child.tlp)) >= TLP_ORDER.index(Tlp(parent.tlp))


def reply_to_children(session: Session, parent: Ticket, body: str) -> None:
    """A public reply on a mass outage reaches every open child at least as restricted as the
    parent, and so every requester, in whichever kommune (as the system: the agent may not
    reach every child's timeline)."""
    author, now = principal_of(session).user_id, utcnow()
    with elevated(session, "mass-outage"):
        for child in children_of(session, parent.id):  # type: ignore[arg-type]
            if Status(child.status) in DONE_STATUSES or not carries_text_of(parent, child):
                continue
            entry = add_entry(session, child, EntryKind.REPLY, body, public=True, author_id=author)
            session.flush()
            clocks.on_response(session, child, now)  # it answers the child's requester too
            notify.replied(session, child, entry)


def resolve_children(session: Session, parent: Ticket) -> None:
    author = principal_of(session).user_id
    with elevated(session, "mass-outage"):
        for child in children_of(session, parent.id):  # type: ignore[arg-type]
            if Status(child.status) in DONE_STATUSES:
                continue
            previous = Status(child.status)
            # A less restricted child is resolved all the same, and its timeline says by which
            # parent, but without the parent's resolution text.
            resolution = parent.resolution if carries_text_of(parent, child) else ""
            move_status(session, child, Status.RESOLVED, resolution=resolution, author_id=author)
            change = {"event": "resolved_by_parent", "parent": parent.id}
            add_entry(session, child, EntryKind.SYSTEM, change=change, author_id=author)
            session.flush()
            notify.status_changed(session, child, previous)
