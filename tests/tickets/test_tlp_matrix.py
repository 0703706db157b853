"""Who sees what, with TLP: every TLP level x every role x every read path of a ticket.

One ticket per TLP level, all alike: filed by an employee of kommune A on the shared system
S, shared with a colleague (the watcher), assigned to an agent, with a public reply, an
internal note, an attachment, a time entry and notifications. Then every role reads it on
every path, through the API with a real token, and the grid of what each one saw must be
exactly the expected grid below. A failure prints both grids.

The rules (issue 3, item 6 and 7):

* end users see their own tickets and those shared with them (watchers);
* kommune contacts see all of their kommune's; systemeiere the tickets on their systems;
* the drift unit (agents, admins) sees every ticket;
* TLP:RED: only the named participants (requester, assignee, watchers), whatever the role;
* internal notes and internal attachments: the drift unit and systemeiere only;
* time entries: the drift unit, and the kommune's contact (billing); never end users;
* notifications with the ticket's content go to its participants only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from fellesdrift.assembly.app import create_app
from fellesdrift.kernel.settings import load_settings
from register import auth
from register.choices import Role
from register.models import User
from register.schemas import ContactIn, ResponsibilityIn, UsageIn
from register.service import cmdb, kommuner
from servicedesk.tickets.models import Notification
from servicedesk.tickets.schemas import TicketUpdate
from servicedesk.tickets.service import core
from tests.rig.postgres import PostgresServer, fresh_database
from tests.support.factories import Factory
from tests.support.fixtures import SECRET

TLP_LEVELS = ("clear", "green", "amber", "red")

# ---- the expected grid -------------------------------------------------------------------------
# Y: sees it. One row per role, one column per TLP level (clear, green, amber, red).

Y, N = True, False
#: Who sees the ticket at all: list, search, detail, timeline, attachments, files.
SEES_TICKET: dict[str, tuple[bool, bool, bool, bool]] = {
    #                                   clear  green  amber  red
    "requester (end user)":            (Y,     Y,     Y,     Y),
    "colleague (same kommune)":        (N,     N,     N,     N),
    "watcher":                         (Y,     Y,     Y,     Y),
    "kommune contact":                 (Y,     Y,     Y,     N),
    "kommune contact, other kommune":  (N,     N,     N,     N),
    "systemeier of the system":        (Y,     Y,     Y,     N),
    "systemeier of another system":    (N,     N,     N,     N),
    "agent":                           (Y,     Y,     Y,     N),
    "agent who is assignee":           (Y,     Y,     Y,     Y),
    "admin":                           (Y,     Y,     Y,     N),
    "finance (same kommune)":          (N,     N,     N,     N),
}  # fmt: skip
#: Who sees the internal note (and the internal attachment): of those who see the ticket, the
#: drift unit and systemeiere.
SEES_INTERNAL = {"systemeier of the system", "agent", "agent who is assignee", "admin"}
#: Who sees the time entry: of those who see the ticket, the drift unit and the kommune contact.
SEES_TIME = {"kommune contact", "agent", "agent who is assignee", "admin"}
#: Who is told of the ticket (created, assigned, replies) by notification.
NOTIFIED = {"requester (end user)", "watcher", "agent who is assignee"}

ROLES = list(SEES_TICKET)
PATHS = (
    "list",
    "search q",
    "detail",
    "timeline",
    "internal note",
    "attachments",
    "file",
    "internal file",
    "time entry",
    "notified",
)


def expected(role: str, tlp: str) -> dict[str, bool]:
    sees = SEES_TICKET[role][TLP_LEVELS.index(tlp)]
    return {
        "list": sees,
        "search q": sees,
        "detail": sees,
        "timeline": sees,
        "internal note": sees and role in SEES_INTERNAL,
        "attachments": sees,
        "file": sees,
        "internal file": sees and role in SEES_INTERNAL,
        "time entry": sees and role in SEES_TIME,
        "notified": role in NOTIFIED,
    }


# ---- the world ---------------------------------------------------------------------------------


@dataclass
class TicketFixture:
    """One ticket and the marks of everything on it."""

    id: int
    word: str
    reply: str
    note: str
    attachment_id: int
    internal_attachment_id: int
    time_entry_id: int


@dataclass
class World:
    app: FastAPI
    make: Factory
    users: dict[str, User]
    clients: dict[str, TestClient]
    #: The shared system the tickets are about.
    system_id: int
    tickets: dict[str, TicketFixture]


def _people(make: Factory) -> tuple[dict[str, User], int]:
    a, b, c = make.kommune("Alfa"), make.kommune("Beta"), make.kommune("Gamma")
    system = make.ci("epost", name="E-post", kind="fagsystem", classification="fellessystem")
    other = make.ci("lonn", name="Lønn", kind="fagsystem", classification="fellessystem")
    for ci in (system, other):
        make.run(cmdb.set_usage, ci.id, UsageIn(kommune_id=a.id or 0, users_count=10))
    make.run(
        kommuner.add_contact,
        a.id,
        ContactIn(kind="leadership", name="Leder Alfa", email="leder@alfa.no"),  # type: ignore[arg-type]
    )
    users = {
        "requester (end user)": make.user(a, username="anne", email="anne@alfa.no"),
        "colleague (same kommune)": make.user(a, username="arne", email="arne@alfa.no"),
        "watcher": make.user(a, username="astrid", email="astrid@alfa.no"),
        "kommune contact": make.user(
            a, Role.KOMMUNE_CONTACT, username="kontakt-a", email="k@alfa.no"
        ),
        "kommune contact, other kommune": make.user(
            b, Role.KOMMUNE_CONTACT, username="kontakt-b", email="k@beta.no"
        ),
        # In other kommuner than the ticket's: they see it by their system, not by kommune.
        "systemeier of the system": make.user(
            c, Role.END_USER, Role.SYSTEMEIER, username="eier", email="eier@gamma.no"
        ),
        "systemeier of another system": make.user(
            a, Role.END_USER, Role.SYSTEMEIER, username="eier2", email="eier2@alfa.no"
        ),
        "agent": make.user(None, Role.AGENT, username="agent1", email="agent1@drift.no"),
        "agent who is assignee": make.user(
            None, Role.AGENT, username="agent2", email="agent2@drift.no"
        ),
        "admin": make.user(None, Role.ADMIN, username="sjef", email="sjef@drift.no"),
        "finance (same kommune)": make.user(
            a, Role.FINANCE, username="okonomi", email="okonomi@alfa.no"
        ),
    }
    for role, ci in (("systemeier of the system", system), ("systemeier of another system", other)):
        data = ResponsibilityIn(user_id=users[role].id, kind="systemeier")  # type: ignore[arg-type]
        make.run(cmdb.add_responsibility, ci.id, data)
    return users, system.id  # type: ignore[return-value]


def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _ticket(world: World, tlp: str) -> TicketFixture:
    """File, share, assign and work one ticket at ``tlp``, as the people would."""
    requester, assignee = (
        world.clients["requester (end user)"],
        world.clients["agent who is assignee"],
    )
    word = f"kaffemaskin{tlp}"
    ticket = _ok(
        requester.post(
            "/api/v1/tickets",
            json={
                "title": f"Feil på {word}",
                "tlp": tlp,
                "ci_ids": [world.system_id],
                "watcher_ids": [world.users["watcher"].id],
            },
        )
    )
    # Assigned by the dispatcher (the system here: under RED no agent sees it before).
    with world.make.session() as s:
        data = TicketUpdate(
            version=ticket["version"], assignee_id=world.users["agent who is assignee"].id
        )
        core.update_ticket(s, ticket["id"], data)
        s.commit()
    tid = ticket["id"]
    reply, note = f"svar-{tlp}", f"notat-{tlp}"
    _ok(assignee.post(f"/api/v1/tickets/{tid}/entries", json={"body": reply}))
    _ok(assignee.post(f"/api/v1/tickets/{tid}/entries", json={"body": note, "public": False}))
    _ok(requester.post(f"/api/v1/tickets/{tid}/entries", json={"body": f"takk-{tlp}"}))
    files = f"/api/v1/tickets/{tid}/attachments"
    public = _ok(assignee.post(files, files={"file": ("svar.txt", b"svar", "text/plain")}))
    internal = _ok(
        assignee.post(
            files, files={"file": ("logg.txt", b"logg", "text/plain")}, data={"public": "false"}
        )
    )
    time = _ok(
        assignee.post(
            f"/api/v1/tickets/{tid}/time-entries", json={"work_date": "2026-03-02", "minutes": 15}
        )
    )
    return TicketFixture(tid, word, reply, note, public["id"], internal["id"], time["id"])


def _client(stack: ExitStack, app: FastAPI, make: Factory, user: User) -> TestClient:
    _token, raw = make.run(auth.issue_token, user.id, "tlp", frozenset({"read", "write"}))
    client = stack.enter_context(TestClient(app, base_url="http://testserver"))
    client.headers["Authorization"] = f"Bearer {raw}"
    return client


@pytest.fixture(scope="module")
def world(
    pg_server: PostgresServer, pg_admin: Any, pg_template: str, tmp_path_factory: Any
) -> Iterator[World]:
    with fresh_database(pg_server, pg_admin, pg_template) as url, ExitStack() as stack:
        settings = load_settings(
            database_url=url,
            data_dir=tmp_path_factory.mktemp("tlp"),
            secret_key=SECRET,
            base_url="http://testserver",
        )
        app = create_app(settings)
        stack.callback(app.state.engine.dispose)
        make = Factory(app.state.engine)
        users, system_id = _people(make)
        clients = {role: _client(stack, app, make, user) for role, user in users.items()}
        world = World(app, make, users, clients, system_id, {})
        world.tickets = {tlp: _ticket(world, tlp) for tlp in TLP_LEVELS}
        yield world


# ---- reading -----------------------------------------------------------------------------------


def _items(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _status(client: TestClient, path: str) -> bool:
    code = client.get(path).status_code
    assert code in (200, 404), f"{path}: {code}, expected 200 or 404"
    return code == 200


def observed(world: World, role: str, t: TicketFixture) -> dict[str, bool]:
    c = world.clients[role]
    base = f"/api/v1/tickets/{t.id}"
    bodies = [e["body"] for e in _items(c, f"{base}/entries", limit=1000)]
    files = [a["id"] for a in _items(c, f"{base}/attachments")]
    return {
        "list": t.id in [x["id"] for x in _items(c, "/api/v1/tickets", limit=1000)],
        "search q": [x["id"] for x in _items(c, "/api/v1/tickets", q=t.word)] == [t.id],
        "detail": _status(c, base),
        "timeline": t.reply in bodies,
        "internal note": t.note in bodies,
        "attachments": t.attachment_id in files,
        "file": _status(c, f"/api/v1/attachments/{t.attachment_id}/content"),
        "internal file": t.internal_attachment_id in files
        and _status(c, f"/api/v1/attachments/{t.internal_attachment_id}/content"),
        "time entry": _status(c, f"/api/v1/time-entries/{t.time_entry_id}"),
        "notified": _notified(world, role, t),
    }


def _notified(world: World, role: str, t: TicketFixture) -> bool:
    with world.make.session() as s:
        rows = s.exec(
            select(Notification).where(
                Notification.ticket_id == t.id, Notification.user_id == world.users[role].id
            )
        ).all()
    return bool(rows)


def _grid(table: dict[str, dict[str, bool]]) -> str:
    width = max(len(r) for r in ROLES)
    head = " " * width + " | " + " | ".join(PATHS)
    lines = [head]
    for role in ROLES:
        cells = [("Y" if table[role][p] else ".").center(len(p)) for p in PATHS]
        lines.append(role.ljust(width) + " | " + " | ".join(cells))
    return "\n".join(lines)


@pytest.mark.parametrize("tlp", TLP_LEVELS)
def test_who_sees_what(world: World, tlp: str) -> None:
    ticket = world.tickets[tlp]
    want = {role: expected(role, tlp) for role in ROLES}
    got = {role: observed(world, role, ticket) for role in ROLES}
    wrong = [
        f"{role}: {path} is {'visible' if got[role][path] else 'hidden'}, expected "
        f"{'visible' if want[role][path] else 'hidden'}"
        for role in ROLES
        for path in PATHS
        if got[role][path] != want[role][path]
    ]
    assert not wrong, (
        f"TLP:{tlp.upper()}\n"
        + "\n".join(wrong)
        + f"\n\nexpected:\n{_grid(want)}\n\nobserved:\n{_grid(got)}"
    )


def test_notification_texts_carry_the_ticket_only_to_participants(world: World) -> None:
    """Whatever reaches someone's mailbox about a ticket names it only if they may see it."""
    with world.make.session() as s:
        rows = s.exec(select(Notification)).all()
    by_user = {u.id: role for role, u in world.users.items()}
    for tlp, t in world.tickets.items():
        for row in rows:
            if row.ticket_id != t.id or row.user_id is None:
                continue
            role = by_user[row.user_id]
            assert expected(role, tlp)["detail"], f"TLP:{tlp} {role} was sent {row.subject!r}"


def test_a_red_major_incident_tells_leaders_and_systemeiere_without_details(
    world: World,
) -> None:
    agent = world.clients["agent who is assignee"]
    secret = "hemmelig-hendelse"
    for tlp in ("amber", "red"):
        created = _ok(
            agent.post(
                "/api/v1/tickets",
                json={
                    "title": f"{secret} {tlp}",
                    "description": "Detaljer om angrepet",
                    "tlp": tlp,
                    "major": True,
                    "kommune_id": world.users["requester (end user)"].kommune_id,
                    "ci_ids": [world.system_id],
                },
            )
        )
        with world.make.session() as s:
            mails = s.exec(
                select(Notification).where(Notification.ticket_id == created["id"])
            ).all()
        leaders = [m for m in mails if m.email == "leder@alfa.no"]
        owners = [m for m in mails if m.user_id == world.users["systemeier of the system"].id]
        assert leaders and owners, f"TLP:{tlp}: the leadership and the systemeier are told"
        for mail in leaders + owners:
            text = mail.subject + mail.body
            if tlp == "red":
                assert secret not in text and "angrepet" not in text, text
            else:
                assert secret in text
