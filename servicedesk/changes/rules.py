"""Who sees and changes change records and the CAB's meetings.

A change is a ticket, so the ticket rules decide who sees it (drift staff; systemeiere and
systemadministratorer of an affected system; named participants; TLP:RED for participants
only). Two more ways in are added here: a kommune contact sees the changes that touch the
kommune (it uses an affected system or one that depends on one), and a CAB member sees the
changes (not TLP:RED ones, unless named). Every table here hangs on a change and is visible
exactly when the change is.

Writes: the drift unit makes and edits changes; decisions are written by the person deciding
(the service checks that they may: systemeier of a system, CAB member); meetings belong to
the CAB and the drift unit; policy versions and templates to admins (templates also agents).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from register.access import Principal, register
from register.choices import Role
from servicedesk.changes.choices import CHANGE_TICKET_TYPE
from servicedesk.changes.models import (
    CabAgendaItem,
    CabMeeting,
    ChangeDecision,
    ChangeKommune,
    ChangeLink,
    ChangePolicy,
    ChangeRecord,
    ChangeTemplate,
)
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.rules import SCOPE_EXTENSIONS, visible_ticket_ids

_t = Ticket.__table__.c  # type: ignore[attr-defined]
_ck = ChangeKommune.__table__.c  # type: ignore[attr-defined]


def _change_scope(p: Principal) -> ColumnElement[bool] | None:
    conditions = []
    if p.has(Role.KOMMUNE_CONTACT) and p.kommuner:
        touching = select(_ck.ticket_id).where(_ck.kommune_id.in_(sorted(p.kommuner)))
        conditions.append(_t.id.in_(touching))
    if p.has(Role.CAB_MEMBER):
        conditions.append(_t.type == CHANGE_TICKET_TYPE)
    if not conditions:
        return None
    return and_(_t.type == CHANGE_TICKET_TYPE, or_(*conditions))


def is_drift_agent(p: Principal) -> bool:
    return p.is_admin or (p.is_drift and Role.AGENT in p.roles)


def may_see_cab(p: Principal) -> bool:
    return p.global_read or p.has(Role.CAB_MEMBER)


def _on_visible_change(model: Any) -> Any:
    def rule(p: Principal) -> ColumnElement[bool]:
        return model.__table__.c.ticket_id.in_(visible_ticket_ids(p))

    return rule


def _change_visible(obj: Any) -> bool:
    from sqlalchemy.orm import object_session

    session = object_session(obj)
    return session is not None and session.get(Ticket, obj.ticket_id) is not None


def _record_write(p: Principal, obj: Any, op: str) -> bool:
    """The drift unit edits and moves changes (an approval that completes a change moves it
    on as the system); nobody deletes one."""
    return op != "delete" and is_drift_agent(p)


def _decision_write(p: Principal, obj: ChangeDecision, op: str) -> bool:
    return op == "create" and obj.user_id == p.user_id and _change_visible(obj)


def _derived_write(p: Principal, obj: Any, op: str) -> bool:
    return is_drift_agent(p)


def _meeting_write(p: Principal, obj: Any, op: str) -> bool:
    return op != "delete" and (is_drift_agent(p) or p.has(Role.CAB_MEMBER))


def _install() -> None:
    SCOPE_EXTENSIONS.append(_change_scope)
    for model, write in (
        (ChangeRecord, _record_write),
        (ChangeKommune, _derived_write),
        (ChangeLink, _derived_write),
        (ChangeDecision, _decision_write),
        (CabAgendaItem, _meeting_write),
    ):
        rule = _on_visible_change(model)
        register(model, rule, write, global_read=rule)
    register(
        CabMeeting,
        lambda p: true() if p.has(Role.CAB_MEMBER) else false(),
        _meeting_write,
    )
    register(ChangePolicy, lambda p: true(), lambda p, o, op: p.is_admin)
    register(
        ChangeTemplate, lambda p: true(), lambda p, o, op: is_drift_agent(p) and op != "delete"
    )


_install()
