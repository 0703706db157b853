"""Change records: made, edited (as drafts), read, and what follows from their systems (the
systems that depend on them and the kommuner they touch)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, Problem, forbidden, invalid, not_found
from fellesdrift.kernel.types import utcnow
from register.access import elevated, principal_of
from register.models import CIRelation, CIUsage, ConfigItem, User
from register.service import get_visible
from servicedesk.changes import risk as risk_q
from servicedesk.changes.choices import (
    CHANGE_TICKET_TYPE,
    ChangeLinkKind,
    ChangeState,
    ChangeType,
)
from servicedesk.changes.models import ChangeKommune, ChangeLink, ChangeRecord, ChangeTemplate
from servicedesk.changes.rules import is_drift_agent
from servicedesk.changes.schemas import ChangeCreate, ChangeFields, ChangeUpdate
from servicedesk.tickets.choices import EntryKind, Status, TicketType
from servicedesk.tickets.models import Group, Ticket, TicketCI
from servicedesk.tickets.service import core as tickets

#: Fields of ChangeFields stored on the ticket row; the rest are on the change record.
_TICKET_FIELDS = {"title": "title", "description": "description", "tlp": "tlp"}


def rule_error(
    code: str, message: str, field: str = "state", status: int = 422, **params: Any
) -> Problem:
    """A 422 (or ``status``) that names the rule broken; ``code`` is its catalogue key."""
    return rule_errors(
        [FieldError(field, message, code=f"changes_err.{code}", params=params)], status
    )


def rule_errors(errors: list[FieldError], status: int = 422) -> Problem:
    """One problem for every broken rule, the first one's text as its detail."""
    problem = invalid(errors)
    problem.status = status
    if status == 409:
        problem.title = "Conflict"
    problem.code, problem.params = errors[0].code, errors[0].params
    return problem


def get_change(session: Session, change_id: int, lock: bool = False) -> tuple[Ticket, ChangeRecord]:
    """The change (its ticket and record) if the principal may see it, else 404."""
    ticket = tickets.get_ticket(session, change_id, lock=lock)
    record = session.get(ChangeRecord, change_id, with_for_update=lock or None)
    if ticket.type != CHANGE_TICKET_TYPE or record is None:
        raise not_found(f"Change {change_id}")
    return ticket, record


def ci_ids_of(session: Session, change_id: int) -> list[int]:
    return sorted(tickets.ci_ids_of(session, change_id))


def systems_of(session: Session, change_id: int) -> list[ConfigItem]:
    """The affected systems, read as the system: the policy follows from every one of them,
    also those the reader may not see."""
    with elevated(session, "change policy"):
        ids = ci_ids_of(session, change_id)
        return list(session.exec(select(ConfigItem).where(col(ConfigItem.id).in_(ids))))


def dependents(session: Session, ci_ids: Iterable[int], depth: int = 5) -> list[int]:
    """Systems that run on or depend on any of ``ci_ids``, directly or through others."""
    found: set[int] = set()
    frontier = set(ci_ids)
    with elevated(session, "change dependents"):
        for _ in range(depth):
            rows = session.exec(
                select(CIRelation.source_id).where(col(CIRelation.target_id).in_(frontier))
            )
            frontier = set(rows) - found - set(ci_ids)
            if not frontier:
                break
            found |= frontier
    return sorted(found)


def kommuner_for(session: Session, ci_ids: Iterable[int]) -> list[int]:
    """Kommuner that own or use any of the systems."""
    ids = list(ci_ids)
    with elevated(session, "change kommuner"):
        used = set(session.exec(select(CIUsage.kommune_id).where(col(CIUsage.ci_id).in_(ids))))
        owners = session.exec(
            select(ConfigItem.owner_kommune_id).where(col(ConfigItem.id).in_(ids))
        )
        return sorted(used | {k for k in owners if k is not None})


def _refresh_kommuner(session: Session, change_id: int, ci_ids: list[int]) -> None:
    wanted = set(kommuner_for(session, [*ci_ids, *dependents(session, ci_ids)]))
    with elevated(session, "change kommuner"):
        rows = {
            r.kommune_id: r
            for r in session.exec(select(ChangeKommune).where(ChangeKommune.ticket_id == change_id))
        }
        for kommune_id in wanted - set(rows):
            session.add(ChangeKommune(ticket_id=change_id, kommune_id=kommune_id))
        for kommune_id in set(rows) - wanted:
            session.delete(rows[kommune_id])


def kommune_ids_of(session: Session, change_id: int) -> list[int]:
    rows = session.exec(
        select(ChangeKommune.kommune_id).where(ChangeKommune.ticket_id == change_id)
    )
    return sorted(rows)


def _check_refs(session: Session, data: ChangeFields) -> None:
    if data.implementer_group_id is not None:
        get_visible(session, Group, data.implementer_group_id)
    if data.implementer_id is not None:
        user = session.get(User, data.implementer_id)
        if user is None or user.kommune_id is not None:
            raise invalid(
                FieldError(
                    "implementer_id", "must be a person of the drift unit", data.implementer_id
                )
            )
    if data.risk_answers is not None:
        errors = [
            FieldError(f"risk_answers.{q}", m, code="changes_err.risk_answer")
            for q, m in risk_q.validate(data.risk_answers)
        ]
        if errors:
            raise invalid(errors)


def create_change(session: Session, data: ChangeCreate) -> tuple[Ticket, ChangeRecord]:
    """Record a change as a draft. Changes are made by the drift unit."""
    p = principal_of(session)
    if not is_drift_agent(p):
        raise forbidden("changes are recorded by the drift unit")
    template = None
    if data.template_id is not None:
        template = get_visible(session, ChangeTemplate, data.template_id)
        if not template.active:
            raise invalid(FieldError("template_id", "the template is retired", data.template_id))
    _check_refs(session, data)
    ticket = Ticket(
        type=CHANGE_TICKET_TYPE,
        kommune_id=None,
        requester_id=p.user_id,
        created_by_id=p.user_id,
        title=data.title,
        description=data.description or (template.description if template else ""),
        tlp=(data.tlp.value if data.tlp else "amber"),
        status=Status.NEW.value,
        assignee_id=data.implementer_id,
        assignment_group_id=data.implementer_group_id,
    )
    session.add(ticket)
    session.flush()
    assert ticket.id is not None
    answers = data.risk_answers or {}
    record = ChangeRecord(
        ticket_id=ticket.id,
        change_type=data.change_type.value,
        template_id=data.template_id,
        reason=data.reason or "",
        implementation_plan=_from(data.implementation_plan, template, "implementation_plan"),
        test_plan=_from(data.test_plan, template, "test_plan"),
        backout_plan=_from(data.backout_plan, template, "backout_plan"),
        planned_start=data.planned_start,
        planned_end=data.planned_end,
        implementer_group_id=data.implementer_group_id,
        risk_answers=answers,
        risk=_risk_of(answers),
    )
    session.add(record)
    tickets.set_cis(session, ticket, data.ci_ids)
    session.flush()
    _refresh_kommuner(session, ticket.id, data.ci_ids)
    if data.problem_id is not None:
        link(session, ticket, data.problem_id, ChangeLinkKind.FROM_PROBLEM)
    tickets.add_entry(session, ticket, EntryKind.SYSTEM, change={"event": "change_created"})
    return ticket, record


def _from(given: str | None, template: ChangeTemplate | None, name: str) -> str:
    if given:
        return given
    return getattr(template, name) if template is not None else ""


def _risk_of(answers: dict[str, str]) -> str:
    return risk_q.assess(answers).value if not risk_q.validate(answers) else "low"


def update_change(
    session: Session, change_id: int, data: ChangeUpdate
) -> tuple[Ticket, ChangeRecord]:
    """Edit a draft (or a change sent back to assessment): only the drift unit, and only
    before it is decided on."""
    ticket, record = get_change(session, change_id, lock=True)
    if not is_drift_agent(principal_of(session)):
        raise forbidden("changes are edited by the drift unit")
    if record.state not in (ChangeState.DRAFT, ChangeState.ASSESSMENT):
        raise rule_error(
            "not_editable",
            f"a change in state {record.state} can no longer be edited",
            state=record.state,
        )
    if data.version is not None and data.version != record.version:
        raise Problem(409, "Conflict", "the change was edited meanwhile; reload it and try again")
    _check_refs(session, data)
    given = data.model_dump(exclude_unset=True, exclude={"version"})
    start = given.get("planned_start", record.planned_start)
    end = given.get("planned_end", record.planned_end)
    if start and end and end <= start:
        raise rule_error(
            "end_before_start",
            "the planned end must come after the planned start",
            field="planned_end",
        )
    for name, value in given.items():
        if name == "ci_ids":
            if not value:
                raise invalid(FieldError("ci_ids", "choose at least one affected system"))
            tickets.set_cis(session, ticket, value)
            session.flush()
            _refresh_kommuner(session, change_id, value)
        elif name in _TICKET_FIELDS:
            setattr(ticket, name, getattr(value, "value", value) or "")
        elif name == "implementer_id":
            ticket.assignee_id = value
        elif name == "implementer_group_id":
            ticket.assignment_group_id = value
            record.implementer_group_id = value
        elif name == "risk_answers":
            record.risk_answers = value
            record.risk = _risk_of(value)
        else:
            setattr(record, name, value if value is not None else _empty(name))
    record.updated_at = utcnow()
    tickets.add_entry(session, ticket, EntryKind.FIELD, change={"fields": sorted(given)})
    return ticket, record


def _empty(name: str) -> Any:
    return None if name.startswith("planned_") else ""


def link(session: Session, change: Ticket, other_id: int, kind: ChangeLinkKind) -> ChangeLink:
    """Link an incident this change caused, or the problem that led to it."""
    other = tickets.get_ticket(session, other_id)
    want = TicketType.INCIDENT if kind == ChangeLinkKind.CAUSED_INCIDENT else TicketType.PROBLEM
    if other.type != want.value:
        raise invalid(
            FieldError(
                "ticket_id",
                f"must be a ticket of type {want.value}",
                other_id,
                code=f"changes_err.link_{kind.value}",
            )
        )
    exists = session.exec(
        select(ChangeLink).where(
            ChangeLink.ticket_id == change.id,
            ChangeLink.other_id == other_id,
            ChangeLink.kind == kind.value,
        )
    ).first()
    if exists is not None:
        return exists
    row = ChangeLink(ticket_id=change.id, other_id=other_id, kind=kind.value)  # type: ignore[arg-type]
    session.add(row)
    tickets.add_entry(
        session,
        change,
        EntryKind.SYSTEM,
        change={"event": "linked", "kind": kind.value, "other": other_id},
    )
    return row


def links_of(session: Session, change_id: int) -> list[dict[str, Any]]:
    rows = session.exec(select(ChangeLink).where(ChangeLink.ticket_id == change_id))
    return [{"ticket_id": r.other_id, "kind": r.kind} for r in rows]


def changes_linked_to(session: Session, ticket_id: int) -> list[ChangeLink]:
    return list(session.exec(select(ChangeLink).where(ChangeLink.other_id == ticket_id)))


def is_change(ticket: Ticket) -> bool:
    return ticket.type == CHANGE_TICKET_TYPE


def change_types() -> list[ChangeType]:
    return list(ChangeType)


def list_ci_for_change(session: Session, change_id: int) -> list[TicketCI]:
    return list(session.exec(select(TicketCI).where(TicketCI.ticket_id == change_id)))
