"""A change as the API and the pages show it."""

from __future__ import annotations

from sqlmodel import Session

from register.access import principal_of
from servicedesk.changes.models import ChangeRecord
from servicedesk.changes.schemas import ChangeDetail, ChangeOut, DecisionOut, RuleOut
from servicedesk.changes.service import approvals, cab, lifecycle, records
from servicedesk.tickets.models import Ticket


def change_out(session: Session, ticket: Ticket, record: ChangeRecord) -> ChangeOut:
    return ChangeOut(
        id=ticket.id or 0,
        change_type=record.change_type,
        state=record.state,
        title=ticket.title,
        reason=record.reason,
        description=ticket.description,
        tlp=ticket.tlp,
        requester_id=ticket.requester_id,
        implementer_id=ticket.assignee_id,
        implementer_group_id=record.implementer_group_id,
        template_id=record.template_id,
        ci_ids=records.ci_ids_of(session, record.ticket_id),
        implementation_plan=record.implementation_plan,
        test_plan=record.test_plan,
        backout_plan=record.backout_plan,
        planned_start=record.planned_start,
        planned_end=record.planned_end,
        risk=record.risk,
        risk_answers=record.risk_answers,
        review=record.review,
        version=record.version,
        created_at=record.created_at,
    )


def change_detail(session: Session, ticket: Ticket, record: ChangeRecord) -> ChangeDetail:
    base = change_out(session, ticket, record)
    req = lifecycle.requirements_for(session, record)
    out = ChangeDetail(**base.model_dump())
    out.kommune_ids = records.kommune_ids_of(session, record.ticket_id)
    out.dependent_ci_ids = records.dependents(session, out.ci_ids)
    out.policy = req.policy_name
    out.rules = [RuleOut(code=r.code.value, reason=r.reason, params=r.params) for r in req.rules]
    out.decisions = [
        DecisionOut.model_validate(d) for d in approvals.decisions_of(session, record.ticket_id)
    ]
    out.pending = approvals.outcome(session, record, req).pending
    out.conflicts = cab.conflicts(session, record)
    out.links = records.links_of(session, record.ticket_id)
    out.transitions = [s.value for s in lifecycle.allowed_moves(principal_of(session), record)]
    return out
