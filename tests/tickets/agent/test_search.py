"""Full-text search over tickets and their replies and notes, in Norwegian, on PostgreSQL
(``tsvector``, norwegian configuration) and on SQLite (FTS5), as far as the principal may see."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import Session

from fellesdrift.assembly.app import create_app
from fellesdrift.kernel.db import dispose_engines, get_engine
from fellesdrift.kernel.settings import load_settings
from register import auth
from register.access import Principal, bind
from register.models import User
from servicedesk.tickets.schemas import ReplyIn, TicketUpdate
from servicedesk.tickets.service import core, lifecycle, search
from tests.pages.helpers import text
from tests.support.factories import Factory
from tests.support.fixtures import SECRET, Browser
from tests.tickets.agent.conftest import Desk, file_ticket, tid


def _found(session: Session, q: str) -> list[int]:
    return [t.id for t in search.search(session, q, 50).tickets]  # type: ignore[misc]


def _search_world(as_user: Callable[[User], Session], users: dict[str, User]) -> dict[str, int]:
    """The same tickets on either backend; returns their ids by name."""
    anne, agent = as_user(users["anne"]), as_user(users["agent"])
    printer = file_ticket(anne, title="Skriveren i 2. etasje virker ikke")
    plain = file_ticket(anne, title="Skriver trenger toner", description="Gammel skriver")
    mail = file_ticket(anne, title="E-post synkroniserer ikke på mobilen")
    lifecycle.reply(agent, mail.id, ReplyIn(body="Vi har byttet sertifikatet på serveren"))  # type: ignore[arg-type]
    lifecycle.reply(
        agent,
        mail.id,  # type: ignore[arg-type]
        ReplyIn(body="Intern: brannmurregelen blokkerer synkroniseringen", public=False),
    )
    agent.commit()
    secret = file_ticket(as_user(users["bjorn"]), title="Skriveren lekker data", tlp="red")
    return {"printer": printer.id, "plain": plain.id, "mail": mail.id, "secret": secret.id}  # type: ignore[dict-item]


def _check_search(as_user: Callable[[User], Session], users: dict[str, User]) -> None:
    ids = _search_world(as_user, users)
    agent, anne = as_user(users["agent"]), as_user(users["anne"])
    # Inflected forms find each other, newest first; RED stays hidden from an agent.
    assert _found(agent, "skriveren") == [ids["plain"], ids["printer"]]
    assert _found(agent, "SKRIVER") == [ids["plain"], ids["printer"]]
    assert _found(agent, "skrivere toner") == [ids["plain"]]
    # Replies are searched; internal notes only by the drift unit.
    assert _found(agent, "sertifikatet") == [ids["mail"]]
    assert _found(anne, "sertifikater") == [ids["mail"]]
    assert _found(agent, "brannmurregel") == [ids["mail"]]
    assert _found(anne, "brannmurregel") == []
    # Someone else's ticket is not found by an end user; RED only by its participants.
    assert _found(as_user(users["bjorn"]), "skriveren") == [ids["secret"]]
    assert ids["secret"] not in _found(as_user(users["agent2"]), "skriveren lekker")
    # Stop words and punctuation alone search for nothing.
    page = search.search(agent, "og i på ?!", 10)
    assert page.tickets == [] and page.terms == []
    # Edits are searchable at once, and the old text no longer matches.
    core.update_ticket(agent, ids["plain"], TicketUpdate(version=1, title="Printer på kontoret"))
    agent.commit()
    assert _found(as_user(users["agent"]), "printer") == [ids["plain"]]
    assert _found(as_user(users["agent"]), "toner") == []
    _check_hyphens(as_user, users, ids)


def _check_hyphens(
    as_user: Callable[[User], Session], users: dict[str, User], ids: dict[str, int]
) -> None:
    """A word written with or without a hyphen is the same word: "epost" finds "E-post",
    "e-post" finds "epost", and a compound finds its hyphenated form."""
    anne = as_user(users["anne"])
    account = file_ticket(anne, title="Epostkontoen min er sperret")
    box = file_ticket(anne, title="Fellespostkassen", description="E-postkassen er full")
    agent = as_user(users["agent"])
    assert _found(agent, "epost") == [box.id, account.id, ids["mail"]]
    assert _found(agent, "e-post") == [box.id, account.id, ids["mail"]]
    assert _found(agent, "E-POSTKONTO") == [account.id]
    assert _found(agent, "epostkasse") == [box.id]
    assert _found(agent, "e-post mobilen") == [ids["mail"]]


def test_search_on_postgresql(desk: Desk, as_user) -> None:
    w = desk.world
    users = {"anne": w.user_a, "bjorn": w.user_b, "agent": w.agent, "agent2": w.agent2}
    _check_search(as_user, users)


def test_search_pages_newest_first_without_repeats(desk: Desk, as_user, monkeypatch) -> None:
    anne = as_user(desk.world.user_a)
    made = [tid(file_ticket(anne, title=f"Treg nettverkstilkobling {i}")) for i in range(7)]
    file_ticket(anne, title="Noe helt annet")
    agent = as_user(desk.world.agent)
    # Both ways PostgreSQL finds them: walking the newest tickets, and (with a tiny window)
    # the GIN index for the rest.
    for window in (search.PG_WINDOW, 2):
        monkeypatch.setattr(search, "PG_WINDOW", window)
        seen: list[int] = []
        after = None
        while True:
            page = search.search(agent, "nettverkstilkoblingen", 3, after)
            seen += [t.id for t in page.tickets]  # type: ignore[misc]
            if page.next is None:
                break
            after = page.next
        assert seen == sorted(made, reverse=True), window


def test_search_page(desk: Desk, browser, as_user) -> None:
    w = desk.world
    ticket = file_ticket(as_user(w.user_a), title="Skriveren i 2. etasje virker ikke")
    secret = file_ticket(as_user(w.user_b), title="Skriveren lekker", tlp="red")
    client: Browser = browser(w.agent)
    page = client.get("/arbeid/sok", params={"q": "skriver"})
    shown = text(page.text)
    assert f"#{ticket.id} Skriveren i 2. etasje virker ikke" in shown
    assert "lekker" not in shown
    jump = client.get("/arbeid/sok", params={"q": f"#{ticket.id}"}, follow_redirects=False)
    assert jump.headers["location"] == f"/arbeid/saker/{ticket.id}"
    hidden = client.get("/arbeid/sok", params={"q": str(secret.id)}, follow_redirects=False)
    assert hidden.status_code == 200 and "lekker" not in hidden.text
    only_stop_words = client.get("/arbeid/sok", params={"q": "og ikke"})
    assert "Søket inneholder bare vanlige småord" in text(only_stop_words.text)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("skriveren", "skriv"),
        ("skriver", "skriv"),
        ("skrivere", "skriv"),
        ("nettverket", "nettverk"),
        ("tilgangen", "tilgang"),
        ("kommunene", "kommun"),
        ("lisenser", "lis"),
        ("pcen", "pcen"),
    ],
)
def test_the_sqlite_stemmer_reaches_the_common_root(word: str, expected: str) -> None:
    assert search.stem(word) == expected


def test_search_on_sqlite(sqlite_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=sqlite_url, data_dir=tmp_path, secret_key=SECRET)
    engine = get_engine(settings)
    make = Factory(engine)
    sessions: list[Session] = []

    def as_user(user: User) -> Session:
        session = bind(Session(engine, expire_on_commit=False), Principal.system("load"))
        loaded = session.get(User, user.id)
        assert loaded is not None
        sessions.append(bind(session, auth.principal_for(session, loaded)))
        return session

    try:
        with engine.connect() as connection:
            triggers = {
                row[0]
                for row in connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                )
            }
        assert {"ticket_search_ticket_insert", "ticket_search_entry_insert"} <= triggers
        alfa, beta = make.kommune("Alfa"), make.kommune("Beta")
        users = {
            "anne": make.user(alfa, username="anne"),
            "bjorn": make.user(beta, username="bjorn"),
            "agent": make.user(None, "agent", username="agent1"),
            "agent2": make.user(None, "agent", username="agent2"),
        }
        _check_search(as_user, users)
        for session in sessions:
            session.close()
        app = create_app(settings)
        with Browser(app, base_url="http://testserver") as client:
            client.login("agent1")
            shown = text(client.get("/arbeid/sok", params={"q": "skrivere"}).text)
            assert "Skriveren i 2. etasje virker ikke" in shown and "lekker" not in shown
            assert client.get("/arbeid/saker").status_code == 200
    finally:
        for session in sessions:
            session.close()
        dispose_engines()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_migration_indexes_the_tickets_already_there(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from fellesdrift.assembly.migrations import downgrade, upgrade
    from fellesdrift.kernel.db import make_engine
    from servicedesk.tickets.models import Ticket, TicketEntry

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("pg_empty_url")
    upgrade(url, "0002")
    engine = make_engine(url)
    try:
        title = "Gammel sak om skriveren"
        with bind(Session(engine), Principal.system("test")) as s:
            old = Ticket(type="incident", title=title, description="")
            s.add(old)
            s.flush()
            note = "Intern: byttet fikseringsenheten"
            s.add(TicketEntry(ticket_id=old.id, kind="note", public=False, body=note))  # type: ignore[arg-type]
            s.commit()
        upgrade(url)
        with bind(Session(engine), Principal.system("test")) as s:
            assert [t.title for t in search.search(s, "skriver").tickets] == [title]
            assert len(search.search(s, "fikseringsenhet").tickets) == 1
        downgrade(url, "0002")
        upgrade(url)
    finally:
        engine.dispose()
