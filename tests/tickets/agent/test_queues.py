"""Queues on PostgreSQL: filters, order (priority, then oldest first), keyset pages without
gaps or repeats, counts, saved views, and TLP:RED kept out of an agent's queues."""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session

from fellesdrift.kernel.problems import Problem
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core, queues, views
from servicedesk.tickets.service.queues import QueueFilter
from tests.tickets.agent.conftest import Desk, assign, file_ticket, tid


def _ids(tickets: list[Ticket]) -> list[int]:
    return [t.id for t in tickets]  # type: ignore[misc]


def _all_pages(session: Session, f: QueueFilter, size: int) -> list[Ticket]:
    seen: list[Ticket] = []
    after = None
    for _ in range(100):
        page = queues.queue_page(session, f, size, after)
        assert len(page.tickets) <= size
        seen += page.tickets
        if page.next is None:
            return seen
        assert len(page.tickets) == size, "a page that is not the last is full"
        after = page.next
    raise AssertionError("paging did not end")


def _bulk_tickets(session: Session, n: int, **kw: object) -> list[Ticket]:
    rng = random.Random(7)
    made = []
    for i in range(n):
        impact, urgency = rng.randint(1, 4), rng.randint(1, 4)
        data = TicketCreate(title=f"Sak nummer {i}", impact=impact, urgency=urgency, **kw)  # type: ignore[arg-type]
        made.append(core.create_ticket(session, data))
    session.commit()
    return made


def test_pages_follow_priority_then_age_without_gaps_or_repeats(desk: Desk, as_user) -> None:
    agent = as_user(desk.world.agent)
    made = _bulk_tickets(agent, 57, kommune_id=desk.world.a.id, requester_id=desk.world.user_a.id)
    expected = sorted(made, key=lambda t: (t.priority, t.id))
    for size in (10, 25, 60):
        seen = _all_pages(as_user(desk.world.agent), QueueFilter(), size)
        assert _ids(seen) == _ids(expected), size


def test_a_page_continues_where_it_ended_when_tickets_arrive_meanwhile(desk: Desk, as_user) -> None:
    agent = as_user(desk.world.agent)
    made = _bulk_tickets(agent, 20, kommune_id=desk.world.a.id, requester_id=desk.world.user_a.id)
    first = queues.queue_page(agent, QueueFilter(), 10)
    # A P1 ticket arrives: it belongs before the first page, so the next page must not show
    # it nor repeat or skip anything of the old order.
    urgent = file_ticket(
        agent,
        title="Alt er nede",
        impact=1,
        urgency=1,
        kommune_id=desk.world.a.id,
        requester_id=desk.world.user_a.id,
    )
    second = _all_pages_from(agent, first.next)
    expected = sorted(made, key=lambda t: (t.priority, t.id))
    assert _ids(first.tickets) + _ids(second) == _ids(expected)
    assert urgent.id not in _ids(second)


def _all_pages_from(session: Session, after: str | None) -> list[Ticket]:
    out: list[Ticket] = []
    while after:
        page = queues.queue_page(session, QueueFilter(), 10, after)
        out += page.tickets
        after = page.next
    return out


def test_filters(desk: Desk, as_user, make) -> None:
    w = desk.world
    anne, bjorn, agent = as_user(w.user_a), as_user(w.user_b), as_user(w.agent)
    printer = file_ticket(anne, impact=1, urgency=1, ci_ids=[w.shared.id])
    mail = file_ticket(bjorn, title="E-post synkroniserer ikke", tlp="green")
    request = file_ticket(anne, title="Ny PC til nyansatt", type="request")
    printer = assign(agent, printer, assignee_id=w.agent.id, assignment_group_id=desk.network.id)
    mail = assign(agent, mail, assignment_group_id=desk.clients.id, major=True)
    problem = file_ticket(agent, title="Ustabil epostserver", type="problem")
    request = assign(agent, request, assignee_id=w.agent2.id)

    def shown(query: str, user: object = w.agent) -> set[int]:
        page = queues.queue_page(as_user(user), QueueFilter.from_query(query), 50)
        return set(_ids(page.tickets))

    everything = {printer.id, mail.id, request.id, problem.id}
    assert shown("") == everything
    assert shown(f"kommune={w.a.id}") == {printer.id, request.id}
    assert shown(f"kommune={w.a.id}&kommune={w.b.id}") == {printer.id, mail.id, request.id}
    assert shown("priority=1") == {printer.id}
    assert shown("status=new") == {mail.id, problem.id}
    assert shown("status=assigned") == {printer.id, request.id}
    assert shown("type=request&type=problem") == {request.id, problem.id}
    assert shown(f"ci={w.shared.id}") == {printer.id}
    assert shown("assignee=me") == {printer.id}
    assert shown("assignee=me", w.agent2) == {request.id}
    assert shown(f"assignee={w.agent2.id}") == {request.id}
    assert shown("assignee=none") == {mail.id, problem.id}
    assert shown(f"group={desk.network.id}") == {printer.id}
    assert shown(f"group={desk.network.id}&group={desk.clients.id}") == {printer.id, mail.id}
    assert shown("tlp=green") == {mail.id}
    assert shown("major=1") == {mail.id}
    assert shown("q=skriveren") == {printer.id}
    assert shown(f"group={desk.clients.id}&q=synkroniserer") == {mail.id}
    assert shown(f"group={desk.network.id}&q=synkroniserer") == set()
    # Unknown values are dropped rather than failing an old bookmark.
    assert shown("status=bogus&priority=9&assignee=someone") == everything


def test_filter_query_strings_round_trip() -> None:
    f = QueueFilter.from_query(
        "status=new&status=pending&priority=1&kommune=3&group=2"
        "&assignee=me&ci=4&major=1&q=skriver+toner&tlp=red&type=incident"
    )
    assert QueueFilter.from_query(f.query()) == f
    assert f.effective_statuses == ("new", "pending")
    assert QueueFilter().effective_statuses == ("new", "assigned", "in_progress", "pending")


def test_red_tickets_stay_out_of_an_agents_queues_unless_named(desk: Desk, as_user) -> None:
    w = desk.world
    agent, agent2 = as_user(w.agent), as_user(w.agent2)
    secret = file_ticket(
        as_user(w.user_a), title="Innbrudd i fagsystem", tlp="red", impact=1, urgency=1
    )
    normal = file_ticket(as_user(w.user_a), title="Skriver", impact=1, urgency=1)
    # Named participant: the assignee is set by the system (as a dispatcher would).
    from register.access import Principal, bind

    system = bind(Session(agent.get_bind(), expire_on_commit=False), Principal.system("test"))
    assign(system, secret, assignee_id=w.agent2.id, assignment_group_id=desk.network.id)
    system.close()

    for query in (
        "",
        "priority=1",
        "tlp=red",
        f"group={desk.network.id}",
        "assignee=none",
        f"kommune={w.a.id}",
        "q=innbrudd",
    ):
        f = QueueFilter.from_query(query)
        assert secret.id not in _ids(queues.queue_page(agent, f, 50).tickets), query
    assert normal.id in _ids(queues.queue_page(agent, QueueFilter(), 50).tickets)
    assert secret.id in _ids(queues.queue_page(agent2, QueueFilter(), 50).tickets)
    assert queues.queue_counts(agent, [tid(desk.network)])[f"group:{desk.network.id}"] == 0
    assert queues.queue_counts(agent2, [tid(desk.network)])[f"group:{desk.network.id}"] == 1


def test_counts_are_exact_up_to_the_cap(desk: Desk, as_user, monkeypatch) -> None:
    w = desk.world
    agent = as_user(w.agent)
    monkeypatch.setattr(queues, "COUNT_CAP", 3)
    for _ in range(5):
        file_ticket(agent, kommune_id=w.a.id, requester_id=w.user_a.id)
    mine = file_ticket(agent, kommune_id=w.a.id, requester_id=w.user_a.id, major=True)
    assign(agent, mine, assignee_id=w.agent.id, assignment_group_id=desk.network.id)
    counts = queues.queue_counts(agent, [tid(desk.network), tid(desk.clients)])
    assert counts == {
        "mine": 1,
        "unassigned": 4,
        "major": 1,
        f"group:{desk.network.id}": 1,
        f"group:{desk.clients.id}": 0,
    }
    assert queues.shown_count(counts["unassigned"]) == "3+"
    assert queues.shown_count(2) == "2"


def test_saved_views_belong_to_their_agent(desk: Desk, as_user) -> None:
    agent, agent2 = as_user(desk.world.agent), as_user(desk.world.agent2)
    view = views.save_view(agent, "  Mine   P1 ", "priority=1&assignee=me&bogus=1")
    agent.commit()
    assert view.name == "Mine P1" and view.query == "priority=1&assignee=me"
    with pytest.raises(Problem) as taken:
        views.save_view(agent, "Mine P1", "priority=2")
    assert getattr(taken.value, "status", None) == 422
    agent.rollback()
    assert [v.name for v in views.saved_views(agent)] == ["Mine P1"]
    assert views.saved_views(agent2) == []
    with pytest.raises(Problem) as hidden:
        views.delete_view(agent2, view.id)  # type: ignore[arg-type]
    assert getattr(hidden.value, "status", None) == 404
    views.delete_view(agent, view.id)  # type: ignore[arg-type]
    agent.commit()
    assert views.saved_views(agent) == []


def test_a_bad_cursor_is_refused_clearly(desk: Desk, as_user) -> None:
    with pytest.raises(Problem) as bad:
        queues.queue_page(as_user(desk.world.agent), QueueFilter(), 10, "bm9wZQ")
    assert getattr(bad.value, "status", None) == 422
