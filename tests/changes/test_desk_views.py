"""A change is a ticket row, but the service desk's own views (queues, their counts, search,
the ticket API, the portal's list and the ticket metrics) show incidents, requests and
problems only: changes have their own pages and API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from fellesdrift.kernel.settings import Settings
from register.access import Principal, bind
from servicedesk.changes.schemas import ChangeCreate
from servicedesk.changes.service import records
from servicedesk.tickets import metrics
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core, queues, search
from tests.changes.conftest import World
from tests.support.fixtures import Browser

WORD = "Sikkerhetsoppdatering"


def _both(w: World) -> tuple[int, int]:
    """A change and an incident with the same word in the title, both the agent's."""
    health = int(w.health.id or 0)
    change, _ = w.run(
        w.agent,
        records.create_change,
        ChangeCreate(title=f"{WORD} av journal", ci_ids=[health], implementer_id=w.agent.id),
    )
    incident = w.run(
        w.agent,
        core.create_ticket,
        TicketCreate(title=f"{WORD} feilet", kommune_id=w.a.id, ci_ids=[health]),
    )
    with w.as_(w.agent) as s:
        ticket = core.get_ticket(s, incident.id)
        ticket.assignee_id = w.agent.id
    return int(change.id), int(incident.id)


def test_queues_counts_and_search_leave_changes_out(world: World) -> None:
    change_id, incident_id = _both(world)
    with world.as_(world.agent) as s:
        everything = {t.id for t in queues.queue_page(s, queues.QueueFilter()).tickets}
        mine = queues.queue_rows(s, queues.QueueFilter(assignee="me")).tickets
        counts = queues.queue_counts(s, [])
        found = {t.id for t in search.search(s, WORD).tickets}
        on_system = queues.queue_page(s, queues.QueueFilter(ci_id=world.health.id)).tickets
    assert incident_id in everything and change_id not in everything
    assert [r.id for r in mine] == [incident_id]
    assert counts["mine"] == 1
    assert found == {incident_id}
    assert [t.id for t in on_system] == [incident_id]


def test_ticket_api_and_portal_list_leave_changes_out(
    world: World,
    api: Callable[..., TestClient],
    browser: Callable[..., Browser],
) -> None:
    change_id, incident_id = _both(world)
    client = api(world.agent)
    listed = client.get("/api/v1/tickets").json()["items"]
    assert [t["id"] for t in listed] == [incident_id]
    searched = client.get("/api/v1/tickets", params={"q": WORD}).json()["items"]
    assert [t["id"] for t in searched] == [incident_id]
    queue = client.get("/api/v1/queue").json()["items"]
    assert [t["id"] for t in queue] == [incident_id]
    # The change is still there, on its own API.
    assert client.get(f"/api/v1/changes/{change_id}").status_code == 200
    page = browser(world.agent).get("/saker")
    assert page.status_code == 200
    assert f"{WORD} feilet" in page.text and f"{WORD} av journal" not in page.text


def test_ticket_metrics_count_no_changes(world: World, settings: Settings) -> None:
    _both(world)
    with Session(world.make.engine) as s:
        bind(s, Principal.system("metrics"))
        snap = metrics.read_snapshot(s, settings)
    kinds = {key[3] for key in snap.open} | {key[1] for key in snap.totals}
    assert kinds == {"incident"}


def test_a_change_is_neither_moved_nor_edited_as_a_ticket(
    world: World,
    api: Callable[..., TestClient],
    browser: Callable[..., Browser],
) -> None:
    """The ticket API and the agent's ticket page would let a change skip its approvals."""
    change_id, _ = _both(world)
    client = api(world.agent)
    version = client.get(f"/api/v1/tickets/{change_id}").json()["version"]
    moved = client.post(
        f"/api/v1/tickets/{change_id}/transitions",
        json={"status": "resolved", "version": version, "resolution": "Gjort"},
    )
    assert moved.status_code == 409, moved.text
    assert f"/endringer/{change_id}" in moved.json()["detail"]
    edited = client.patch(
        f"/api/v1/tickets/{change_id}", json={"version": version, "title": "Godkjent likevel"}
    )
    assert edited.status_code == 409, edited.text
    assert client.get(f"/api/v1/changes/{change_id}").json()["state"] == "draft"
    page = browser(world.agent).get(f"/arbeid/saker/{change_id}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/endringer/{change_id}"
