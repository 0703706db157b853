"""A change's way through policy, approvals and the lifecycle, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from fellesdrift.kernel.problems import Problem
from servicedesk.changes.choices import ChangeState, ChangeType, RuleCode, Vote
from servicedesk.changes.models import ChangeRecord
from servicedesk.changes.schemas import ChangeCreate, ChangeUpdate, DecisionIn
from servicedesk.changes.service import approvals, lifecycle, records
from servicedesk.tickets.models import Ticket, TicketEntry
from tests.changes.conftest import RISK_LOW, World, next_window


def _draft(w: World, **kw: object) -> int:
    start, end = next_window()
    data = {
        "title": "Oppgradere helsejournal",
        "reason": "Leverandøren krever ny versjon",
        "ci_ids": [w.health.id],
        "implementation_plan": "Kjør oppgraderingen",
        "test_plan": "Logg inn og åpne en journal",
        "backout_plan": "Gjenopprett fra snapshot",
        "planned_start": start,
        "planned_end": end,
        "risk_answers": RISK_LOW,
    } | kw
    ticket, _ = w.run(w.agent, records.create_change, ChangeCreate(**data))  # type: ignore[arg-type]
    return int(ticket.id)


def _state(w: World, change_id: int) -> str:
    with w.make.session() as s:
        record = s.get(ChangeRecord, change_id)
        assert record is not None
        return record.state


def _to_approval(w: World, change_id: int) -> None:
    for to in (ChangeState.SUBMITTED, ChangeState.ASSESSMENT, ChangeState.AWAITING_APPROVAL):
        w.run(w.agent, lifecycle.transition, change_id, to)


def test_normal_change_on_life_and_health_system_needs_systemeier_and_cab(world: World) -> None:
    change_id = _draft(world)
    with world.make.session() as s:
        ticket = s.get(Ticket, change_id)
        assert ticket is not None and ticket.type == "change"
        record = s.get(ChangeRecord, change_id)
        assert record is not None
        req = lifecycle.requirements_for(s, record)
        codes = {r.code for r in req.rules}
        assert {
            RuleCode.SYSTEMEIER_APPROVAL,
            RuleCode.CAB_APPROVAL,
            RuleCode.BACKOUT_PLAN,
            RuleCode.LEAD_TIME,
            RuleCode.MAINTENANCE_WINDOW,
            RuleCode.REVIEW,
        } <= codes
        # The kommuner that use the system follow from the register.
        assert records.kommune_ids_of(s, change_id) == sorted(
            [int(world.a.id or 0), int(world.b.id or 0)]
        )
    _to_approval(world, change_id)
    approve = DecisionIn(vote=Vote.APPROVE, comment="OK for oss")
    world.run(world.eier, approvals.decide, change_id, approve, True)
    assert _state(world, change_id) == ChangeState.AWAITING_APPROVAL  # the CAB is still out
    world.run(world.cab[0], approvals.decide, change_id, approve, False)
    assert _state(world, change_id) == ChangeState.AWAITING_APPROVAL  # quorum is two
    world.run(world.cab[2], approvals.decide, change_id, DecisionIn(vote=Vote.APPROVE), False)
    assert _state(world, change_id) == ChangeState.APPROVED
    with world.make.session() as s:
        moves = [
            e.change.get("new")
            for e in s.exec(select(TicketEntry).where(TicketEntry.ticket_id == change_id))
            if e.change.get("field") == "change_state"
        ]
    assert moves == ["submitted", "assessment", "awaiting_approval", "approved"]
    # The lifecycle goes on to the review the strict rules require.
    for to in (ChangeState.SCHEDULED, ChangeState.IN_PROGRESS, ChangeState.IMPLEMENTED):
        world.run(world.agent, lifecycle.transition, change_id, to)
    with pytest.raises(Problem, match="post-implementation review"):
        world.run(world.agent, lifecycle.transition, change_id, ChangeState.CLOSED)
    world.run(world.agent, lifecycle.transition, change_id, ChangeState.REVIEW)
    with pytest.raises(Problem, match="review found"):
        world.run(world.agent, lifecycle.transition, change_id, ChangeState.CLOSED)
    world.run(world.agent, lifecycle.transition, change_id, ChangeState.CLOSED, "", "Gikk fint")
    assert _state(world, change_id) == ChangeState.CLOSED


def test_submission_refused_naming_each_missing_rule(world: World) -> None:
    change_id = _draft(world, backout_plan="", test_plan="")
    with pytest.raises(Problem) as caught:
        world.run(world.agent, lifecycle.transition, change_id, ChangeState.SUBMITTED)
    fields = {e.field: e.code for e in caught.value.errors}
    assert fields["backout_plan"] == "changes_err.backout_required"
    assert fields["test_plan"] == "changes_err.test_plan_missing"
    assert "Helsejournal" in caught.value.detail or "backout" in str(caught.value.errors[0])
    assert _state(world, change_id) == ChangeState.DRAFT  # nothing half-written


def test_window_and_lead_time_are_enforced(world: World) -> None:
    start, end = next_window()
    change_id = _draft(world, planned_start=start - timedelta(hours=2), planned_end=end)
    with pytest.raises(Problem) as caught:
        world.run(world.agent, lifecycle.transition, change_id, ChangeState.SUBMITTED)
    assert [e.code for e in caught.value.errors] == ["changes_err.outside_window"]
    from datetime import datetime

    from sla.calendar import OSLO

    soon = datetime.now(OSLO) + timedelta(days=1)
    w2 = _draft(world, planned_start=soon, planned_end=soon + timedelta(hours=1))
    with pytest.raises(Problem) as caught:
        world.run(world.agent, lifecycle.transition, w2, ChangeState.SUBMITTED)
    assert "changes_err.lead_time" in [e.code for e in caught.value.errors]


def test_no_standard_change_on_a_strict_system(world: World) -> None:
    from servicedesk.changes.models import ChangeTemplate

    template = world.make.run(
        lambda s: _add(s, ChangeTemplate(key="restart", name="Omstart", implementation_plan="x"))
    )
    change_id = _draft(world, change_type=ChangeType.STANDARD, template_id=template.id)
    with pytest.raises(Problem) as caught:
        world.run(world.agent, lifecycle.transition, change_id, ChangeState.SUBMITTED)
    assert "changes_err.no_standard" in [e.code for e in caught.value.errors]
    # On an ordinary system the template's change is approved at submission.
    ok = _draft(
        world, change_type=ChangeType.STANDARD, template_id=template.id, ci_ids=[world.plain.id]
    )
    world.run(world.agent, lifecycle.transition, ok, ChangeState.SUBMITTED)
    assert _state(world, ok) == ChangeState.APPROVED


def _add(s, row):  # type: ignore[no-untyped-def]
    s.add(row)
    s.flush()
    return row


def test_own_change_and_second_vote_are_refused(world: World) -> None:
    change_id = _draft(world, ci_ids=[world.plain.id], risk_answers=RISK_LOW)
    _to_approval(world, change_id)
    with pytest.raises(Problem) as caught:
        world.run(world.agent, approvals.decide, change_id, DecisionIn(vote=Vote.APPROVE), True)
    assert caught.value.code == "changes_err.own_change"
    # A systemeier of another system may not approve; a reject needs a reason.
    with pytest.raises(Problem):
        world.run(world.eier, approvals.decide, change_id, DecisionIn(vote=Vote.APPROVE), True)
    with pytest.raises(ValueError, match="must say why"):
        DecisionIn(vote=Vote.REJECT)
    world.run(
        world.plain_eier,
        approvals.decide,
        change_id,
        DecisionIn(vote=Vote.REJECT, comment="Ikke i eksamensperioden"),
        True,
    )
    assert _state(world, change_id) == ChangeState.REJECTED
    with pytest.raises(Problem) as caught:
        world.run(
            world.plain_eier, approvals.decide, change_id, DecisionIn(vote=Vote.APPROVE), True
        )
    assert caught.value.code == "changes_err.not_awaiting"


def test_emergency_change_needs_two_ecab_votes_and_a_review(world: World) -> None:
    change_id = _draft(world, change_type=ChangeType.EMERGENCY, ci_ids=[world.plain.id])
    world.run(world.agent, lifecycle.transition, change_id, ChangeState.SUBMITTED)
    assert _state(world, change_id) == ChangeState.AWAITING_APPROVAL
    world.run(world.cab[0], approvals.decide, change_id, DecisionIn(vote=Vote.APPROVE), False)
    with pytest.raises(Problem) as caught:
        world.run(world.cab[0], approvals.decide, change_id, DecisionIn(vote=Vote.APPROVE), False)
    assert caught.value.code == "changes_err.voted_twice" and caught.value.status == 409
    world.run(world.cab[1], approvals.decide, change_id, DecisionIn(vote=Vote.APPROVE), False)
    assert _state(world, change_id) == ChangeState.APPROVED
    for to in (ChangeState.SCHEDULED, ChangeState.IN_PROGRESS, ChangeState.IMPLEMENTED):
        world.run(world.agent, lifecycle.transition, change_id, to)
    with pytest.raises(Problem):
        world.run(world.agent, lifecycle.transition, change_id, ChangeState.CLOSED)


def test_end_before_start_and_edits_after_submission_refused(world: World) -> None:
    start, end = next_window()
    with pytest.raises(ValueError, match="planned end must come after"):
        ChangeCreate(title="x", ci_ids=[1], planned_start=end, planned_end=start)
    change_id = _draft(world)
    with pytest.raises(Problem) as caught:
        world.run(
            world.agent,
            records.update_change,
            change_id,
            ChangeUpdate(planned_start=end + timedelta(hours=1)),
        )
    assert caught.value.code == "changes_err.end_before_start"
    world.run(world.agent, lifecycle.transition, change_id, ChangeState.SUBMITTED)
    with pytest.raises(Problem) as caught:
        world.run(world.agent, records.update_change, change_id, ChangeUpdate(title="Nytt"))
    assert caught.value.code == "changes_err.not_editable"
