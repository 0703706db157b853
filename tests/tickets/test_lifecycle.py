"""The ticket lifecycle through the service layer on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from fellesdrift.kernel.problems import Problem
from servicedesk.tickets.models import Notification, Ticket
from servicedesk.tickets.schemas import (
    LinkIn,
    RatingIn,
    ReplyIn,
    TicketCreate,
    TicketUpdate,
    Transition,
)
from servicedesk.tickets.service import core, lifecycle, links


def _file(session, **kw):  # type: ignore[no-untyped-def]
    ticket = core.create_ticket(session, TicketCreate(**({"title": "Skriveren virker ikke"} | kw)))
    session.commit()
    return ticket


def test_round_trip_file_answer_resolve_rate(world, as_user, make) -> None:
    anne, agent = as_user(world.user_a), as_user(world.agent)
    ticket = _file(anne, description="Den blinker rødt", impact=2, urgency=2)
    assert ticket.kommune_id == world.a.id and ticket.priority == 2 and ticket.status == "new"

    t = core.update_ticket(
        agent, ticket.id, TicketUpdate(version=ticket.version, assignee_id=world.agent.id)
    )
    agent.commit()
    assert t.status == "assigned"
    lifecycle.reply(agent, ticket.id, ReplyIn(body="Har du prøvd å slå den av og på?"))
    agent.commit()
    t = lifecycle.transition(
        agent,
        ticket.id,
        Transition(version=t.version, status="resolved", resolution="Byttet toner"),
    )
    agent.commit()
    assert t.first_response_at is not None and t.resolved_at is not None

    anne = as_user(world.user_a)  # a new request, as in the portal
    rated = lifecycle.rate(anne, ticket.id, RatingIn(rating=5, comment="Takk!"))
    anne.commit()
    assert rated.rating == 5
    kinds = [e.kind for e in core.timeline(anne, ticket.id)]
    assert kinds[0] == "system" and "reply" in kinds and "status" in kinds
    with make.session() as system:
        mails = system.exec(select(Notification).where(Notification.ticket_id == ticket.id)).all()
    assert {m.reason for m in mails if m.email == "anne@alfa.no"} == {"reply", "resolved"}
    # The agent assigned the ticket to themselves: nobody is told of their own actions.
    assert not [m for m in mails if m.email == "agent1@drift.no"]


def test_other_kommune_cannot_see_or_answer(world, as_user) -> None:
    ticket = _file(as_user(world.user_a))
    bjorn = as_user(world.user_b)
    assert bjorn.get(Ticket, ticket.id) is None
    with pytest.raises(Problem) as err:
        lifecycle.reply(bjorn, ticket.id, ReplyIn(body="hei"))
    assert err.value.status == 404
    assert as_user(world.contact_a).get(Ticket, ticket.id) is not None
    assert as_user(world.agent).get(Ticket, ticket.id) is not None


def test_tlp_red_is_for_named_participants_only(world, as_user) -> None:
    ticket = _file(as_user(world.user_a), tlp="red", ci_ids=[world.shared.id])
    assert as_user(world.agent).get(Ticket, ticket.id) is None
    assert as_user(world.contact_a).get(Ticket, ticket.id) is None
    assert as_user(world.owner).get(Ticket, ticket.id) is None
    assert as_user(world.user_a).get(Ticket, ticket.id) is not None


def test_internal_notes_are_hidden_from_the_requester(world, as_user) -> None:
    ticket = _file(as_user(world.user_a))
    agent = as_user(world.agent)
    lifecycle.reply(
        agent, ticket.id, ReplyIn(body="Intern: brukeren har feil tilgang", public=False)
    )
    agent.commit()
    bodies = [e.body for e in core.timeline(as_user(world.user_a), ticket.id)]
    assert "Intern: brukeren har feil tilgang" not in bodies
    assert "Intern: brukeren har feil tilgang" in [e.body for e in core.timeline(agent, ticket.id)]


def test_invalid_transition_is_refused_with_409(world, as_user) -> None:
    ticket = _file(as_user(world.user_a))
    agent = as_user(world.agent)
    with pytest.raises(Problem) as err:
        lifecycle.transition(agent, ticket.id, Transition(version=ticket.version, status="closed"))
    assert err.value.status == 409 and "cannot become closed" in err.value.detail


def test_stale_version_is_a_conflict_and_changes_nothing(world, as_user) -> None:
    ticket = _file(as_user(world.user_a))
    agent, other = as_user(world.agent), as_user(world.agent2)
    core.update_ticket(agent, ticket.id, TicketUpdate(version=1, title="Skriver i 2. etasje"))
    agent.commit()
    with pytest.raises(Problem) as err:
        core.update_ticket(other, ticket.id, TicketUpdate(version=1, title="Noe annet"))
    assert err.value.status == 409
    other.rollback()
    assert as_user(world.agent).get(Ticket, ticket.id).title == "Skriver i 2. etasje"  # type: ignore[union-attr]


def test_requester_reopens_within_window_but_not_after(world, as_user) -> None:
    anne, agent = as_user(world.user_a), as_user(world.agent)
    ticket = _file(anne)
    t = lifecycle.transition(
        agent, ticket.id, Transition(version=1, status="resolved", resolution="Fikset")
    )
    agent.commit()
    anne = as_user(world.user_a)
    t = lifecycle.transition(
        anne,
        ticket.id,
        Transition(version=t.version, status="in_progress", comment="Feilen kom tilbake"),
    )
    anne.commit()
    assert t.status == "in_progress" and t.reopen_count == 1
    t = lifecycle.transition(
        agent,
        ticket.id,
        Transition(version=t.version, status="resolved", resolution="Fikset igjen"),
    )
    t.resolved_at = t.resolved_at - timedelta(days=40)  # type: ignore[operator]
    agent.commit()
    anne = as_user(world.user_a)
    with pytest.raises(Problem) as err:
        lifecycle.transition(anne, ticket.id, Transition(version=t.version, status="in_progress"))
    assert err.value.status == 409


def test_resolved_tickets_close_by_themselves(world, as_user, make) -> None:
    ticket = _file(as_user(world.user_a))
    agent = as_user(world.agent)
    t = lifecycle.transition(
        agent, ticket.id, Transition(version=1, status="resolved", resolution="Ok")
    )
    t.resolved_at = t.resolved_at - timedelta(days=30)  # type: ignore[operator]
    agent.commit()
    with make.session() as system:
        assert lifecycle.close_resolved(system) == [ticket.id]
        system.commit()
        assert lifecycle.close_resolved(system) == []
    assert as_user(world.user_a).get(Ticket, ticket.id).status == "closed"  # type: ignore[union-attr]


def test_mass_outage_resolved_from_parent_reaches_every_child_and_requester(
    world, as_user, make
) -> None:
    agent = as_user(world.agent)
    parent = core.create_ticket(
        agent, TicketCreate(title="E-post nede for alle", major=True, ci_ids=[world.shared.id])
    )
    agent.commit()
    children = []
    for user in (world.user_a, world.user_b, world.user_c):
        child = _file(as_user(user), title="Får ikke sendt e-post")
        links.link(agent, child.id, LinkIn(kind="parent", target_id=parent.id))
        agent.commit()
        children.append(child)
    lifecycle.reply(agent, parent.id, ReplyIn(body="Vi jobber med saken."))
    agent.commit()
    lifecycle.transition(
        agent,
        parent.id,
        Transition(version=parent.version, status="resolved", resolution="Sertifikat fornyet"),
    )
    agent.commit()
    for user, child in zip((world.user_a, world.user_b, world.user_c), children, strict=True):
        session = as_user(user)
        seen = session.get(Ticket, child.id)
        assert (
            seen is not None
            and seen.status == "resolved"
            and seen.resolution == "Sertifikat fornyet"
        )
        bodies = [e.body for e in core.timeline(session, child.id)]
        assert "Vi jobber med saken." in bodies
    with make.session() as system:
        mails = system.exec(select(Notification)).all()
    resolved_to = {m.email for m in mails if m.reason == "resolved"}
    assert {"anne@alfa.no", "bjorn@beta.no", "cecilie@gamma.no"} <= resolved_to
    leaders = {m.email for m in mails if m.reason == "major"}
    assert {"leder@alfa.no", "leder@beta.no", "leder@gamma.no"} <= leaders
    assert "eier@alfa.no" in leaders


def test_plain_table_reads_are_refused_in_a_users_session(world, as_user) -> None:
    """Selecting columns of the bare table would dodge the loader criteria."""
    import sqlalchemy as sa

    from register.access import AccessDenied

    _file(as_user(world.user_a))
    bjorn = as_user(world.user_b)
    table = Ticket.__table__  # type: ignore[attr-defined]
    with pytest.raises(AccessDenied):
        bjorn.execute(sa.select(table.c.title)).all()
    assert bjorn.execute(sa.select(Ticket.title)).all() == []
