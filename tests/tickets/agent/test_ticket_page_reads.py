"""What the agent's ticket page reads: each thing once (no statement twice, no empty ``IN``),
the links block both ways in one statement, and the statements that read two tables at once
(a ``UNION ALL``) filtered by the access rules exactly as the separate reads were."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from servicedesk.tickets.models import Ticket
from servicedesk.tickets.routes.agent_common import (
    Names,
    group_names,
    groups_and_kommuner,
    kommune_names,
)
from servicedesk.tickets.routes.agent_ticket import _watchers_and_cis
from servicedesk.tickets.schemas import LinkIn, TicketUpdate, TimeEntryIn
from servicedesk.tickets.service import core, links, timeentries
from tests.pages.helpers import text
from tests.support.fixtures import Browser
from tests.tickets.agent.conftest import Desk, file_ticket, tid


@contextmanager
def statements(engine: Any) -> Iterator[list[tuple[str, str]]]:
    """The SQL statements (text and parameters) run on ``engine`` inside the block."""
    seen: list[tuple[str, str]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((" ".join(statement.split()), repr(params)))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def _link(session: Session, ticket: Ticket, kind: str, target: Ticket) -> None:
    links.link(session, tid(ticket), LinkIn(kind=kind, target_id=tid(target)))  # type: ignore[arg-type]
    session.commit()


def _busy_ticket(desk: Desk, as_user: Any) -> Ticket:
    """A ticket with something in every block of the page."""
    w = desk.world
    agent = as_user(w.agent)
    ticket = file_ticket(as_user(w.user_a), description="Skriveren står")
    problem = file_ticket(agent, title="Ustabil utskriftsserver", type="problem")
    parent = file_ticket(agent, title="Utskrift nede overalt")
    _link(agent, ticket, "caused_by", problem)
    _link(agent, ticket, "parent", parent)
    fresh = core.get_ticket(agent, tid(ticket))
    core.update_ticket(
        agent,
        tid(ticket),
        TicketUpdate(version=fresh.version, assignee_id=w.agent.id, ci_ids=[w.shared.id or 0]),
    )
    core.add_watcher(agent, core.get_ticket(agent, tid(ticket)), w.contact_a.id)  # type: ignore[arg-type]
    timeentries.add(agent, tid(ticket), TimeEntryIn(work_date="2026-03-02", minutes=30))  # type: ignore[arg-type]
    agent.commit()
    duplicate = file_ticket(as_user(w.user_a), title="Skriveren står fortsatt")
    _link(agent, duplicate, "duplicate_of", ticket)
    return ticket


def test_the_page_reads_each_thing_once(desk: Desk, browser, as_user, make) -> None:
    ticket = _busy_ticket(desk, as_user)
    client: Browser = browser(desk.world.agent)
    url = f"/arbeid/saker/{ticket.id}"
    assert client.get(url).status_code == 200
    with statements(make.engine) as seen:
        html = client.get(url).text
    selects = [s for s in seen if s[0].upper().startswith(("SELECT", "(SELECT"))]
    assert len(selects) == len(set(selects)), "a statement ran twice"
    assert not [s for s in selects if re.search(r"IN \(NULL\)|1 != 1", s[0])]
    # The page's own reads: the ticket, its entries, files, watchers and CIs, time entries
    # (and the invoiced months for its billable ones), people, CI names, groups and
    # kommuner, agents, links and its SLA clocks with their history; what signing in reads
    # comes on top.
    page = [s for s in selects if "web_session" not in s[0] and "role_grant.user_id = " not in s[0]]
    assert len(page) <= 12, "\n".join(s[0][:120] for s in page)
    shown = text(html)
    assert "Agent1" in shown and "E-post" in shown and "Ustabil utskriftsserver" in shown
    assert "Utskrift nede overalt" in shown and "Skriveren står fortsatt" in shown


def test_the_queue_and_start_pages_read_each_thing_once(desk: Desk, browser, as_user, make) -> None:
    file_ticket(as_user(desk.world.user_a), title="Skriveren står")
    client: Browser = browser(desk.world.agent)
    for url in ("/arbeid/saker?status=new", "/arbeid"):
        assert client.get(url).status_code == 200
        with statements(make.engine) as seen:
            shown = text(client.get(url).text)
        selects = [s[0] for s in seen if s[0].upper().startswith(("SELECT", "(SELECT"))]
        assert len(selects) == len(set(selects)), f"{url}: a statement ran twice"
        # Groups and kommuner (the filters, the table, the sidebar) come in one statement.
        names = [s for s in selects if re.match(r"SELECT (kommune|assignment_group)\.id", s)]
        alone = [s for s in names if "UNION ALL" not in s]
        assert alone == [], alone
        assert "Skriveren står" in shown


def test_the_links_block_both_ways(desk: Desk, browser, as_user) -> None:
    w = desk.world
    agent = as_user(w.agent)
    parent = file_ticket(agent, title="Utskrift nede overalt")
    children = [
        file_ticket(as_user(u), title=f"Skriver {u.username}") for u in (w.user_a, w.user_b)
    ]
    # TLP:RED, seen by its participants only (agent2 files it, agent1 is no participant).
    hidden = file_ticket(as_user(w.agent2), title="Hemmelig skriver", tlp="red")
    for child in children:
        _link(agent, child, "parent", parent)
    _link(as_user(w.agent2), hidden, "parent", parent)
    duplicate = file_ticket(as_user(w.user_a), title="Utskrift nede igjen")
    _link(agent, duplicate, "duplicate_of", parent)
    client: Browser = browser(w.agent)
    shown = text(client.get(f"/arbeid/saker/{parent.id}").text)
    assert "Meldinger i denne massehendelsen (2)" in shown
    assert "Duplikater av denne saken (1)" in shown
    for child in children:
        assert f"#{child.id} {child.title}" in shown
    assert f"#{duplicate.id} Utskrift nede igjen" in shown
    assert "Hemmelig" not in shown, "a TLP:RED child the agent may not see stays out"
    child_page = text(client.get(f"/arbeid/saker/{children[0].id}").text)
    assert f"Del av massehendelse #{parent.id} Utskrift nede overalt" in child_page
    # Its participant sees the red child among the reports.
    theirs = text(browser(w.agent2).get(f"/arbeid/saker/{parent.id}").text)
    assert "Meldinger i denne massehendelsen (3)" in theirs and "Hemmelig skriver" in theirs


def test_combined_reads_keep_the_access_rules(desk: Desk, as_user) -> None:
    """Watchers and CIs, groups and kommuner each come from one ``UNION ALL``: for every kind
    of principal it returns what the separate reads return."""
    w = desk.world
    ticket = _busy_ticket(desk, as_user)
    people = (w.agent, desk.admin, w.user_a, w.user_b, w.contact_a, w.owner)
    for user in people:
        session = as_user(user)
        watchers, cis = _watchers_and_cis(session, tid(ticket))
        assert sorted(watchers) == sorted(core.watchers_of(session, tid(ticket))), user.username
        assert sorted(cis) == sorted(core.ci_ids_of(session, tid(ticket))), user.username
        groups, kommuner = groups_and_kommuner(session)
        assert list(groups.items()) == list(group_names(session).items())
        assert list(kommuner.items()) == list(kommune_names(session).items())
        names = Names(session, "nb").read_groups_and_kommuner()
        assert (names.groups, names.kommuner) == (groups, kommuner)
    # Bjørn (another kommune) sees none of the ticket's rows; the agent sees them all.
    assert _watchers_and_cis(as_user(w.user_b), tid(ticket)) == ([], [])
    assert _watchers_and_cis(as_user(w.agent), tid(ticket)) == ([w.contact_a.id], [w.shared.id])
    assert len(groups_and_kommuner(as_user(w.user_b))[1]) < len(kommune_names(as_user(w.agent)))
