"""Admin pages (priority matrix, assignment groups with members), saved views from the queue
page, and the workspace's catalogue fragment."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from sqlmodel import select

from register.models import AuditEvent
from servicedesk.tickets.models import GroupMember, Ticket
from tests.pages.helpers import text
from tests.support.fixtures import Browser
from tests.tickets.agent.conftest import Desk, file_ticket

LOCALE = Path(__file__).resolve().parents[3] / "fellesdrift" / "kernel" / "locale"


def _matrix_form(priority_11: str) -> dict[str, object]:
    cells: dict[str, object] = {f"p{i}{u}": "4" for i in range(1, 5) for u in range(1, 5)}
    return cells | {"p11": priority_11}


def test_priority_matrix_drives_new_priorities(desk: Desk, browser, as_user, make) -> None:
    admin: Browser = browser(desk.admin)
    page = admin.get("/arbeid/admin/prioritet")
    assert re.search(r'name="p11">\s*<option value="1" selected', page.text)
    saved = admin.submit("/arbeid/admin/prioritet", _matrix_form("2"), follow_redirects=False)
    assert saved.status_code == 303
    tampered = admin.submit("/arbeid/admin/prioritet", _matrix_form("7"))
    assert tampered.status_code == 422 and "Velg P1, P2, P3 eller P4" in text(tampered.text)
    ticket = file_ticket(as_user(desk.world.user_a), impact=1, urgency=1)
    other = file_ticket(as_user(desk.world.user_a), impact=3, urgency=3)
    assert (ticket.priority, other.priority) == (2, 4)
    with make.session() as s:
        audit = s.exec(select(AuditEvent).where(AuditEvent.entity == "priority_matrix")).all()
    assert len(audit) == 1 and "1x1: P1 -> P2" in audit[0].summary


def test_groups_and_members(desk: Desk, browser, make) -> None:
    admin: Browser = browser(desk.admin)
    created = admin.submit(
        "/arbeid/admin/grupper", {"key": "server", "name": "Serverdrift"}, follow_redirects=False
    )
    assert created.status_code == 303
    url = created.headers["location"].split("?")[0]
    taken = admin.submit("/arbeid/admin/grupper", {"key": "server", "name": "Igjen"})
    assert taken.status_code == 422 and "Serverdrift" in taken.text
    bad_key = admin.submit("/arbeid/admin/grupper", {"key": "Server drift!", "name": "X y"})
    assert bad_key.status_code == 422
    assert (
        admin.submit(f"{url}/medlemmer", {"username": "agent2"}, follow_redirects=False).status_code
        == 303
    )
    assert admin.submit(f"{url}/medlemmer", {"username": "anne"}).status_code == 422
    again = admin.submit(f"{url}/medlemmer", {"username": "agent2"})
    assert again.status_code == 422 and "Er allerede medlem" in text(again.text)
    assert "Agent2 (agent2)" in text(admin.get(url).text)
    group_id = int(url.rsplit("/", 1)[1])
    # The new member's sidebar lists the group's queue.
    sidebar = text(browser(desk.world.agent2).get("/arbeid").text)
    assert "Serverdrift (0)" in sidebar
    removed = admin.submit(f"{url}/medlemmer/{desk.world.agent2.id}/fjern", follow_redirects=False)
    assert removed.status_code == 303
    with make.session() as s:
        assert s.exec(select(GroupMember).where(GroupMember.group_id == group_id)).all() == []
    renamed = admin.submit(
        url, {"key": "server", "name": "Server og lagring"}, follow_redirects=False
    )
    assert renamed.status_code == 303
    assert "Server og lagring" in admin.get("/arbeid/admin/grupper").text


def test_saved_views_from_the_queue_page(desk: Desk, browser, as_user) -> None:
    urgent = file_ticket(as_user(desk.world.user_a), impact=1, urgency=1)
    file_ticket(as_user(desk.world.user_a), impact=4, urgency=4)
    client: Browser = browser(desk.world.agent)
    queue = client.get("/arbeid/saker", params=[("priority", "1"), ("status", "new")])
    assert 'name="query" value="status=new&amp;priority=1"' in queue.text
    saved = client.submit(
        "/arbeid/visninger",
        {"name": "Akutte", "query": "status=new&priority=1"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    view_page = client.get(saved.headers["location"])
    shown = text(view_page.text)
    assert "Visningen er lagret." in shown and f"#{urgent.id}" in shown
    assert len(re.findall(r"<tr data-row>", view_page.text)) == 1
    assert (
        'aria-current="page">Akutte</a>' in client.get("/arbeid/saker?status=new&priority=1").text
    )
    twice = client.submit("/arbeid/visninger", {"name": "Akutte", "query": "priority=2"})
    assert twice.status_code == 422
    assert "Du har allerede en visning med dette navnet" in text(twice.text)
    # Another agent neither sees nor deletes it.
    other: Browser = browser(desk.world.agent2)
    assert "Akutte" not in other.get("/arbeid").text
    view_id = re.search(r'action="/arbeid/visninger/(\d+)/slett"', view_page.text).group(1)  # type: ignore[union-attr]
    assert other.submit(f"/arbeid/visninger/{view_id}/slett").status_code == 404
    gone = client.submit(
        f"/arbeid/visninger/{view_id}/slett", {"next": "/arbeid"}, follow_redirects=False
    )
    assert gone.headers["location"] == "/arbeid?ok=agent_view_deleted"
    assert "Akutte" not in client.get("/arbeid").text


def test_english_is_available(desk: Desk, browser, as_user) -> None:
    ticket = file_ticket(as_user(desk.world.user_a))
    client: Browser = browser(desk.world.agent)
    client.submit("/sprak", {"lang": "en", "next": f"/arbeid/saker/{ticket.id}"})
    shown = text(client.get(f"/arbeid/saker/{ticket.id}").text)
    assert "Timeline" in shown and "Reply or internal note" in shown
    assert "Tidslinje" not in shown


def _fragment(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((LOCALE / lang / "agent.json").read_text(encoding="utf-8"))
    return data


def test_the_catalogue_fragment_is_complete_in_both_languages() -> None:
    nb, en = _fragment("nb"), _fragment("en")
    assert list(nb) == sorted(nb) and list(en) == sorted(en)
    assert set(nb) == set(en)
    fields = string.Formatter()
    for key in nb:
        assert nb[key].strip() and en[key].strip(), key
        names = {f for _, f, _, _ in fields.parse(nb[key]) if f}
        assert names == {f for _, f, _, _ in fields.parse(en[key]) if f}, key
    for status in ("new", "assigned", "in_progress", "pending", "resolved", "closed", "cancelled"):
        assert f"agent.transition.{status}" in nb
    for kind in ("reply", "note", "status", "field", "system"):
        assert f"agent.entry.{kind}" in nb


def test_a_ticket_row_shows_no_raw_keys(desk: Desk, browser, as_user, make) -> None:
    file_ticket(as_user(desk.world.user_a), type="request")
    with make.session() as s:
        assert s.exec(select(Ticket)).first() is not None
    for url in ("/arbeid", "/arbeid/saker"):
        shown = text(browser(desk.world.agent).get(url).text)
        assert not re.search(r"\bagent\.[a-z_]+\.", shown), url
