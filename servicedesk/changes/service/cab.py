"""The change-advisory board: meetings, the agenda generated from the changes awaiting the
CAB (by planned start, with their risk, systems, conflicts and the systemeiere's decisions),
the notice to the members and the minutes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.problems import forbidden
from fellesdrift.kernel.types import utcnow
from register.access import elevated, principal_of
from register.choices import Role
from register.models import CIRelation, RoleGrant, User
from register.service import get_visible
from servicedesk.changes.choices import (
    LIVE_STATES,
    ChangeState,
    DecisionKind,
    MeetingState,
    RuleCode,
)
from servicedesk.changes.models import CabAgendaItem, CabMeeting, ChangeRecord
from servicedesk.changes.rules import is_drift_agent
from servicedesk.changes.schemas import AgendaItemOut, DecisionOut, MeetingIn, MeetingOut
from servicedesk.changes.service.approvals import decisions_of
from servicedesk.changes.service.lifecycle import requirements_for
from servicedesk.changes.service.records import ci_ids_of, rule_error
from servicedesk.tickets.models import Notification, Ticket, TicketCI


def _related(session: Session, ci_ids: list[int]) -> set[int]:
    """The systems and those linked to them by a relation, either way."""
    with elevated(session, "change conflicts"):
        rows = session.exec(
            select(CIRelation).where(
                or_(col(CIRelation.source_id).in_(ci_ids), col(CIRelation.target_id).in_(ci_ids))
            )
        )
        return set(ci_ids) | {x for r in rows for x in (r.source_id, r.target_id)}


def conflicts(session: Session, record: ChangeRecord) -> list[int]:
    """Live changes the reader may see that overlap this one in time on the same systems or
    on systems linked to them by a dependency."""
    if record.planned_start is None or record.planned_end is None:
        return []
    related = _related(session, ci_ids_of(session, record.ticket_id))
    on_related = select(TicketCI.ticket_id).where(col(TicketCI.ci_id).in_(related))
    rows = session.exec(
        select(ChangeRecord.ticket_id).where(
            ChangeRecord.ticket_id != record.ticket_id,
            col(ChangeRecord.state).in_([s.value for s in LIVE_STATES]),
            col(ChangeRecord.planned_start) < record.planned_end,
            col(ChangeRecord.planned_end) > record.planned_start,
            col(ChangeRecord.ticket_id).in_(on_related),
        )
    )
    return sorted(rows)


def _may_run(session: Session) -> None:
    p = principal_of(session)
    if not (is_drift_agent(p) or p.has(Role.CAB_MEMBER)):
        raise forbidden("CAB meetings are run by the drift unit and the CAB")


def create_meeting(session: Session, data: MeetingIn) -> CabMeeting:
    _may_run(session)
    meeting = CabMeeting(
        meets_at=data.meets_at, title=data.title, created_by_id=principal_of(session).user_id
    )
    session.add(meeting)
    session.flush()
    return meeting


def awaiting_cab(session: Session) -> list[ChangeRecord]:
    """Changes awaiting the CAB's decision, by planned start."""
    rows = session.exec(
        select(ChangeRecord)
        .where(ChangeRecord.state == ChangeState.AWAITING_APPROVAL.value)
        .order_by(col(ChangeRecord.planned_start), col(ChangeRecord.ticket_id))
    )
    return [r for r in rows if requirements_for(session, r).has(RuleCode.CAB_APPROVAL)]


def _item(session: Session, record: ChangeRecord, outcome: str = "") -> AgendaItemOut | None:
    ticket = session.get(Ticket, record.ticket_id)
    if ticket is None:
        return None  # not visible to this reader
    votes = [DecisionOut.model_validate(d) for d in decisions_of(session, record.ticket_id)]
    return AgendaItemOut(
        change_id=record.ticket_id,
        title=ticket.title,
        state=record.state,
        risk=record.risk,
        planned_start=record.planned_start,
        planned_end=record.planned_end,
        ci_ids=ci_ids_of(session, record.ticket_id),
        conflicts=conflicts(session, record),
        systemeier_decisions=[v for v in votes if v.kind == DecisionKind.SYSTEMEIER],
        cab_votes=[v for v in votes if v.kind == DecisionKind.CAB],
        outcome=outcome,
    )


def agenda(session: Session, meeting: CabMeeting) -> list[AgendaItemOut]:
    """A planned meeting's agenda is generated afresh; once sent, it is the stored one."""
    if meeting.state == MeetingState.PLANNED:
        items = [_item(session, r) for r in awaiting_cab(session)]
    else:
        stored = session.exec(
            select(CabAgendaItem)
            .where(CabAgendaItem.meeting_id == meeting.id)
            .order_by(col(CabAgendaItem.position))
        )
        items = []
        for row in stored:
            record = session.get(ChangeRecord, row.ticket_id)
            items.append(_item(session, record, row.outcome) if record else None)
    return [i for i in items if i is not None]


def meeting_out(session: Session, meeting: CabMeeting) -> MeetingOut:
    out = MeetingOut.model_validate(meeting, from_attributes=True)
    out.agenda = agenda(session, meeting)
    return out


def get_meeting(session: Session, meeting_id: int) -> CabMeeting:
    return get_visible(session, CabMeeting, meeting_id)


def send_agenda(session: Session, meeting_id: int) -> CabMeeting:
    """Fix the agenda and tell every CAB member it is ready (through the outbox)."""
    _may_run(session)
    meeting = get_meeting(session, meeting_id)
    if meeting.state != MeetingState.PLANNED:
        raise rule_error("agenda_sent", "the agenda has already been sent", status=409)
    records = awaiting_cab(session)
    for position, record in enumerate(records, 1):
        session.add(
            CabAgendaItem(meeting_id=meeting.id, ticket_id=record.ticket_id, position=position)  # type: ignore[arg-type]
        )
    meeting.state = MeetingState.AGENDA_SENT.value
    meeting.agenda_sent_at = utcnow()
    _notify_members(session, meeting, len(records))
    return meeting


def _notify_members(session: Session, meeting: CabMeeting, count: int) -> None:
    with elevated(session, "cab notice"):
        member_ids = select(RoleGrant.user_id).where(RoleGrant.role == Role.CAB_MEMBER.value)
        members = session.exec(
            select(User).where(col(User.id).in_(member_ids), col(User.active).is_(True))
        )
        for user in members:
            if not user.email:
                continue
            values: dict[str, Any] = {
                "id": meeting.id,
                "when": _local(meeting.meets_at),
                "count": count,
            }
            session.add(
                Notification(
                    user_id=user.id,
                    email=user.email,
                    subject=translate("changes.notify.agenda.subject", user.language, **values),
                    body=translate("changes.notify.agenda.body", user.language, **values),
                    reason="cab_agenda",
                )
            )


def _local(moment: datetime) -> str:
    from sla.calendar import OSLO

    return moment.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")


def close_meeting(session: Session, meeting_id: int, notes: str) -> CabMeeting:
    """Record the minutes: each agenda item's outcome as the change stands now."""
    _may_run(session)
    meeting = get_meeting(session, meeting_id)
    if meeting.state == MeetingState.HELD:
        raise rule_error("meeting_held", "the minutes are already recorded", status=409)
    if meeting.state == MeetingState.PLANNED:
        send_agenda(session, meeting_id)
        session.flush()
    for row in session.exec(select(CabAgendaItem).where(CabAgendaItem.meeting_id == meeting.id)):
        record = session.get(ChangeRecord, row.ticket_id)
        row.outcome = record.state if record is not None else ""
        session.add(row)
    meeting.notes = notes
    meeting.state = MeetingState.HELD.value
    return meeting


def meetings(session: Session) -> list[CabMeeting]:
    return list(session.exec(select(CabMeeting).order_by(col(CabMeeting.meets_at).desc())))
