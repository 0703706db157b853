"""The lifecycle of a change: states, the moves between them, and the guards on each move.

draft -> submitted -> assessment -> awaiting_approval -> approved / rejected -> scheduled ->
in_progress -> implemented / failed / backed_out -> review -> closed; cancelled from any state
before the work starts. A standard change is approved by its template at submission; an
emergency change goes straight to the emergency CAB. Approval and rejection are never chosen
by hand: the decisions make them (``approvals``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from fellesdrift.kernel.problems import FieldError, forbidden
from fellesdrift.kernel.types import utcnow
from register import windows
from register.access import Principal, elevated, principal_of
from servicedesk.changes import risk as risk_q
from servicedesk.changes.choices import ChangeState, ChangeType, Risk, RuleCode
from servicedesk.changes.models import ChangeRecord
from servicedesk.changes.policy import Requirements, requirements
from servicedesk.changes.rules import is_drift_agent
from servicedesk.changes.service.records import get_change, rule_error, rule_errors, systems_of
from servicedesk.tickets.choices import EntryKind, Status
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.service import core as tickets
from sla.calendar import OSLO, SERVICE_DESK

S = ChangeState
#: Moves a person makes (approved and rejected come from the decisions).
MOVES: dict[ChangeState, frozenset[ChangeState]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.ASSESSMENT, S.CANCELLED}),
    S.ASSESSMENT: frozenset({S.AWAITING_APPROVAL, S.DRAFT, S.CANCELLED}),
    S.AWAITING_APPROVAL: frozenset({S.CANCELLED}),
    S.APPROVED: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.REJECTED: frozenset({S.CLOSED}),
    S.SCHEDULED: frozenset({S.IN_PROGRESS, S.APPROVED, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.IMPLEMENTED, S.FAILED, S.BACKED_OUT}),
    S.IMPLEMENTED: frozenset({S.REVIEW, S.CLOSED}),
    S.FAILED: frozenset({S.REVIEW}),
    S.BACKED_OUT: frozenset({S.REVIEW}),
    S.REVIEW: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}
_TICKET_STATUS = {
    S.IN_PROGRESS: Status.IN_PROGRESS,
    S.IMPLEMENTED: Status.RESOLVED,
    S.FAILED: Status.RESOLVED,
    S.BACKED_OUT: Status.RESOLVED,
    S.REVIEW: Status.RESOLVED,
    S.CLOSED: Status.CLOSED,
    S.REJECTED: Status.CLOSED,
    S.CANCELLED: Status.CANCELLED,
}


def requirements_for(session: Session, record: ChangeRecord) -> Requirements:
    when = record.submitted_at or utcnow()
    return requirements(
        session,
        ChangeType(record.change_type),
        Risk(record.risk),
        systems_of(session, record.ticket_id),
        when.astimezone(OSLO).date(),
    )


def allowed_moves(p: Principal, record: ChangeRecord) -> list[ChangeState]:
    if not is_drift_agent(p):
        return []
    return sorted(MOVES[ChangeState(record.state)], key=list(ChangeState).index)


def set_state(
    session: Session,
    ticket: Ticket,
    record: ChangeRecord,
    to: ChangeState,
    comment: str = "",
    author_id: int | None = None,
) -> None:
    """Record the move on the change, its ticket and its timeline (who, when, the comment)."""
    old = record.state
    record.state = to.value
    record.updated_at = utcnow()
    status = _TICKET_STATUS.get(to, Status.NEW)
    if ticket.status != status.value:
        ticket.status = status.value
        if status == Status.CLOSED:
            ticket.closed_at = utcnow()
    tickets.add_entry(
        session,
        ticket,
        EntryKind.STATUS,
        body=comment,
        change={"field": "change_state", "old": old, "new": to.value},
        author_id=author_id,
    )


def transition(
    session: Session, change_id: int, to: ChangeState, comment: str = "", review: str = ""
) -> tuple[Ticket, ChangeRecord]:
    """Move a change by hand, after the guards of the move."""
    ticket, record = get_change(session, change_id, lock=True)
    p = principal_of(session)
    if not is_drift_agent(p):
        raise forbidden("changes are moved by the drift unit")
    current = ChangeState(record.state)
    if to not in MOVES[current]:
        raise rule_error(
            "no_such_move",
            f"a change cannot go from {current.value} to {to.value}",
            field="to",
            status=409,
            old=current.value,
            new=to.value,
        )
    if to == S.SUBMITTED:
        _submit(session, ticket, record, comment)
        return ticket, record
    if to == S.AWAITING_APPROVAL:
        check_ready(session, record, requirements_for(session, record))
    if to == S.CLOSED:
        _guard_close(session, record, review)
    if to == S.IN_PROGRESS:
        record.actual_start = utcnow()
    if to in (S.IMPLEMENTED, S.FAILED, S.BACKED_OUT):
        record.actual_end = utcnow()
    if to == S.IMPLEMENTED and not requirements_for(session, record).has(RuleCode.REVIEW):
        pass  # may close at once
    set_state(session, ticket, record, to, comment)
    return ticket, record


def _guard_close(session: Session, record: ChangeRecord, review: str) -> None:
    needs_review = requirements_for(session, record).has(RuleCode.REVIEW)
    if record.state == S.IMPLEMENTED and needs_review:
        raise rule_error(
            "review_required",
            "the policy requires a post-implementation review first",
            field="to",
            status=409,
        )
    if record.state == S.REVIEW:
        if not (review or record.review).strip():
            raise rule_error("review_text", "write what the review found", field="review")
        record.review = review or record.review


def _submit(session: Session, ticket: Ticket, record: ChangeRecord, comment: str) -> None:
    now = utcnow()
    record.submitted_at = now
    req = requirements_for(session, record)
    check_ready(session, record, req, now)
    record.policy_id = req.policy_id
    set_state(session, ticket, record, S.SUBMITTED, comment)
    if record.change_type == ChangeType.STANDARD:
        record.decided_at = now
        set_state(session, ticket, record, S.APPROVED, "changes.auto.pre_approved")
    elif record.change_type == ChangeType.EMERGENCY:
        set_state(session, ticket, record, S.AWAITING_APPROVAL, "changes.auto.to_ecab")


def check_ready(
    session: Session, record: ChangeRecord, req: Requirements, now: datetime | None = None
) -> None:
    """Refuse (422, every broken rule named) a change that lacks what its policy requires."""
    errors: list[FieldError] = []

    def err(field: str, code: str, message: str, **params: object) -> None:
        errors.append(FieldError(field, message, code=f"changes_err.{code}", params=params))

    if not record.implementation_plan.strip():
        err("implementation_plan", "plan_missing", "an implementation plan is required")
    if record.change_type != ChangeType.STANDARD and not record.test_plan.strip():
        err("test_plan", "test_plan_missing", "a test plan is required")
    if req.has(RuleCode.BACKOUT_PLAN) and not record.backout_plan.strip():
        system = next(r.params["system"] for r in req.rules if r.code == RuleCode.BACKOUT_PLAN)
        err(
            "backout_plan",
            "backout_required",
            f"a backout plan is required: {system} has the strict rules",
            system=system,
        )
    for rule in req.rules:
        if rule.code == RuleCode.NO_STANDARD:
            err(
                "change_type",
                "no_standard",
                f"no standard changes on {rule.params['system']}",
                system=rule.params["system"],
            )
    if record.change_type != ChangeType.STANDARD and risk_q.validate(record.risk_answers):
        err("risk_answers", "risk_incomplete", "answer every question of the risk assessment")
    start, end = record.planned_start, record.planned_end
    if start is None or end is None:
        err("planned_start", "window_missing", "the planned start and end are required")
    elif end <= start:
        err("planned_end", "end_before_start", "the planned end must come after the planned start")
    else:
        _check_timing(req, start, end, now or utcnow(), err)
    if errors:
        raise rule_errors(errors)


def _check_timing(req: Requirements, start: datetime, end: datetime, now: datetime, err) -> None:
    for rule in req.rules:
        if rule.code == RuleCode.LEAD_TIME:
            days = int(rule.params["days"])
            earliest = SERVICE_DESK.add_working_days(now, days).date()
            if start.astimezone(OSLO).date() < earliest:
                err(
                    "planned_start",
                    "lead_time",
                    f"{rule.params['system']} needs {days} working days' notice: start on "
                    f"{earliest.isoformat()} or later",
                    system=rule.params["system"],
                    days=days,
                    earliest=earliest.isoformat(),
                )
        if rule.code == RuleCode.MAINTENANCE_WINDOW:
            text = str(rule.params.get("window") or "")
            agreed = windows.parse(text) if text else []
            if not agreed:
                err(
                    "planned_start",
                    "no_window",
                    f"{rule.params['system']} has no agreed maintenance window in the register",
                    system=rule.params["system"],
                )
            elif not windows.covers(agreed, start, end):
                err(
                    "planned_start",
                    "outside_window",
                    f"the change must lie inside {rule.params['system']}'s maintenance window "
                    f"({text})",
                    system=rule.params["system"],
                    window=text,
                )


def move_as_system(
    session: Session,
    ticket: Ticket,
    record: ChangeRecord,
    to: ChangeState,
    comment: str,
    author_id: int | None,
) -> None:
    """A move the decisions cause (approved, rejected), made as the system for whoever cast
    the deciding vote."""
    with elevated(session, "change decision"):
        if to in (S.APPROVED, S.REJECTED):
            record.decided_at = utcnow()
        set_state(session, ticket, record, to, comment, author_id=author_id)
