"""The agent workspace's tools through the API: assignment groups and their members, saved
views (personal: another's is not found) run as a queue, and bulk updates."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from register.models import AuditEvent
from servicedesk.tickets.models import GroupMember
from tests.api.support import field_error, ids, problem
from tests.support.factories import Factory
from tests.tickets.api.conftest import Api, Stored, file_ticket
from tests.tickets.conftest import World

GROUPS = "/api/v1/groups"
VIEWS = "/api/v1/views"
BULK = "/api/v1/tickets/bulk"


# ---- assignment groups --------------------------------------------------------------------------


def test_admins_keep_the_assignment_groups(world: World, api: Api, make: Factory) -> None:
    admin = api(make.user(None, "admin", username="sjef"))
    agent, anne = api(world.agent), api(world.user_a)
    created = admin.post(GROUPS, json={"key": "nettverk", "name": "Nettverk"})
    assert created.status_code == 201, created.text
    group = created.json()
    assert created.headers["Location"] == f"{GROUPS}/{group['id']}"
    problem(agent.post(GROUPS, json={"key": "egen", "name": "Egen gruppe"}), 403)
    field_error(admin.post(GROUPS, json={"key": "nettverk", "name": "Igjen"}), "key", "nettverk")
    field_error(admin.post(GROUPS, json={"key": "Æ Ø", "name": "Rart"}), "key")
    # Everyone may read the groups (a ticket names its group).
    assert group["id"] in ids(anne.get(GROUPS))
    assert anne.get(f"{GROUPS}/{group['id']}").json()["name"] == "Nettverk"
    problem(anne.get(f"{GROUPS}/999999"), 404)
    body = {"key": "nett", "name": "Nettverk og brannmur", "email": "nett@drift.no"}
    problem(agent.put(f"{GROUPS}/{group['id']}", json=body), 403)
    changed = admin.put(f"{GROUPS}/{group['id']}", json=body)
    assert changed.status_code == 200 and changed.json() == {"id": group["id"], **body}
    with make.session() as s:
        actions = s.exec(select(AuditEvent.action).where(AuditEvent.entity == "group"))
        assert sorted(actions) == ["create", "update"]


def test_group_members_are_the_drift_units_business(world: World, api: Api, make: Factory) -> None:
    admin = api(make.user(None, "admin", username="sjef"))
    agent, contact = api(world.agent), api(world.contact_a)
    group = admin.post(GROUPS, json={"key": "klient", "name": "Klient"}).json()
    members = f"{GROUPS}/{group['id']}/members"
    added = admin.post(members, json={"user_id": world.agent2.id})
    assert added.status_code == 201, added.text
    assert added.json() == {"user_id": world.agent2.id, "username": "agent2", "full_name": "Agent2"}
    assert [m["user_id"] for m in agent.get(members).json()] == [world.agent2.id]
    problem(contact.get(members), 403)
    problem(agent.post(members, json={"user_id": world.agent.id}), 403)
    # Only agents of the drift unit can be members; nobody twice.
    field_error(admin.post(members, json={"user_id": world.user_a.id}), "user_id", world.user_a.id)
    field_error(admin.post(members, json={"user_id": world.agent2.id}), "user_id")
    problem(admin.post(f"{GROUPS}/999999/members", json={"user_id": world.agent.id}), 404)
    problem(agent.delete(f"{members}/{world.agent2.id}"), 403)
    assert admin.delete(f"{members}/{world.agent2.id}").status_code == 204
    problem(admin.delete(f"{members}/{world.agent2.id}"), 404)
    with make.session() as s:
        assert s.exec(select(GroupMember).where(GroupMember.group_id == group["id"])).all() == []


# ---- saved views --------------------------------------------------------------------------------


def test_agents_keep_their_own_saved_views(world: World, api: Api) -> None:
    agent, other, anne = api(world.agent), api(world.agent2), api(world.user_a)
    created = agent.post(VIEWS, json={"name": "  Mine  P1 ", "query": "priority=1&assignee=me&x=1"})
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["name"] == "Mine P1" and view["query"] == "priority=1&assignee=me"
    assert created.headers["Location"] == f"{VIEWS}/{view['id']}"
    field_error(agent.post(VIEWS, json={"name": "Mine P1"}), "name", "Mine P1")
    field_error(agent.post(VIEWS, json={"name": "   "}), "name")
    field_error(agent.post(VIEWS, json={"name": "x" * 81}), "name")
    problem(anne.post(VIEWS, json={"name": "Mine"}), 403)
    assert ids(agent.get(VIEWS)) == [view["id"]]
    assert agent.get(f"{VIEWS}/{view['id']}").json() == view
    # Personal: another agent neither sees, changes, runs nor deletes it.
    assert other.get(VIEWS).json()["items"] == []
    problem(other.get(f"{VIEWS}/{view['id']}"), 404)
    problem(other.patch(f"{VIEWS}/{view['id']}", json={"name": "Hans"}), 404)
    problem(other.get(f"{VIEWS}/{view['id']}/tickets"), 404)
    problem(other.delete(f"{VIEWS}/{view['id']}"), 404)
    second = agent.post(VIEWS, json={"name": "Nye"}).json()
    field_error(agent.patch(f"{VIEWS}/{second['id']}", json={"name": "Mine P1"}), "name")
    change = {"name": "Hastesaker", "query": "status=new"}
    renamed = agent.patch(f"{VIEWS}/{view['id']}", json=change)
    assert renamed.json() == {"id": view["id"], "name": "Hastesaker", "query": "status=new"}
    assert agent.delete(f"{VIEWS}/{view['id']}").status_code == 204
    problem(agent.get(f"{VIEWS}/{view['id']}"), 404)
    assert ids(agent.get(VIEWS)) == [second["id"]]


def test_a_saved_view_runs_as_a_queue(world: World, api: Api) -> None:
    agent, anne = api(world.agent), api(world.user_a)
    low = file_ticket(anne, urgency=4)
    urgent = file_ticket(anne, urgency=1, impact=1)
    other = file_ticket(api(world.user_b), urgency=1, impact=1)
    view = agent.post(VIEWS, json={"name": "Alfa", "query": f"kommune={world.a.id}"}).json()
    run = f"{VIEWS}/{view['id']}/tickets"
    # Priority first, then oldest first; only the view's kommune.
    assert ids(agent.get(run)) == [urgent["id"], low["id"]]
    first = agent.get(run, params={"limit": 1}).json()
    assert [t["id"] for t in first["items"]] == [urgent["id"]] and first["next"]
    assert ids(agent.get(run, params={"limit": 1, "after": first["next"]})) == [low["id"]]
    field_error(agent.get(run, params={"after": "bm9wZQ"}), "after")
    assert other["id"] not in ids(agent.get(run))


def test_a_queue_in_the_workspaces_order(world: World, api: Api) -> None:
    agent, anne, bjorn = api(world.agent), api(world.user_a), api(world.user_b)
    low = file_ticket(anne, urgency=4)
    urgent = file_ticket(anne, urgency=1, impact=1)
    beta = file_ticket(bjorn, urgency=1, impact=1)
    assert ids(agent.get("/api/v1/queue")) == [urgent["id"], beta["id"], low["id"]]
    alfa = {"kommune": world.a.id}
    assert ids(agent.get("/api/v1/queue", params=alfa)) == [urgent["id"], low["id"]]
    assert ids(agent.get("/api/v1/queue", params={"priority": [4]})) == [low["id"]]
    assert ids(agent.get("/api/v1/queue", params={"assignee": "me"})) == []
    assert ids(agent.get("/api/v1/queue", params={"status": ["resolved"]})) == []
    # The access layer filters it like any list: Bjørn sees only his own, asking for Alfa's.
    assert ids(bjorn.get("/api/v1/queue", params=alfa)) == []
    assert ids(bjorn.get("/api/v1/queue")) == [beta["id"]]
    field_error(agent.get("/api/v1/queue", params={"status": ["asleep"]}), "status.0", "asleep")


# ---- bulk update --------------------------------------------------------------------------------


def _items(*tickets: dict[str, Any]) -> list[dict[str, int]]:
    return [{"ticket_id": t["id"], "version": t["version"]} for t in tickets]


def test_bulk_update_changes_each_ticket_on_its_own(world: World, api: Api, stored: Stored) -> None:
    agent, anne = api(world.agent), api(world.user_a)
    one, two, three = (file_ticket(anne, title=f"Sak nummer {n}") for n in range(3))
    stale = dict(three, version=three["version"] - 1 if three["version"] > 1 else 99)
    body = {
        "tickets": [*_items(one, two), {"ticket_id": stale["id"], "version": stale["version"]}],
        "assignee_id": world.agent2.id,
        "urgency": 2,
    }
    result = agent.post(BULK, json=body)
    assert result.status_code == 200, result.text
    out = result.json()
    assert out["applied"] == 2
    assert [(r["ticket_id"], r["status"]) for r in out["results"]] == [
        (one["id"], 200),
        (two["id"], 200),
        (three["id"], 409),
    ]
    assert "changed by someone else" in out["results"][2]["detail"]
    for ticket in (one, two):
        row = stored(ticket["id"])
        assert (row.assignee_id, row.urgency, row.status) == (world.agent2.id, 2, "assigned")
    assert stored(three["id"]).assignee_id is None
    # null empties the assignee; a status change goes through the lifecycle.
    fresh = [agent.get(f"/api/v1/tickets/{t['id']}").json() for t in (one, two)]
    moved = agent.post(BULK, json={"tickets": _items(*fresh), "assignee_id": None})
    assert moved.json()["applied"] == 2 and stored(one["id"]).assignee_id is None
    fresh = [agent.get(f"/api/v1/tickets/{t['id']}").json() for t in (one, two)]
    done = agent.post(
        BULK, json={"tickets": _items(*fresh), "status": "resolved", "resolution": "Fikset"}
    )
    assert done.json()["applied"] == 2 and stored(two["id"]).resolution == "Fikset"


def test_bulk_update_refuses_what_could_succeed_nowhere(world: World, api: Api) -> None:
    agent, anne, contact = api(world.agent), api(world.user_a), api(world.contact_a)
    ticket = file_ticket(anne)
    items = _items(ticket)
    problem(agent.post(BULK, json={"tickets": items}), 422)
    field_error(agent.post(BULK, json={"tickets": items, "status": "resolved"}), "resolution")
    field_error(agent.post(BULK, json={"tickets": [], "urgency": 2}), "tickets")
    field_error(agent.post(BULK, json={"tickets": items, "urgency": 9}), "urgency")
    # Only the drift unit changes tickets in bulk, not even on their own kommune's tickets.
    for client in (anne, contact, api(world.user_b)):
        problem(client.post(BULK, json={"tickets": items, "urgency": 2}), 403)
    unknown = [{"ticket_id": 999_999, "version": 1}]
    missing = agent.post(BULK, json={"tickets": unknown, "urgency": 2})
    assert missing.json()["results"][0]["status"] == 404
