"""Who sees and changes tickets: tenant isolation and TLP, registered with the access layer.

Reads (applied to every query by ``register.access``):

* end users see the tickets they asked for, those shared with them (watchers) and those
  they are asked to approve;
* kommune contacts see all of their kommune's (and its predecessors') tickets;
* systemeiere and systemadministratorer see the tickets on their systems;
* drift staff see every ticket;
* and for everyone, TLP:RED tickets only if they are a named participant: requester,
  assignee or watcher.

Internal notes and internal attachments are for the drift unit, and for the systemeiere and
systemadministratorer of a system on the tickets of that system: decided per ticket, not by
role (a systemeier who watches a ticket off their systems reads only its public timeline).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlmodel import col

from register.access import Principal, changed_fields, register
from register.choices import Role
from servicedesk.tickets.models import (
    Approval,
    Attachment,
    CatalogueItem,
    Group,
    GroupMember,
    Notification,
    PriorityRule,
    SavedView,
    Ticket,
    TicketCI,
    TicketEntry,
    TicketWatcher,
    TimeEntry,
)

_t = Ticket.__table__.c  # type: ignore[attr-defined]
_w = TicketWatcher.__table__.c  # type: ignore[attr-defined]
_tc = TicketCI.__table__.c  # type: ignore[attr-defined]
_a = Approval.__table__.c  # type: ignore[attr-defined]


def _ids(values: frozenset[int]) -> list[int]:
    return sorted(values)


def participant(p: Principal) -> ColumnElement[bool]:
    """Named participants of a ticket (who may see it under TLP:RED)."""
    watched = select(_w.ticket_id).where(_w.user_id == p.user_id)
    return or_(_t.requester_id == p.user_id, _t.assignee_id == p.user_id, _t.id.in_(watched))


def _tlp_ok(p: Principal) -> ColumnElement[bool]:
    return or_(_t.tlp != "red", participant(p))


#: Further ways a kommune's people see tickets without being named on them, added by the
#: packages built on tickets (changes: the kommuner a change touches, CAB members). Each
#: returns a criterion or None; they are registered at import, before any query.
SCOPE_EXTENSIONS: list[Callable[[Principal], ColumnElement[bool] | None]] = []


def _scope_beyond_participation(p: Principal) -> ColumnElement[bool]:
    """Tickets a kommune's people see without being named on them."""
    approving = select(_a.ticket_id).where(_a.approver_id == p.user_id)
    conditions = [_t.id.in_(approving)]
    conditions += [c for c in (extend(p) for extend in SCOPE_EXTENSIONS) if c is not None]
    if p.has(Role.KOMMUNE_CONTACT):
        conditions.append(_t.kommune_id.in_(_ids(p.kommuner)))
    if p.ci_ids:
        on_systems = select(_tc.ticket_id).where(_tc.ci_id.in_(_ids(p.ci_ids)))
        conditions.append(_t.id.in_(on_systems))
    return or_(*conditions)


def ticket_rule(p: Principal) -> ColumnElement[bool]:
    if p.is_system:
        return true()
    if p.global_read:
        return _tlp_ok(p)
    # (participant or approver, contact, systemeier) and (not RED or participant), with the
    # participant test written once: a participant sees the ticket, anyone else only what
    # their role reaches and never TLP:RED.
    return or_(participant(p), and_(_t.tlp != "red", _scope_beyond_participation(p)))


def visible_ticket_ids(p: Principal) -> Any:
    return select(_t.id).where(ticket_rule(p))


def _internal_rule(p: Principal, ticket_id: Any) -> ColumnElement[bool]:
    """On which tickets (``ticket_id`` a column) ``p`` sees internal rows: the drift unit on
    all, a systemeier or systemadministrator on those of their own systems, anyone else none."""
    if p.is_system or p.is_drift:
        return true()
    if p.ci_ids:
        return ticket_id.in_(select(_tc.ticket_id).where(_tc.ci_id.in_(_ids(p.ci_ids))))
    return false()


def sees_internal(session: Any, p: Principal, ticket_id: int | None) -> bool:
    """Whether ``p`` reads and writes the internal notes and attachments of this ticket."""
    if p.is_system or p.is_drift:
        return True
    if not p.ci_ids or ticket_id is None:
        return False
    with session.no_autoflush:
        found = session.execute(
            select(col(TicketCI.ticket_id)).where(
                col(TicketCI.ticket_id) == ticket_id, col(TicketCI.ci_id).in_(_ids(p.ci_ids))
            )
        ).first()
    return found is not None


def _child_rule(model: Any, public_column: bool) -> Any:
    def rule(p: Principal) -> ColumnElement[bool]:
        c = model.__table__.c
        in_ticket = c.ticket_id.in_(visible_ticket_ids(p))
        if public_column and not (p.is_system or p.is_drift):
            return and_(in_ticket, or_(c.public.is_(True), _internal_rule(p, c.ticket_id)))
        return in_ticket

    return rule


# ---- write rules -------------------------------------------------------------------------------

#: What a requester (or their kommune contact) may change on a ticket: reopen, confirm,
#: cancel and rate it. Everything else is the drift unit's.
REQUESTER_FIELDS = frozenset(
    {"status", "pending_reason", "rating", "rating_comment", "updated_at", "reopen_count",
     "resolved_at", "closed_at", "version"}
)  # fmt: skip


def _agent(p: Principal) -> bool:
    return p.is_admin or (p.is_drift and Role.AGENT in p.roles)


def _ticket_write(p: Principal, obj: Ticket, op: str) -> bool:
    if _agent(p):
        return op != "delete"
    own_kommune = obj.kommune_id is not None and obj.kommune_id in p.kommuner
    mine = obj.requester_id == p.user_id
    if op == "create":
        return own_kommune and (mine or p.has(Role.KOMMUNE_CONTACT))
    if op == "update":
        allowed = mine or (own_kommune and p.has(Role.KOMMUNE_CONTACT))
        return allowed and changed_fields(obj) <= REQUESTER_FIELDS
    return False


def _ticket_visible(obj: Any) -> bool:
    """Whether the ticket a new row hangs on is visible to the session's principal: nobody
    adds to a ticket they cannot see, whichever code path adds the row."""
    from sqlalchemy.orm import object_session

    session = object_session(obj)
    return session is not None and session.get(Ticket, obj.ticket_id) is not None


def _append_only(p: Principal, obj: Any, op: str) -> bool:
    if op != "create":
        return False
    if not bool(getattr(obj, "public", True)):
        from sqlalchemy.orm import object_session

        if not sees_internal(object_session(obj), p, obj.ticket_id):
            return False
    return _ticket_visible(obj)


def _created_by_service(_p: Principal, obj: Any, op: str) -> bool:
    """Rows added for anyone who can see the ticket; only the drift unit removes them."""
    return op == "create" and _ticket_visible(obj)


def _drift_or_create(p: Principal, obj: Any, op: str) -> bool:
    return _agent(p) or _created_by_service(p, obj, op)


def _approval_write(p: Principal, obj: Approval, op: str) -> bool:
    if op == "create":
        return _ticket_visible(obj)
    return _agent(p) or (op == "update" and obj.approver_id == p.user_id)


def _time_write(p: Principal, obj: TimeEntry, op: str) -> bool:
    if not _agent(p):
        return False
    if op != "create" and _was_invoiced(obj):
        return False
    return p.is_admin or obj.user_id == p.user_id


def _was_invoiced(obj: TimeEntry) -> bool:
    from sqlalchemy import inspect

    history = inspect(obj).attrs.invoice_ref.history
    before = history.deleted[0] if history.deleted else obj.invoice_ref
    return before is not None


def _own(p: Principal, obj: Any, _op: str) -> bool:
    return obj.user_id == p.user_id


def _admin(p: Principal, _obj: Any, _op: str) -> bool:
    return p.is_admin


def _install() -> None:
    register(Ticket, ticket_rule, _ticket_write, global_read=ticket_rule)
    entries, attachments = _child_rule(TicketEntry, True), _child_rule(Attachment, True)
    register(TicketEntry, entries, _append_only, global_read=entries)
    register(Attachment, attachments, _append_only, global_read=attachments)
    for child in (TicketCI, TicketWatcher):
        rule = _child_rule(child, False)
        register(child, rule, _drift_or_create, global_read=rule)
    approvals = _child_rule(Approval, False)
    register(
        Approval,
        lambda p: or_(approvals(p), _a.approver_id == p.user_id),
        _approval_write,
    )
    te = TimeEntry.__table__.c  # type: ignore[attr-defined]
    register(
        TimeEntry,
        lambda p: (
            te.kommune_id.in_(_ids(p.kommuner))
            if p.has(Role.KOMMUNE_CONTACT, Role.FINANCE)
            else false()
        ),
        _time_write,
        global_read=lambda p: te.ticket_id.in_(visible_ticket_ids(p)),
    )
    nc = Notification.__table__.c  # type: ignore[attr-defined]
    register(
        Notification,
        lambda p: nc.user_id == p.user_id,
        lambda p, o, op: op == "create",
        global_read=lambda p: true() if p.is_admin else nc.user_id == p.user_id,
    )
    sv = SavedView.__table__.c  # type: ignore[attr-defined]
    register(
        SavedView,
        lambda p: sv.user_id == p.user_id,
        _own,
        global_read=lambda p: sv.user_id == p.user_id,
    )
    # Job bookkeeping: written by the jobs (the system), read by admins.
    for model in (Group, GroupMember, PriorityRule):
        register(model, lambda p: true(), _admin)
    register(CatalogueItem, lambda p: true(), lambda p, o, op: _agent(p) and op != "delete")


_install()
