"""Approvals of service requests: who is asked, and their decision.

An item's ``approval`` names who must approve before work starts:

* ``systemeier``: the systemeier of the item's system (``CatalogueItem.ci_id``), as named in
  the systems register (``CIResponsibility`` of kind ``systemeier``);
* ``leader``: the requester's leader. fellesdrift knows no line managers, so the rule is: the
  requester's kommune's contact persons, i.e. every active user of the requester's kommune
  holding the ``kommune_contact`` role (the kommune's IT contact or super-user, who answers for
  what the kommune orders). Nobody approves their own request.

While approvals are open the request is ``pending`` with ``pending_reason`` ``approval``; each
approver has one ``Approval`` row and sees the request. Nobody moves it on by a transition
(the lifecycle refuses that with a 409): any one approver decides. Approving puts the request
in the drift unit's queue (``new``), rejecting cancels it with the approver's reason. The
other approvers' open rows are then removed; the timeline keeps who was asked and who decided.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, true
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, conflict, forbidden, invalid
from fellesdrift.kernel.types import utcnow
from register.access import elevated, principal_of
from register.choices import Responsibility, Role
from register.models import CIResponsibility, RoleGrant, User
from register.service import get_visible
from servicedesk.tickets.choices import (
    ApprovalKind,
    ApprovalState,
    EntryKind,
    PendingReason,
    Status,
    Tlp,
)
from servicedesk.tickets.models import Approval, CatalogueItem, Ticket, TicketWatcher
from servicedesk.tickets.service import core, notify
from servicedesk.tickets.service.moves import awaiting_approval, move_status


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    approve: bool
    comment: str = Field(default="", max_length=4000)
    #: The ticket version the approver saw; a changed request is a conflict, not a surprise.
    version: int | None = None


# ---- asking --------------------------------------------------------------------------------------


def approvers_for(session: Session, item: CatalogueItem, requester: User) -> list[int]:
    """Who may approve ``requester``'s order of ``item`` (see the module's docstring). Read
    as the system: a requester cannot list their kommune's contacts or a system's owner."""
    if item.approval == ApprovalKind.NONE.value:
        return []
    if item.approval == ApprovalKind.SYSTEMEIER.value:
        asked = select(CIResponsibility.user_id).where(
            CIResponsibility.ci_id == item.ci_id,
            CIResponsibility.kind == Responsibility.SYSTEMEIER.value,
        )
        same_kommune: ColumnElement[bool] = true()
    else:
        asked = select(RoleGrant.user_id).where(RoleGrant.role == Role.KOMMUNE_CONTACT.value)
        same_kommune = col(User.kommune_id) == requester.kommune_id
        if requester.kommune_id is None:
            return []
    with elevated(session, "approvers"):
        stmt = select(User.id).where(
            col(User.id).in_(asked),
            same_kommune,
            col(User.active).is_(True),
            User.id != requester.id,
        )
        found = session.exec(stmt.order_by(col(User.id))).all()
    return [i for i in found if i is not None]


def ask(session: Session, ticket: Ticket, item: CatalogueItem, approvers: list[int]) -> None:
    for user_id in approvers:
        session.add(Approval(ticket_id=ticket.id, approver_id=user_id, kind=item.approval))  # type: ignore[arg-type]
    if ticket.tlp == Tlp.RED.value:
        # Under TLP:RED only named participants see the request: the approvers must be named.
        with elevated(session, "approvers"):
            watching = set(core.watchers_of(session, ticket.id))  # type: ignore[arg-type]
            for user_id in approvers:
                if user_id not in watching:  # e.g. named as a watcher when filed
                    session.add(TicketWatcher(ticket_id=ticket.id, user_id=user_id))  # type: ignore[arg-type]
    change = {"event": "approval_requested", "kind": item.approval, "approvers": approvers}
    core.add_entry(session, ticket, EntryKind.SYSTEM, change=change)
    move_status(session, ticket, Status.PENDING, PendingReason.APPROVAL)
    session.flush()
    notify._queue(session, ticket, "approval_requested", approvers)


# ---- deciding ------------------------------------------------------------------------------------


def pending_for_me(session: Session) -> list[tuple[Approval, Ticket]]:
    """The signed-in person's open approvals, oldest first."""
    p = principal_of(session)
    stmt = (
        select(Approval, Ticket)
        .join(Ticket, col(Ticket.id) == col(Approval.ticket_id))
        .where(
            Approval.approver_id == p.user_id,
            Approval.state == ApprovalState.PENDING.value,
            Ticket.status == Status.PENDING.value,
            Ticket.pending_reason == PendingReason.APPROVAL.value,
        )
        .order_by(col(Approval.id))
    )
    return [(a, t) for a, t in session.exec(stmt)]


def approvals_of(session: Session, ticket_id: int) -> list[Approval]:
    stmt = select(Approval).where(Approval.ticket_id == ticket_id).order_by(col(Approval.id))
    return list(session.exec(stmt))


def decide(session: Session, approval_id: int, data: DecisionIn) -> Ticket:
    """Approve (work can start) or reject (the request is cancelled with the reason)."""
    p = principal_of(session)
    approval = get_visible(session, Approval, approval_id)
    if approval.approver_id != p.user_id:
        raise forbidden("only the person asked to approve decides")
    ticket = core.get_ticket(session, approval.ticket_id, lock=True)
    if data.version is not None:
        core.check_version(ticket, data.version)
    if approval.state != ApprovalState.PENDING.value or not awaiting_approval(ticket):
        raise conflict(f"request {ticket.id} is no longer waiting for approval")
    if not data.approve and not data.comment:
        raise invalid(FieldError("comment", "give the reason for the rejection"))
    state = ApprovalState.APPROVED if data.approve else ApprovalState.REJECTED
    approval.state = state.value
    approval.comment = data.comment
    approval.decided_at = utcnow()
    try:
        _settle(session, ticket, approval, state, data.comment)
    except StaleDataError:
        raise conflict(f"request {ticket.id} was changed by someone else; reload it") from None
    reason = "approval_approved" if data.approve else "approval_rejected"
    notify._queue(session, ticket, reason, [ticket.requester_id], {"comment": data.comment})
    return ticket


def _settle(
    session: Session, ticket: Ticket, approval: Approval, state: ApprovalState, comment: str
) -> None:
    """The consequences of one decision; the approver may not edit the ticket itself, so the
    system carries them out in the approver's name."""
    me = approval.approver_id
    with elevated(session, "approval"):
        others = select(Approval).where(
            Approval.ticket_id == ticket.id,
            Approval.id != approval.id,
            Approval.state == ApprovalState.PENDING.value,
        )
        for other in session.exec(others):
            session.delete(other)
        change = {"event": "approval", "state": state.value, "kind": approval.kind}
        core.add_entry(session, ticket, EntryKind.SYSTEM, comment, change=change, author_id=me)
        if state == ApprovalState.APPROVED:
            target = Status.ASSIGNED if ticket.assignee_id else Status.NEW
            move_status(session, ticket, target, author_id=me)
        else:
            move_status(session, ticket, Status.CANCELLED, author_id=me)


def mine(session: Session, state: ApprovalState = ApprovalState.PENDING) -> Any:
    """The SELECT of the signed-in person's approvals in ``state``. Open ones count only
    while their request still waits: a withdrawn request drops out."""
    p = principal_of(session)
    stmt = select(Approval).where(Approval.approver_id == p.user_id, Approval.state == state.value)
    if state == ApprovalState.PENDING:
        waiting = select(Ticket.id).where(
            Ticket.status == Status.PENDING.value,
            Ticket.pending_reason == PendingReason.APPROVAL.value,
        )
        stmt = stmt.where(col(Approval.ticket_id).in_(waiting))
    return stmt


def get_approval(session: Session, approval_id: int) -> Approval:
    """One approval as the caller may see it: their own, or one of a ticket they see."""
    return get_visible(session, Approval, approval_id)
