"""Decisions on a change: the systemeiere's approvals and the CAB's (or the emergency CAB's)
votes, and the outcome they give under the policy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import forbidden
from register.access import elevated, principal_of
from register.choices import Responsibility, Role
from register.models import CIResponsibility, ConfigItem
from register.service import get_visible
from servicedesk.changes.choices import ChangeState, DecisionKind, MeetingState, RuleCode, Vote
from servicedesk.changes.models import CabMeeting, ChangeDecision, ChangeRecord
from servicedesk.changes.policy import Requirements
from servicedesk.changes.schemas import DecisionIn
from servicedesk.changes.service.lifecycle import move_as_system, requirements_for
from servicedesk.changes.service.records import get_change, rule_error, systems_of
from servicedesk.tickets.choices import EntryKind
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.service import core as tickets


@dataclass
class Outcome:
    """Where the approvals of a change stand: what is still missing, and the result."""

    pending: list[str] = field(default_factory=list)
    rejected: bool = False

    @property
    def approved(self) -> bool:
        return not self.pending and not self.rejected


def systemeiere(session: Session, ci_ids: list[int]) -> dict[int, set[int]]:
    """The systemeiere of each system (read as the system: they decide, seen or not)."""
    out: dict[int, set[int]] = {ci_id: set() for ci_id in ci_ids}
    with elevated(session, "change approvers"):
        rows = session.exec(
            select(CIResponsibility).where(
                col(CIResponsibility.ci_id).in_(ci_ids),
                CIResponsibility.kind == Responsibility.SYSTEMEIER.value,
            )
        )
        for row in rows:
            out[row.ci_id].add(row.user_id)
    return out


def decisions_of(session: Session, change_id: int) -> list[ChangeDecision]:
    return list(
        session.exec(
            select(ChangeDecision)
            .where(ChangeDecision.ticket_id == change_id)
            .order_by(col(ChangeDecision.decided_at), col(ChangeDecision.id))
        )
    )


def outcome(session: Session, record: ChangeRecord, req: Requirements) -> Outcome:
    with elevated(session, "change outcome"):  # every vote counts, seen by the reader or not
        votes = decisions_of(session, record.ticket_id)
    out = Outcome()
    if req.has(RuleCode.SYSTEMEIER_APPROVAL):
        _systemeier_outcome(session, record, votes, out)
    if req.has(RuleCode.CAB_APPROVAL):
        _cab_outcome(votes, DecisionKind.CAB, req.settings.cab_quorum, out)
    if req.has(RuleCode.ECAB_APPROVAL):
        _ecab_outcome(votes, req.settings.ecab_min_approvers, out)
    return out


def _systemeier_outcome(
    session: Session, record: ChangeRecord, votes: list[ChangeDecision], out: Outcome
) -> None:
    systems = systems_of(session, record.ticket_id)
    owners = systemeiere(session, [ci.id for ci in systems if ci.id is not None])
    mine = [v for v in votes if v.kind == DecisionKind.SYSTEMEIER]
    out.rejected |= any(v.vote == Vote.REJECT for v in mine)
    approvers = {v.user_id for v in mine if v.vote == Vote.APPROVE}
    for ci in systems:
        if not owners.get(ci.id or 0, set()) & approvers:
            out.pending.append(f"systemeier:{ci.name}")


def _cab_outcome(
    votes: list[ChangeDecision], kind: DecisionKind, quorum: int, out: Outcome
) -> None:
    counts = Counter(v.vote for v in votes if v.kind == kind)
    if sum(counts.values()) < quorum or counts[Vote.APPROVE] == counts[Vote.REJECT]:
        out.pending.append(kind.value)
    elif counts[Vote.REJECT] > counts[Vote.APPROVE]:
        out.rejected = True


def _ecab_outcome(votes: list[ChangeDecision], needed: int, out: Outcome) -> None:
    counts = Counter(v.vote for v in votes if v.kind == DecisionKind.ECAB)
    if counts[Vote.REJECT] >= needed:
        out.rejected = True
    elif counts[Vote.APPROVE] < needed:
        out.pending.append(DecisionKind.ECAB.value)


def kind_for(req: Requirements, systemeier: bool) -> DecisionKind:
    if systemeier:
        return DecisionKind.SYSTEMEIER
    return DecisionKind.ECAB if req.has(RuleCode.ECAB_APPROVAL) else DecisionKind.CAB


def decide(session: Session, change_id: int, data: DecisionIn, systemeier: bool) -> ChangeDecision:
    """A systemeier's approval (``systemeier``) or a CAB member's vote on a change awaiting
    approval; completes the change (approved or rejected) when the decisions are in."""
    ticket, record = get_change(session, change_id, lock=True)
    p = principal_of(session)
    if record.state != ChangeState.AWAITING_APPROVAL:
        raise rule_error(
            "not_awaiting", "the change is not awaiting approval", status=409, state=record.state
        )
    req = requirements_for(session, record)
    kind = kind_for(req, systemeier)
    _check_decider(session, ticket, record, req, kind, data)
    if (
        session.exec(
            select(ChangeDecision).where(
                ChangeDecision.ticket_id == change_id,
                ChangeDecision.kind == kind.value,
                ChangeDecision.user_id == p.user_id,
            )
        ).first()
        is not None
    ):
        raise rule_error(
            "voted_twice", "you have already decided on this change", field="vote", status=409
        )
    row = ChangeDecision(
        ticket_id=change_id,
        kind=kind.value,
        user_id=p.user_id,  # type: ignore[arg-type]
        vote=data.vote.value,
        comment=data.comment.strip(),
        meeting_id=data.meeting_id,
    )
    session.add(row)
    tickets.add_entry(
        session,
        ticket,
        EntryKind.SYSTEM,
        body=row.comment,
        change={"event": "decision", "kind": kind.value, "vote": row.vote},
    )
    session.flush()
    result = outcome(session, record, req)
    if result.rejected:
        move_as_system(
            session, ticket, record, ChangeState.REJECTED, "changes.auto.rejected", p.user_id
        )
    elif result.approved:
        move_as_system(
            session, ticket, record, ChangeState.APPROVED, "changes.auto.approved", p.user_id
        )
    return row


def _check_decider(
    session: Session,
    ticket: Ticket,
    record: ChangeRecord,
    req: Requirements,
    kind: DecisionKind,
    data: DecisionIn,
) -> None:
    p = principal_of(session)
    if p.user_id in {ticket.requester_id, ticket.created_by_id, ticket.assignee_id}:
        raise rule_error(
            "own_change", "nobody approves or votes on their own change", field="vote", status=403
        )
    if kind == DecisionKind.SYSTEMEIER:
        if not req.has(RuleCode.SYSTEMEIER_APPROVAL):
            raise rule_error(
                "no_systemeier_step",
                "this change needs no systemeier approval",
                field="vote",
                status=409,
            )
        ids = [ci.id for ci in systems_of(session, record.ticket_id) if ci.id is not None]
        if not any(p.user_id in owners for owners in systemeiere(session, ids).values()):
            raise forbidden("only a systemeier of an affected system approves here")
        if data.vote == Vote.ABSTAIN:
            raise rule_error("no_abstain", "a systemeier approves or rejects", field="vote")
        return
    if not p.has(Role.CAB_MEMBER) or p.is_system:
        raise forbidden("only members of the CAB vote")
    if kind == DecisionKind.CAB and not req.has(RuleCode.CAB_APPROVAL):
        raise rule_error(
            "no_cab_step", "this change does not go to the CAB", field="vote", status=409
        )
    if data.meeting_id is not None:
        meeting = get_visible(session, CabMeeting, data.meeting_id)
        if meeting.state == MeetingState.HELD:
            raise rule_error(
                "meeting_held",
                "the meeting is over; its minutes are final",
                field="meeting_id",
                status=409,
            )


def systems_named(session: Session, ids: list[int]) -> dict[int, str]:
    with elevated(session, "change systems"):
        rows = session.exec(select(ConfigItem).where(col(ConfigItem.id).in_(ids)))
        return {ci.id: ci.name for ci in rows if ci.id is not None}
