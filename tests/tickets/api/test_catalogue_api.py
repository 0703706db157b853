"""The service catalogue and approvals through the API: reading and keeping the catalogue,
ordering (also as a ticket filed with ``catalogue_item_id``), and deciding approvals; a request
waiting for approval moves on only by the approver's decision."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from register.models import AuditEvent
from servicedesk.tickets.models import Approval, Ticket, TicketCI
from tests.api.support import field_error, ids, problem
from tests.support.factories import Factory
from tests.tickets.api.conftest import Api, Catalogue, Stored
from tests.tickets.conftest import World

GOOD = {"for_whom": "Kari Nordmann", "level": "read"}
ITEMS = "/api/v1/catalogue/items"


def _tickets_of(make: Factory, requester_id: int | None) -> list[Ticket]:
    with make.session() as s:
        return list(s.exec(select(Ticket).where(Ticket.requester_id == requester_id)))


def _order(client: TestClient, item_id: int | None, **body: Any) -> dict[str, Any]:
    response = client.post(f"{ITEMS}/{item_id}/orders", json={"form_data": GOOD} | body)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/api/v1/tickets/{response.json()['id']}"
    created: dict[str, Any] = response.json()
    return created


# ---- the catalogue ------------------------------------------------------------------------------


def test_everyone_reads_the_catalogue_with_its_forms(
    world: World, items: Catalogue, api: Api
) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    listed = anne.get(ITEMS).json()["items"]
    assert [i["key"] for i in listed] == ["plain", "access", "pc"]
    access = anne.get(f"{ITEMS}/{items.access.id}").json()
    assert access["approval"] == "systemeier" and access["ci_id"] == world.shared.id
    names = [f["name"] for f in access["fields"]]
    assert names == ["for_whom", "level", "from_date", "count", "why"]
    read = {"value": "read", "label": "Lese", "label_en": "Read"}
    assert access["fields"][1]["options"][0] == read
    assert ids(anne.get(ITEMS, params={"category": "Ingen"})) == []
    page = anne.get(ITEMS, params={"limit": 2}).json()
    assert len(page["items"]) == 2
    assert ids(anne.get(ITEMS, params={"after": page["next"]})) == [items.pc.id]
    # A withdrawn item is gone for those who order, not for those who keep the catalogue.
    withdrawn = agent.patch(f"{ITEMS}/{items.plain.id}", json={"active": False})
    assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False
    assert items.plain.id not in ids(anne.get(ITEMS))
    assert "no longer offered" in problem(anne.get(f"{ITEMS}/{items.plain.id}"), 404)["detail"]
    assert agent.get(f"{ITEMS}/{items.plain.id}").status_code == 200
    assert items.plain.id in ids(agent.get(ITEMS, params={"include_withdrawn": True}))
    problem(anne.get(ITEMS, params={"include_withdrawn": True}), 403)
    problem(anne.post(f"{ITEMS}/{items.plain.id}/orders", json={"form_data": GOOD}), 404)


def test_the_drift_unit_keeps_the_catalogue(
    world: World, items: Catalogue, api: Api, make: Factory
) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    body = {
        "key": "ny-skjerm",
        "name": "Ny skjerm",
        "fields": [{"name": "size", "label": "Størrelse", "type": "number", "min": 20}],
    }
    created = agent.post(ITEMS, json=body)
    assert created.status_code == 201, created.text
    item = created.json()
    assert created.headers["Location"] == f"{ITEMS}/{item['id']}"
    assert item["fields"][0]["min"] == 20 and item["approval"] == "none"
    assert "is taken" in problem(agent.post(ITEMS, json=body), 409)["detail"]
    problem(anne.post(ITEMS, json=body | {"key": "annes"}), 403)
    problem(anne.patch(f"{ITEMS}/{item['id']}", json={"name": "Min skjerm"}), 403)
    field_error(agent.post(ITEMS, json={"key": "x", "name": "Noe"}), "key", "x")
    changed = agent.patch(f"{ITEMS}/{item['id']}", json={"name": "Skjerm", "category": "Utstyr"})
    assert changed.json()["name"] == "Skjerm" and changed.json()["fields"] == item["fields"]
    # The item is checked as a whole: systemeier approval needs the system.
    field_error(agent.patch(f"{ITEMS}/{item['id']}", json={"approval": "systemeier"}), "ci_id")
    problem(agent.patch(f"{ITEMS}/{item['id']}", json={"ci_id": 999_999}), 404)
    field_error(agent.patch(f"{ITEMS}/{item['id']}", json={"name": None}), "name")
    clash = agent.patch(f"{ITEMS}/{item['id']}", json={"key": "plain"})
    assert "is taken" in problem(clash, 409)["detail"]
    moved = agent.patch(
        f"{ITEMS}/{item['id']}", json={"approval": "systemeier", "ci_id": world.shared.id}
    )
    assert moved.status_code == 200 and moved.json()["ci_id"] == world.shared.id
    with make.session() as s:
        mine = AuditEvent.entity == "catalogue_item", AuditEvent.entity_id == str(item["id"])
        logged = s.exec(select(AuditEvent.action).where(*mine))
        assert sorted(logged) == ["create", "update", "update"]


# ---- ordering -----------------------------------------------------------------------------------


def test_an_order_is_checked_against_the_items_form(
    world: World, items: Catalogue, api: Api, make: Factory, stored: Stored
) -> None:
    anne = api(world.user_a)
    path = f"{ITEMS}/{items.plain.id}/orders"
    body = problem(anne.post(path, json={"form_data": {"level": "admin", "x": "1"}}), 422)
    assert {e["field"] for e in body["errors"]} == {
        "form_data.for_whom",
        "form_data.level",
        "form_data.x",
    }
    assert _tickets_of(make, world.user_a.id) == []
    ticket = _order(anne, items.plain.id, form_data=GOOD | {"count": "3"}, urgency=2)
    assert ticket["type"] == "request" and ticket["status"] == "new"
    assert ticket["title"] == "Bestilling plain: Kari Nordmann"
    assert ticket["catalogue_item_id"] == items.plain.id and ticket["urgency"] == 2
    assert stored(ticket["id"]).form_data == GOOD | {"count": 3}
    problem(anne.post(f"{ITEMS}/999999/orders", json={"form_data": GOOD}), 404)


def test_a_ticket_filed_with_a_catalogue_item_is_an_order_of_it(
    world: World, items: Catalogue, api: Api, make: Factory, stored: Stored
) -> None:
    anne = api(world.user_a)
    base = {"type": "request", "title": "Tilgang for Kari", "catalogue_item_id": items.access.id}
    # The form is checked: nothing is filed with a wrong or missing value.
    field_error(anne.post("/api/v1/tickets", json=base), "form_data.for_whom")
    field_error(
        anne.post("/api/v1/tickets", json=base | {"form_data": GOOD | {"level": "root"}}),
        "form_data.level",
        "root",
    )
    field_error(
        anne.post("/api/v1/tickets", json=base | {"type": "incident", "form_data": GOOD}), "type"
    )
    assert _tickets_of(make, world.user_a.id) == []
    response = anne.post("/api/v1/tickets", json=base | {"form_data": GOOD})
    assert response.status_code == 201, response.text
    ticket = response.json()
    # The item decides: approval by its system's systemeier before work starts.
    assert ticket["status"] == "pending" and ticket["pending_reason"] == "approval"
    assert ticket["catalogue_item_id"] == items.access.id and ticket["category"] == "Tilgang"
    assert ticket["ci_ids"] == [world.shared.id] and ticket["transitions"] == ["cancelled"]
    with make.session() as s:
        asked = s.exec(select(Approval.approver_id).where(Approval.ticket_id == ticket["id"]))
        assert list(asked) == [world.owner.id]
        on = s.exec(select(TicketCI.ci_id).where(TicketCI.ticket_id == ticket["id"]))
        assert list(on) == [world.shared.id]
    # An item nobody can approve for this requester cannot be ordered (Beta has no contact).
    bjorn = api(world.user_b)
    body = base | {"catalogue_item_id": items.pc.id, "form_data": GOOD}
    assert (
        "nobody is registered"
        in field_error(bjorn.post("/api/v1/tickets", json=body), "catalogue_item_id")["message"]
    )
    assert _tickets_of(make, world.user_b.id) == []


def test_a_request_awaiting_approval_moves_on_only_by_the_decision(
    world: World, items: Catalogue, api: Api, stored: Stored
) -> None:
    anne, agent, contact = api(world.user_a), api(world.agent), api(world.contact_a)
    ticket = _order(anne, items.pc.id)
    assert ticket["status"] == "pending" and ticket["pending_reason"] == "approval"
    path = f"/api/v1/tickets/{ticket['id']}/transitions"
    for client in (anne, agent):
        for target in ("in_progress", "resolved"):
            body = {"version": ticket["version"], "status": target, "resolution": "x"}
            refused = problem(client.post(path, json=body), 409)
            assert refused["title"] == "Awaiting approval"
            assert "only the approver's decision moves it on" in refused["detail"]
    assert stored(ticket["id"]).status == "pending"
    assert agent.get(f"/api/v1/tickets/{ticket['id']}").json()["transitions"] == ["cancelled"]
    # In bulk neither.
    bulk = agent.post(
        "/api/v1/tickets/bulk",
        json={
            "tickets": [{"ticket_id": ticket["id"], "version": ticket["version"]}],
            "status": "in_progress",
        },
    )
    assert bulk.json()["results"][0]["status"] == 409
    # The decision does.
    mine = contact.get("/api/v1/approvals").json()["items"]
    assert [(a["ticket_id"], a["state"]) for a in mine] == [(ticket["id"], "pending")]
    decided = contact.post(f"/api/v1/approvals/{mine[0]['id']}/decision", json={"approve": True})
    assert decided.status_code == 200, decided.text
    assert stored(ticket["id"]).status == "new"


def test_approvers_decide_through_the_api(
    world: World, items: Catalogue, api: Api, stored: Stored
) -> None:
    anne, owner = api(world.user_a), api(world.owner)
    ticket = _order(anne, items.access.id)
    assert anne.get("/api/v1/approvals").json()["items"] == []
    listed = owner.get("/api/v1/approvals").json()["items"]
    assert len(listed) == 1 and listed[0]["ticket"]["title"] == ticket["title"]
    assert listed[0]["kind"] == "systemeier"
    approval = listed[0]["id"]
    decision = f"/api/v1/approvals/{approval}/decision"
    # The requester sees who was asked, but only the person asked decides.
    assert anne.get(f"/api/v1/approvals/{approval}").json()["approver_id"] == world.owner.id
    problem(anne.post(decision, json={"approve": True}), 403)
    field_error(owner.post(decision, json={"approve": False}), "comment")
    stale = owner.post(decision, json={"approve": True, "version": ticket["version"] - 1})
    assert "changed by someone else" in problem(stale, 409)["detail"]
    rejected = owner.post(decision, json={"approve": False, "comment": "Ikke behov"})
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert body["state"] == "rejected" and body["comment"] == "Ikke behov" and body["decided_at"]
    assert body["ticket"]["status"] == "cancelled" and stored(ticket["id"]).status == "cancelled"
    again = owner.post(decision, json={"approve": True})
    assert "no longer waiting" in problem(again, 409)["detail"]
    assert owner.get("/api/v1/approvals").json()["items"] == []
    done = owner.get("/api/v1/approvals", params={"state": "rejected"}).json()["items"]
    assert [a["id"] for a in done] == [approval]
    history = anne.get(f"/api/v1/tickets/{ticket['id']}/approvals").json()["items"]
    assert [(a["approver_id"], a["state"]) for a in history] == [(world.owner.id, "rejected")]


def test_another_kommunes_approvals_are_not_found(world: World, items: Catalogue, api: Api) -> None:
    anne, bjorn = api(world.user_a), api(world.user_b)
    ticket = _order(anne, items.pc.id)
    approval = api(world.contact_a).get("/api/v1/approvals").json()["items"][0]["id"]
    problem(bjorn.get(f"/api/v1/approvals/{approval}"), 404)
    problem(bjorn.post(f"/api/v1/approvals/{approval}/decision", json={"approve": True}), 404)
    problem(bjorn.get(f"/api/v1/tickets/{ticket['id']}/approvals"), 404)
    assert bjorn.get("/api/v1/approvals").json()["items"] == []


def test_a_red_order_names_its_approver_once(world: World, items: Catalogue, api: Api) -> None:
    """Under TLP:RED the approvers become named participants; one already named as a watcher
    when the request is filed is not named twice."""
    anne, owner = api(world.user_a), api(world.owner)
    body = {
        "type": "request",
        "title": "Tilgang for Kari",
        "catalogue_item_id": items.access.id,
        "form_data": GOOD,
        "tlp": "red",
        "watcher_ids": [world.owner.id],
    }
    response = anne.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["watcher_ids"] == [world.owner.id] and ticket["tlp"] == "red"
    assert owner.get(f"/api/v1/tickets/{ticket['id']}").status_code == 200
    assert [a["ticket_id"] for a in owner.get("/api/v1/approvals").json()["items"]] == [
        ticket["id"]
    ]
    problem(api(world.contact_a).get(f"/api/v1/tickets/{ticket['id']}"), 404)
