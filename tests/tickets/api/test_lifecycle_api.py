"""Transitions, the timeline, links and children, watchers and rating through the API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from servicedesk.tickets.models import Ticket
from tests.api.support import field_error, ids, problem
from tests.tickets.api.conftest import Api, Stored, file_ticket, move
from tests.tickets.conftest import World


def test_agent_works_a_ticket_through_its_lifecycle(world: World, api: Api) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    ticket = file_ticket(anne)
    ticket = move(agent, ticket, "in_progress")
    ticket = move(agent, ticket, "pending", pending_reason="user", comment="Hvilken skriver?")
    assert ticket["pending_reason"] == "user"
    # The requester's answer puts it back in progress.
    anne.post(f"/api/v1/tickets/{ticket['id']}/entries", json={"body": "Den i 2. etasje"})
    ticket = agent.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert ticket["status"] == "in_progress" and ticket["pending_reason"] is None
    ticket = move(agent, ticket, "resolved", resolution="Byttet toner")
    assert ticket["resolution"] == "Byttet toner" and ticket["resolved_at"]
    assert anne.get(f"/api/v1/tickets/{ticket['id']}").json()["transitions"] == [
        "in_progress",
        "closed",
    ]
    ticket = move(anne, ticket, "closed")
    assert ticket["closed_at"] and ticket["transitions"] == []
    kinds = [e["kind"] for e in anne.get(f"/api/v1/tickets/{ticket['id']}/entries").json()["items"]]
    assert kinds.count("status") == 5 and "reply" in kinds


def test_invalid_transitions_are_409_naming_both_statuses(world: World, api: Api) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    ticket = file_ticket(anne)
    path = f"/api/v1/tickets/{ticket['id']}/transitions"
    body = problem(agent.post(path, json={"version": 1, "status": "closed"}), 409)
    assert body["title"] == "Invalid transition"
    assert body["detail"] == "a ticket that is new cannot become closed"
    # Allowed for the drift unit, not for the requester: a 403 that says so.
    assert (
        "resolved"
        in problem(
            anne.post(path, json={"version": 1, "status": "resolved", "resolution": "Selv fikset"}),
            403,
        )["detail"]
    )
    field_error(agent.post(path, json={"version": 1, "status": "pending"}), "pending_reason")
    field_error(agent.post(path, json={"version": 1, "status": "resolved"}), "resolution")
    field_error(agent.post(path, json={"version": 1, "status": "asleep"}), "status", "asleep")
    cancelled = move(anne, ticket, "cancelled")
    body = problem(
        agent.post(path, json={"version": cancelled["version"], "status": "in_progress"}), 409
    )
    assert body["detail"] == "a ticket that is cancelled cannot become in_progress"
    stale = problem(agent.post(path, json={"version": 1, "status": "in_progress"}), 409)
    assert "changed by someone else" in stale["detail"]
    closed = problem(
        anne.post(f"/api/v1/tickets/{ticket['id']}/entries", json={"body": "Hallo?"}), 409
    )
    assert "cancelled" in closed["detail"]


def test_internal_notes_are_for_the_drift_unit_only(world: World, api: Api) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    ticket = file_ticket(anne, ci_ids=[world.shared.id])
    path = f"/api/v1/tickets/{ticket['id']}/entries"
    note = agent.post(path, json={"body": "Intern: feil tilgang", "public": False})
    assert note.status_code == 201 and note.json()["kind"] == "note"
    assert (
        "internal notes"
        in problem(anne.post(path, json={"body": "x", "public": False}), 403)["detail"]
    )
    field_error(anne.post(path, json={"body": ""}), "body")
    bodies = [e["body"] for e in anne.get(path).json()["items"]]
    assert "Intern: feil tilgang" not in bodies
    assert "Intern: feil tilgang" in [e["body"] for e in agent.get(path).json()["items"]]
    # The systemeier of the affected system sees notes too.
    assert "Intern: feil tilgang" in [e["body"] for e in api(world.owner).get(path).json()["items"]]


def test_timeline_pages(world: World, api: Api) -> None:
    anne = api(world.user_a)
    ticket = file_ticket(anne)
    path = f"/api/v1/tickets/{ticket['id']}/entries"
    for n in range(4):
        anne.post(path, json={"body": f"Melding {n}"})
    first = anne.get(path, params={"limit": 3}).json()
    second = anne.get(path, params={"limit": 3, "after": first["next"]}).json()
    assert [e["body"] for e in first["items"]] == ["", "Melding 0", "Melding 1"]
    assert [e["body"] for e in second["items"]] == ["Melding 2", "Melding 3"]
    assert second["next"] is None


def _at_once(calls: Sequence[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls in threads released together; returns their responses."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_replies_are_all_kept(world: World, api: Api, stored: Stored) -> None:
    anne = api(world.user_a)
    ticket = file_ticket(anne)
    path = f"/api/v1/tickets/{ticket['id']}/entries"
    clients: list[TestClient] = [api(world.agent), api(world.agent2), anne, api(world.contact_a)]
    bodies = [f"Svar fra klient {n}" for n in range(len(clients))]
    calls = [partial(c.post, path, json={"body": b}) for c, b in zip(clients, bodies, strict=True)]
    assert [r.status_code for r in _at_once(calls)] == [201] * len(clients)
    kept = [e["body"] for e in anne.get(path).json()["items"]]
    assert sorted(b for b in kept if b) == sorted(bodies)
    # Replies are no edits: an agent who opened the ticket before them can still change it.
    assert stored(ticket["id"]).version == 1
    edited = clients[0].patch(f"/api/v1/tickets/{ticket['id']}", json={"version": 1, "impact": 2})
    assert edited.status_code == 200, edited.text


def test_concurrent_edits_on_one_version_one_wins_the_other_gets_409(
    world: World, api: Api, stored: Stored
) -> None:
    ticket = file_ticket(api(world.user_a))
    path = f"/api/v1/tickets/{ticket['id']}"
    first, second = api(world.agent), api(world.agent2)
    titles = ["Tittel fra agent 1", "Tittel fra agent 2"]
    calls = [
        partial(c.patch, path, json={"version": 1, "title": t})
        for c, t in zip((first, second), titles, strict=True)
    ]
    responses = _at_once(calls)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    saved: Ticket = stored(ticket["id"])
    assert saved.title == winner.json()["title"] and saved.version == 2


def test_links_and_children_of_a_mass_outage(world: World, api: Api) -> None:
    agent = api(world.agent)
    parent = file_ticket(agent, title="E-post nede for alle", ci_ids=[world.shared.id])
    children = []
    for user in (world.user_a, world.user_b, world.user_c):
        child = file_ticket(api(user), title="Får ikke sendt e-post")
        linked = agent.post(
            f"/api/v1/tickets/{child['id']}/links",
            json={"kind": "parent", "target_id": parent["id"]},
        )
        assert linked.status_code == 200 and linked.json()["parent_id"] == parent["id"]
        children.append(child["id"])
    assert ids(agent.get(f"/api/v1/tickets/{parent['id']}/children")) == children
    move(agent, agent.get(f"/api/v1/tickets/{parent['id']}").json(), "resolved", resolution="Ok")
    bjorn = api(world.user_b)
    assert bjorn.get(f"/api/v1/tickets/{children[1]}").json()["status"] == "resolved"
    # Bjørn's only view of the parent: none (it is the drift unit's ticket).
    problem(bjorn.get(f"/api/v1/tickets/{parent['id']}/children"), 404)

    problem_ticket = file_ticket(agent, title="Sertifikater", type="problem")
    caused = agent.post(
        f"/api/v1/tickets/{children[0]}/links",
        json={"kind": "caused_by", "target_id": problem_ticket["id"]},
    )
    assert caused.json()["problem_id"] == problem_ticket["id"]
    field_error(
        agent.post(
            f"/api/v1/tickets/{children[0]}/links",
            json={"kind": "caused_by", "target_id": parent["id"]},
        ),
        "target_id",
    )
    field_error(
        agent.post(
            f"/api/v1/tickets/{parent['id']}/links",
            json={"kind": "duplicate_of", "target_id": parent["id"]},
        ),
        "target_id",
    )
    problem(
        agent.post(
            f"/api/v1/tickets/{parent['id']}/links", json={"kind": "parent", "target_id": 999999}
        ),
        404,
    )
    only_agents = api(world.user_a).post(
        f"/api/v1/tickets/{children[0]}/links",
        json={"kind": "duplicate_of", "target_id": children[0]},
    )
    problem(only_agents, 403)


def test_watchers_share_a_ticket_and_can_be_removed(world: World, api: Api) -> None:
    anne, colleague, agent = api(world.user_a), api(world.contact_a), api(world.agent)
    ticket = file_ticket(anne, tlp="red")
    path = f"/api/v1/tickets/{ticket['id']}/watchers"
    problem(agent.get(f"/api/v1/tickets/{ticket['id']}"), 404)  # RED: not shared yet
    problem(agent.post(path, json={"user_id": world.agent.id}), 404)
    # Anne names the agent who helps her: now the agent is one of the named participants.
    response = anne.post(path, json={"user_id": world.agent.id})
    assert response.status_code == 201, response.text
    assert response.json() == {"user_id": world.agent.id, "full_name": None}  # not her colleague
    assert anne.post(path, json={"user_id": world.agent.id}).status_code == 201  # idempotent
    assert agent.get(f"/api/v1/tickets/{ticket['id']}").json()["watcher_ids"] == [world.agent.id]
    assert agent.get(path).json()["items"] == [
        {"user_id": world.agent.id, "full_name": world.agent.full_name}
    ]
    # Nobody outside her kommune and the drift unit; the kommune contact sees no RED ticket.
    field_error(anne.post(path, json={"user_id": world.user_b.id}), "user_id", world.user_b.id)
    field_error(anne.post(path, json={"user_id": "anne"}), "user_id", "anne")
    problem(colleague.get(path), 404)
    # The agent stops watching; then the ticket is gone for them.
    assert agent.delete(f"{path}/{world.agent.id}").status_code == 204
    problem(agent.get(f"/api/v1/tickets/{ticket['id']}"), 404)
    problem(anne.delete(f"{path}/{world.agent.id}"), 404)


def test_requesters_unshare_and_others_may_only_unwatch_themselves(world: World, api: Api) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    ticket = file_ticket(anne)
    path = f"/api/v1/tickets/{ticket['id']}/watchers"
    assert agent.post(path, json={"user_id": world.agent2.id}).status_code == 201
    assert anne.post(path, json={"user_id": world.owner.id}).status_code == 201  # a colleague
    owner = api(world.owner)
    assert "unshares" in problem(owner.delete(f"{path}/{world.agent2.id}"), 403)["detail"]
    assert owner.delete(f"{path}/{world.owner.id}").status_code == 204
    assert anne.delete(f"{path}/{world.agent2.id}").status_code == 204
    assert anne.get(path).json()["items"] == []
    field_error(agent.post(path, json={"user_id": 999999}), "user_id", 999999)


def test_only_the_requester_rates_a_resolved_ticket(world: World, api: Api) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    ticket = file_ticket(anne)
    path = f"/api/v1/tickets/{ticket['id']}/rating"
    assert "resolved" in problem(anne.put(path, json={"rating": 5}), 409)["detail"]
    move(agent, ticket, "resolved", resolution="Fikset")
    field_error(anne.put(path, json={"rating": 6}), "rating", 6)
    problem(api(world.contact_a).put(path, json={"rating": 1}), 403)
    rated = anne.put(path, json={"rating": 4, "comment": "Takk <b>for</b> hjelpen"})
    assert rated.status_code == 200, rated.text
    assert (
        rated.json()["rating"] == 4 and rated.json()["rating_comment"] == "Takk <b>for</b> hjelpen"
    )
    assert anne.put(path, json={"rating": 5}).json()["rating"] == 5
