"""REST API of changes and the CAB (``/api/v1/changes``, ``/api/v1/cab``). Reads go through
the request's session, so the access layer filters them (a change one may not see is a 404);
errors are ``application/problem+json`` and name the rule that refused the request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import ValidationError
from sqlmodel import col, select

from fellesdrift.kernel.problems import from_validation_errors, invalid
from register.deps import ApiDb
from register.routes.common import CSRF, After, Limit
from register.schemas import Page
from servicedesk.changes.choices import ChangeState, ChangeType
from servicedesk.changes.models import ChangePolicy, ChangeRecord, ChangeTemplate
from servicedesk.changes.policy import PolicySettings
from servicedesk.changes.routes.views import change_detail, change_out
from servicedesk.changes.schemas import (
    ChangeCreate,
    ChangeDetail,
    ChangeOut,
    ChangeUpdate,
    DecisionIn,
    DecisionOut,
    LinkIn,
    MeetingIn,
    MeetingOut,
    MinutesIn,
    PolicyIn,
    PolicyOut,
    TemplateOut,
    TransitionIn,
)
from servicedesk.changes.service import approvals, cab, lifecycle, records
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.routes.api_common import page, saving

router = APIRouter(prefix="/api/v1", tags=["changes"], dependencies=CSRF)


def _detail(db: ApiDb, change_id: int) -> ChangeDetail:
    ticket, record = records.get_change(db, change_id)
    return change_detail(db, ticket, record)


@router.get("/changes", response_model=Page[ChangeOut], summary="List changes")
def list_changes(
    db: ApiDb,
    limit: Limit = 50,
    after: After = None,
    state: Annotated[list[ChangeState] | None, Query()] = None,
    change_type: Annotated[list[ChangeType] | None, Query()] = None,
) -> dict[str, Any]:
    """The changes the caller may see, newest first."""
    stmt = select(ChangeRecord)
    if state:
        stmt = stmt.where(col(ChangeRecord.state).in_([s.value for s in state]))
    if change_type:
        stmt = stmt.where(col(ChangeRecord.change_type).in_([t.value for t in change_type]))
    visible = select(Ticket.id)
    stmt = stmt.where(col(ChangeRecord.ticket_id).in_(visible))

    def convert(record: ChangeRecord) -> ChangeOut:
        ticket = db.get(Ticket, record.ticket_id)
        assert ticket is not None
        return change_out(db, ticket, record)

    result = page(db, stmt, ChangeRecord.ticket_id, limit, after, lambda r: r, newest_first=True)
    result["items"] = [convert(r) for r in result["items"]]
    return result


@router.post("/changes", response_model=ChangeDetail, status_code=201, summary="Record a change")
def create_change(db: ApiDb, data: ChangeCreate) -> ChangeDetail:
    with saving(db):
        ticket, record = records.create_change(db, data)
    return change_detail(db, ticket, record)


@router.get("/changes/{change_id}", response_model=ChangeDetail, summary="A change")
def get_change(db: ApiDb, change_id: int) -> ChangeDetail:
    """The change with the rules that apply to it and why, its decisions, conflicts,
    affected kommuner and dependent systems."""
    return _detail(db, change_id)


@router.patch("/changes/{change_id}", response_model=ChangeDetail, summary="Edit a draft")
def update_change(db: ApiDb, change_id: int, data: ChangeUpdate) -> ChangeDetail:
    with saving(db):
        ticket, record = records.update_change(db, change_id, data)
    return change_detail(db, ticket, record)


@router.post(
    "/changes/{change_id}/transitions", response_model=ChangeDetail, summary="Move a change"
)
def move_change(db: ApiDb, change_id: int, data: TransitionIn) -> ChangeDetail:
    with saving(db):
        ticket, record = lifecycle.transition(db, change_id, data.to, data.comment, data.review)
    return change_detail(db, ticket, record)


@router.post(
    "/changes/{change_id}/approvals",
    response_model=DecisionOut,
    status_code=201,
    summary="A systemeier's decision",
)
def approve_change(db: ApiDb, change_id: int, data: DecisionIn) -> DecisionOut:
    with saving(db):
        row = approvals.decide(db, change_id, data, systemeier=True)
    return DecisionOut.model_validate(row)


@router.post(
    "/changes/{change_id}/votes",
    response_model=DecisionOut,
    status_code=201,
    summary="A CAB member's vote",
)
def vote_change(db: ApiDb, change_id: int, data: DecisionIn) -> DecisionOut:
    with saving(db):
        row = approvals.decide(db, change_id, data, systemeier=False)
    return DecisionOut.model_validate(row)


@router.post("/changes/{change_id}/links", response_model=ChangeDetail, summary="Link a ticket")
def link_change(db: ApiDb, change_id: int, data: LinkIn) -> ChangeDetail:
    """An incident this change caused, or the problem that led to it."""
    ticket, _ = records.get_change(db, change_id)
    with saving(db):  # the link's write rule: the drift unit
        records.link(db, ticket, data.ticket_id, data.kind)
    return _detail(db, change_id)


@router.get("/change-templates", response_model=list[TemplateOut], summary="Standard changes")
def list_templates(db: ApiDb) -> list[ChangeTemplate]:
    return list(db.exec(select(ChangeTemplate).order_by(col(ChangeTemplate.name))))


@router.get("/change-policies", response_model=list[PolicyOut], summary="Policy versions")
def list_policies(db: ApiDb) -> list[ChangePolicy]:
    return list(db.exec(select(ChangePolicy).order_by(col(ChangePolicy.valid_from))))


@router.post(
    "/change-policies", response_model=PolicyOut, status_code=201, summary="A policy version"
)
def add_policy(db: ApiDb, data: PolicyIn) -> ChangePolicy:
    """A new policy version (admins). Its validity may not overlap another version's."""
    from servicedesk.changes.service.policies import add_policy as add

    try:
        settings = PolicySettings.model_validate(data.rules)
    except ValidationError as exc:
        raise invalid(from_validation_errors(exc.errors(), prefix="rules.")) from exc
    with saving(db):
        return add(db, data, settings)


@router.get("/cab/meetings", response_model=list[MeetingOut], summary="CAB meetings")
def list_meetings(db: ApiDb) -> list[MeetingOut]:
    return [MeetingOut.model_validate(m, from_attributes=True) for m in cab.meetings(db)]


@router.post("/cab/meetings", response_model=MeetingOut, status_code=201, summary="Plan a meeting")
def create_meeting(db: ApiDb, data: MeetingIn) -> MeetingOut:
    with saving(db):
        meeting = cab.create_meeting(db, data)
    return cab.meeting_out(db, meeting)


@router.get("/cab/meetings/{meeting_id}", response_model=MeetingOut, summary="Agenda, minutes")
def get_meeting(db: ApiDb, meeting_id: int) -> MeetingOut:
    return cab.meeting_out(db, cab.get_meeting(db, meeting_id))


@router.post(
    "/cab/meetings/{meeting_id}/agenda", response_model=MeetingOut, summary="Send the agenda"
)
def send_agenda(db: ApiDb, meeting_id: int) -> MeetingOut:
    with saving(db):
        meeting = cab.send_agenda(db, meeting_id)
    return cab.meeting_out(db, meeting)


@router.post(
    "/cab/meetings/{meeting_id}/minutes", response_model=MeetingOut, summary="Record minutes"
)
def record_minutes(db: ApiDb, meeting_id: int, data: MinutesIn) -> MeetingOut:
    with saving(db):
        meeting = cab.close_meeting(db, meeting_id, data.notes)
    return cab.meeting_out(db, meeting)
