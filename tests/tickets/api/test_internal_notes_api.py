"""Who reads and writes internal notes, decided per ticket (issue 14, item 12).

Internal notes are the drift unit's, and a systemeier's or systemadministrator's on the tickets
of their own systems only. Being a systemeier somewhere is no key to the internal notes of
every ticket one happens to watch. The systemeier of a shared system reads the AMBER tickets of
every kommune on that system, notes included (decision in docs/access.md).
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.tickets.api.conftest import file_ticket

NOTE = "Intern: brannmurregelen ble endret av leverandøren i natt"


def _bodies(client: TestClient, ticket_id: int) -> list[str]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/entries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return [e["body"] for e in items]


def _with_note(api, world, **fields: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ticket = file_ticket(api(world.user_a), **fields)
    response = api(world.agent).post(
        f"/api/v1/tickets/{ticket['id']}/entries", json={"body": NOTE, "public": False}
    )
    assert response.status_code == 201, response.text
    return ticket


def test_systemeier_watching_a_ticket_off_their_systems_reads_no_internal_note(api, world) -> None:
    ticket = _with_note(api, world)
    shared = api(world.user_a).post(
        f"/api/v1/tickets/{ticket['id']}/watchers", json={"user_id": world.owner.id}
    )
    assert shared.status_code == 201, shared.text
    owner = api(world.owner)
    bodies = _bodies(owner, ticket["id"])
    assert bodies, "the watcher sees the ticket's timeline"
    assert NOTE not in bodies
    refused = owner.post(
        f"/api/v1/tickets/{ticket['id']}/entries", json={"body": "Notat", "public": False}
    )
    assert refused.status_code == 403, refused.text


def test_systemeier_reads_internal_notes_of_their_system_in_every_kommune(api, world) -> None:
    """The owner is of kommune A; the ticket is kommune B's, AMBER, on the owner's system."""
    ticket = file_ticket(api(world.user_b), ci_ids=[world.shared.id], tlp="amber")
    note = api(world.agent).post(
        f"/api/v1/tickets/{ticket['id']}/entries", json={"body": NOTE, "public": False}
    )
    assert note.status_code == 201, note.text
    owner = api(world.owner)
    assert NOTE in _bodies(owner, ticket["id"])
    written = owner.post(
        f"/api/v1/tickets/{ticket['id']}/entries", json={"body": "Notat", "public": False}
    )
    assert written.status_code == 201, written.text
