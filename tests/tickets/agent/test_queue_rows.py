"""The workspace's lists read plain rows (``queues.queue_rows``) instead of ORM tickets: the
same tickets, order, values and cursors as ``queue_page``, under the same access rules (tenant,
TLP:RED); the sidebar's counts come from one statement built once; the ticket table writes the
same cells as before."""

from __future__ import annotations

import re

from sqlmodel import Session

from servicedesk.tickets.service import queues
from servicedesk.tickets.service.queues import LIST_COLUMNS, QueueFilter
from tests.support.fixtures import Browser
from tests.tickets.agent.conftest import Desk, assign, file_ticket, tid

QUERIES = (
    "",
    "status=new&status=assigned",
    "status=new",
    "priority=1&priority=3",
    "assignee=me",
    "assignee=none",
    "major=1",
    "tlp=red",
    "q=skriveren",
)


def _world(desk: Desk, as_user) -> dict[str, int]:
    """Tickets in two kommuner, one TLP:RED with the second agent as its only participant."""
    w = desk.world
    anne, bjorn, agent = as_user(w.user_a), as_user(w.user_b), as_user(w.agent)
    made = {}
    for i in range(7):
        t = file_ticket(anne, title=f"Skriveren {i}", impact=1 + i % 4, urgency=1 + i % 3)
        made[f"a{i}"] = tid(t)
    mail = file_ticket(bjorn, title="E-post synkroniserer ikke", tlp="green")
    made["mail"] = tid(assign(agent, mail, assignment_group_id=desk.clients.id, major=True))
    mine = file_ticket(anne, title="Skriveren min")
    made["mine"] = tid(assign(agent, mine, assignee_id=w.agent.id))
    secret = file_ticket(anne, title="Innbrudd i fagsystem", tlp="red", impact=1, urgency=1)
    from register.access import Principal, bind

    system = bind(Session(agent.get_bind(), expire_on_commit=False), Principal.system("test"))
    assign(system, secret, assignee_id=w.agent2.id, assignment_group_id=desk.network.id)
    system.close()
    made["secret"] = tid(secret)
    return made


def _same(session: Session, f: QueueFilter, size: int) -> list[int]:
    """Every page of ``f`` as rows and as tickets agree; the ids shown, in order."""
    names = [c.key for c in LIST_COLUMNS]
    shown: list[int] = []
    after = None
    for _ in range(50):
        page = queues.queue_page(session, f, size, after)
        rows = queues.queue_rows(session, f, size, after)
        assert rows.next == page.next
        assert [tuple(r) for r in rows.tickets] == [
            tuple(getattr(t, n) for n in names) for t in page.tickets
        ]
        shown += [r.id for r in rows.tickets]
        if page.next is None:
            return shown
        after = page.next
    raise AssertionError("paging did not end")


def test_rows_are_the_queue_pages_tickets_under_the_same_rules(desk: Desk, as_user) -> None:
    w = desk.world
    made = _world(desk, as_user)
    agent, agent2 = as_user(w.agent), as_user(w.agent2)
    group = f"group={desk.network.id}&group={desk.clients.id}"
    kommune = f"kommune={w.a.id}&kommune={w.b.id}"
    for query in (*QUERIES, group, kommune, f"{group}&status=new&status=assigned"):
        f = QueueFilter.from_query(query)
        for size in (3, 50):
            seen = _same(agent, f, size)
            assert made["secret"] not in seen, query
            seen2 = _same(agent2, f, size)
            if f.assignee != "me":
                assert set(seen2) - set(seen) <= {made["secret"]}, query
    everything = set(_same(agent2, QueueFilter(), 50))
    assert everything == set(made.values())
    assert made["secret"] in everything
    # A kommune's own people, were they to read a queue, see only their kommune's tickets.
    anne = as_user(w.user_a)
    for query in ("", kommune, "status=new&status=assigned"):
        rows = queues.queue_rows(anne, QueueFilter.from_query(query), 50).tickets
        assert rows and {r.kommune_id for r in rows} == {w.a.id}, query
        assert made["secret"] in {r.id for r in rows}  # her own report
    # The one major incident is Beta's.
    assert queues.queue_rows(anne, QueueFilter(major=True), 50).tickets == []


def test_counts_bind_values_into_one_statement(desk: Desk, as_user) -> None:
    w = desk.world
    made = _world(desk, as_user)
    agent, agent2 = as_user(w.agent), as_user(w.agent2)
    network, clients = tid(desk.network), tid(desk.clients)
    one = queues.queue_counts(agent, [network, clients])
    assert one == {
        "mine": 1,
        "unassigned": 8,
        "major": 1,
        f"group:{network}": 0,
        f"group:{clients}": 1,
    }
    # The second agent shares the statement and gets their own figures (the red ticket too).
    two = queues.queue_counts(agent2, [clients, network, network])
    assert two == {
        "mine": 1,
        "unassigned": 8,
        "major": 1,
        f"group:{clients}": 1,
        f"group:{network}": 1,
    }
    assert list(two) == ["mine", "unassigned", "major", f"group:{clients}", f"group:{network}"]
    assert queues.queue_counts(agent, []) == {"mine": 1, "unassigned": 8, "major": 1}
    assert queues._counts_statement(2) is queues._counts_statement(2)
    assert made["secret"]


def test_the_ticket_table_writes_every_cell(desk: Desk, as_user, browser) -> None:
    w = desk.world
    made = _world(desk, as_user)
    client: Browser = browser(w.agent)
    html = client.get(f"/arbeid/saker?kommune={w.b.id}").text
    row = re.search(r"<tr data-row>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    mail = made["mail"]
    assert cells[0].startswith(f'<input type="checkbox" name="ticket" value="{mail}:')
    assert f'id="sel-{mail}" form="bulk-form"><label for="sel-{mail}"' in cells[0]
    assert f'class="visually-hidden">Velg sak {mail}</label>' in cells[0]
    assert cells[1].startswith('<span class="badge prio prio-')
    assert cells[1].endswith(' <span class="badge major">Alvorlig hendelse</span>')
    assert f'<a href="/arbeid/saker/{mail}" class="ticket-link">#{mail} E-post' in cells[2]
    assert '<span class="badge tlp tlp-green">' in cells[2]
    assert cells[3].startswith('<span class="badge status status-new">')
    assert cells[4] == "Beta"
    assert cells[5] == "Klientdrift"
    assert cells[6] == "Ikke tildelt"
    assert re.fullmatch(r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d</time>', cells[7])
    # Amber, the default, has no badge; a ticket without a group says so; the start page's
    # tables have no checkboxes.
    html = client.get(f"/arbeid/saker?kommune={w.a.id}&assignee=me").text
    row = re.search(r"<tr data-row>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert "badge tlp" not in cells[2]
    assert cells[4] == "Alfa" and cells[5] == "Ingen" and cells[6] == "Agent1"
    start = client.get("/arbeid").text
    assert "<tr data-row>" in start and 'name="ticket"' not in start
