"""The escalation job on PostgreSQL: each threshold warns once per clock, a breach is recorded
once, and a run killed before its commit is redone without sending anything twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import select

from fellesdrift.assembly.jobs import JOBS
from register.jobs import Outcome, run_job
from servicedesk.tickets.models import Notification
from servicedesk.tickets.schemas import TicketCreate, TicketUpdate
from servicedesk.tickets.service import core
from servicedesk.tickets.service.escalation import EscalationReport, escalate, handle_clock
from tests.tickets.sla.conftest import SlaWorld, clocks, events

RECIPIENTS = {"agent1@drift.no", "leder@drift.no", "driftsleder@drift.no", "leder@alfa.no"}


def _p1(world, sla: SlaWorld, as_user):  # type: ignore[no-untyped-def]
    anne, agent = as_user(world.user_a), as_user(world.agent)
    assert sla.journal.id is not None
    ticket = core.create_ticket(
        anne, TicketCreate(title="Journalen er nede", impact=1, urgency=1, ci_ids=[sla.journal.id])
    )
    anne.commit()
    core.update_ticket(
        agent,
        ticket.id,
        TicketUpdate(
            version=ticket.version, assignee_id=world.agent.id, assignment_group_id=sla.group.id
        ),
    )
    agent.commit()
    return ticket


def _sla_mail(make, ticket_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with make.session() as s:
        rows = s.exec(
            select(Notification).where(
                Notification.ticket_id == ticket_id,
                Notification.reason.startswith("sla_"),  # type: ignore[attr-defined]
            )
        )
        return sorted((n.reason, n.email) for n in rows)


def test_thresholds_warn_once_and_the_breach_is_recorded_once(
    world, sla: SlaWorld, as_user, make
) -> None:
    ticket = _p1(world, sla, as_user)
    start = ticket.created_at  # resolution 2 h round the clock, warnings at 50 and 100 %
    run = lambda now: escalate(make.session, now)  # noqa: E731
    assert str(run(start + timedelta(minutes=59))).startswith("warnings 0")
    first = run(start + timedelta(hours=1, seconds=1))
    assert (first.warned, first.breached, first.notifications) == (1, 0, 4)
    assert _sla_mail(make, ticket.id) == sorted(("sla_warning_resolution", e) for e in RECIPIENTS)
    again = run(start + timedelta(hours=1, minutes=30))
    assert (again.warned, again.notifications) == (0, 0)
    breach = run(start + timedelta(hours=2, seconds=1))
    assert (breach.warned, breach.breached, breach.notifications) == (1, 1, 4)
    assert run(start + timedelta(hours=5)).notifications == 0
    mails = _sla_mail(make, ticket.id)
    assert len(mails) == 8 and sum(r == "sla_breach_resolution" for r, _ in mails) == 4
    c = clocks(make, ticket.id)["resolution"]
    assert c.breached_at == c.due_at == start + timedelta(hours=2) and c.warned_pct == 100
    assert events(make, ticket.id, "resolution") == ["start", "warned", "breached", "warned"]
    with make.session() as s:
        body = s.exec(
            select(Notification.body).where(Notification.email == "leder@alfa.no")
        ).first()
    assert body is not None and "har brukt 50 % av løsningsfristen" in body


def test_a_run_killed_before_its_commit_is_redone_without_duplicates(
    world, sla: SlaWorld, as_user, make
) -> None:
    ticket = _p1(world, sla, as_user)
    now: datetime = ticket.created_at + timedelta(hours=1, minutes=1)
    clock_id = clocks(make, ticket.id)["resolution"].id
    with make.session() as killed:
        happened = handle_clock(killed, clock_id, now, EscalationReport())
        assert [h.event.value for h in happened] == ["warned"]
        killed.flush()  # written, notifications queued ... and the process dies here
        killed.rollback()
    assert _sla_mail(make, ticket.id) == []
    assert clocks(make, ticket.id)["resolution"].warned_pct == 0
    assert escalate(make.session, now).notifications == 4
    assert escalate(make.session, now).notifications == 0
    assert len(_sla_mail(make, ticket.id)) == 4


def test_the_job_is_registered_and_runs_under_its_lock(
    world, sla: SlaWorld, settings, engine
) -> None:
    job = JOBS["sla-escalate"]
    assert run_job(job, settings, engine) == Outcome.OK
