"""Tickets' SLA clocks on PostgreSQL: started when filed from the agreement in force for the
kommune and the system, moved by replies, status moves and priority changes, with history."""

from __future__ import annotations

from datetime import timedelta

from servicedesk.tickets.schemas import LinkIn, ReplyIn, TicketCreate, TicketUpdate, Transition
from servicedesk.tickets.service import core, lifecycle, links
from sla.calendar import ALWAYS, SERVICE_DESK
from tests.tickets.sla.conftest import SlaWorld, clocks, events


def _file(session, **kw):  # type: ignore[no-untyped-def]
    ticket = core.create_ticket(session, TicketCreate(**({"title": "Journalen henger"} | kw)))
    session.commit()
    return ticket


def test_filed_incident_gets_due_times_from_its_kommunes_agreement(
    world, sla: SlaWorld, as_user, make
) -> None:
    critical = _file(as_user(world.user_a), ci_ids=[sla.journal.id])  # P3
    c = clocks(make, critical.id)
    assert (c["response"].level, c["response"].agreement) == ("kritisk", "Alfa 2024")
    # Round the clock: exactly 1 h and 8 h after filing.
    assert c["response"].due_at == critical.created_at + timedelta(hours=1)
    assert c["resolution"].due_at == critical.created_at + timedelta(hours=8)
    assert events(make, critical.id, "response") == ["start"]

    plain = _file(as_user(world.user_b), ci_ids=[sla.journal.id])  # Beta: the default
    c = clocks(make, plain.id)
    assert (c["response"].level, c["response"].agreement) == ("standard", "Standard")
    desk = SERVICE_DESK.with_closed_days((), [(12, 24)])
    assert c["response"].due_at == desk.add_working_time(plain.created_at, 4 * 3600)
    assert c["resolution"].due_at == desk.add_working_time(plain.created_at, 16 * 3600)

    problem = _file(as_user(world.agent), type="problem", title="Rotårsak")
    assert clocks(make, problem.id) == {}


def test_reply_meets_response_resolve_meets_resolution_and_reopen_continues(
    world, sla: SlaWorld, as_user, make
) -> None:
    anne, agent = as_user(world.user_a), as_user(world.agent)
    ticket = _file(anne, ci_ids=[sla.journal.id])
    lifecycle.reply(agent, ticket.id, ReplyIn(body="Internt", public=False))
    agent.commit()
    assert clocks(make, ticket.id)["response"].state == "running"  # a note is no response
    lifecycle.reply(agent, ticket.id, ReplyIn(body="Vi ser på det."))
    agent.commit()
    c = clocks(make, ticket.id)
    assert c["response"].state == "met" and c["resolution"].state == "running"
    t = lifecycle.transition(
        agent, ticket.id, Transition(version=ticket.version, status="resolved", resolution="Ok")
    )
    agent.commit()
    resolved = clocks(make, ticket.id)["resolution"]
    assert resolved.state == "met" and resolved.met_at == t.resolved_at
    anne = as_user(world.user_a)
    t = lifecycle.transition(anne, ticket.id, Transition(version=t.version, status="in_progress"))
    anne.commit()
    again = clocks(make, ticket.id)["resolution"]
    assert again.state == "running" and again.met_at is None
    # The time it lay resolved is not counted: the due time moved by exactly that much.
    assert again.paused_seconds == ALWAYS.working_seconds(resolved.met_at, t.updated_at)
    assert again.due_at == ticket.created_at + timedelta(hours=8, seconds=again.paused_seconds)
    assert events(make, ticket.id, "response") == ["start", "met"]
    assert events(make, ticket.id, "resolution") == ["start", "met", "resume"]


def test_assignment_is_an_agents_status_change_and_meets_the_response(
    world, sla: SlaWorld, as_user, make
) -> None:
    ticket = _file(as_user(world.user_b))
    agent = as_user(world.agent)
    core.update_ticket(
        agent, ticket.id, TicketUpdate(version=ticket.version, assignee_id=world.agent.id)
    )
    agent.commit()
    assert clocks(make, ticket.id)["response"].state == "met"


def test_pending_pauses_only_for_the_reasons_the_level_names(
    world, sla: SlaWorld, as_user, make
) -> None:
    agent = as_user(world.agent)
    critical = _file(as_user(world.user_a), ci_ids=[sla.journal.id])  # pauses on vendor only
    t = lifecycle.transition(
        agent, critical.id,
        Transition(version=critical.version, status="pending", pending_reason="user"),
    )  # fmt: skip
    agent.commit()
    assert clocks(make, critical.id)["resolution"].state == "running"
    t = lifecycle.transition(
        agent, critical.id, Transition(version=t.version, status="in_progress")
    )
    t = lifecycle.transition(
        agent, critical.id, Transition(version=t.version, status="pending", pending_reason="vendor")
    )
    agent.commit()
    paused = clocks(make, critical.id)["resolution"]
    assert paused.state == "paused" and paused.paused_since == t.updated_at
    t = lifecycle.transition(
        agent, critical.id, Transition(version=t.version, status="in_progress")
    )
    agent.commit()
    resumed = clocks(make, critical.id)["resolution"]
    assert resumed.state == "running"
    assert resumed.paused_seconds == (t.updated_at - paused.paused_since).total_seconds()
    assert resumed.due_at == critical.created_at + timedelta(
        hours=8, seconds=resumed.paused_seconds
    )
    assert events(make, critical.id, "resolution") == ["start", "pause", "resume"]
    # The response was met by the agent's first status change, before any pause.
    assert events(make, critical.id, "response") == ["start", "met"]


def test_priority_change_recomputes_from_the_filing_time(
    world, sla: SlaWorld, as_user, make
) -> None:
    ticket = _file(as_user(world.user_a), ci_ids=[sla.journal.id])  # P3: 8 h
    agent = as_user(world.agent)
    t = core.update_ticket(
        agent, ticket.id, TicketUpdate(version=ticket.version, impact=1, urgency=1)
    )
    agent.commit()
    assert t.priority == 1
    c = clocks(make, ticket.id)
    assert c["resolution"].due_at == ticket.created_at + timedelta(hours=2)
    assert c["response"].due_at == ticket.created_at + timedelta(minutes=15)
    assert c["resolution"].priority == 1
    assert events(make, ticket.id, "resolution") == ["start", "recomputed"]


def test_cancel_stops_the_clocks(world, sla: SlaWorld, as_user, make) -> None:
    anne = as_user(world.user_a)
    ticket = _file(anne)
    lifecycle.transition(anne, ticket.id, Transition(version=ticket.version, status="cancelled"))
    anne.commit()
    assert {c.state for c in clocks(make, ticket.id).values()} == {"stopped"}


def test_each_mass_outage_child_follows_its_own_kommunes_agreement(
    world, sla: SlaWorld, as_user, make
) -> None:
    agent = as_user(world.agent)
    parent = _file(agent, title="Journal nede", major=True, ci_ids=[sla.journal.id])
    assert clocks(make, parent.id)["response"].agreement == "Standard"  # no kommune
    kids = {}
    for user in (world.user_a, world.user_b):
        child = _file(as_user(user), ci_ids=[sla.journal.id])
        links.link(agent, child.id, LinkIn(kind="parent", target_id=parent.id))
        agent.commit()
        kids[user.username] = child
    assert clocks(make, kids["anne"].id)["resolution"].level == "kritisk"
    assert clocks(make, kids["bjorn"].id)["resolution"].level == "standard"
    # A public reply on the parent reaches each child's requester: it answers them all.
    lifecycle.reply(agent, parent.id, ReplyIn(body="Vi jobber med saken", public=True))
    agent.commit()
    for child in kids.values():
        assert clocks(make, child.id)["response"].state == "met"
        assert clocks(make, child.id)["resolution"].state == "running"
    lifecycle.transition(
        agent, parent.id, Transition(version=parent.version, status="resolved", resolution="Ok")
    )
    agent.commit()
    for child in kids.values():
        assert {c.state for c in clocks(make, child.id).values()} == {"met"}
