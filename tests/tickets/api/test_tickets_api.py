"""/api/v1/tickets: filing, reading, listing with filters and keyset pages, editing with
optimistic locking, and the errors of each."""

from __future__ import annotations

from typing import Any

from register.choices import Role
from tests.api.support import all_pages, field_error, ids, problem
from tests.support.factories import Factory
from tests.tickets.api.conftest import Api, file_ticket
from tests.tickets.conftest import World

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \u2028 </textarea>'


def test_file_and_read_a_ticket(world: World, api: Api) -> None:
    anne = api(world.user_a)
    response = anne.post(
        "/api/v1/tickets",
        json={
            "title": "Skriveren virker ikke",
            "description": "Den blinker rødt",
            "impact": 2,
            "urgency": 2,
            "ci_ids": [world.shared.id],
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/api/v1/tickets/{created['id']}"
    assert created["kommune_id"] == world.a.id and created["requester_id"] == world.user_a.id
    assert created["status"] == "new" and created["priority"] == 2 and created["tlp"] == "amber"
    assert created["ci_ids"] == [world.shared.id] and created["version"] == 1
    assert created["transitions"] == ["cancelled"]  # what a requester may do with a new ticket
    fetched = anne.get(f"/api/v1/tickets/{created['id']}").json()
    assert fetched == created
    as_agent = api(world.agent).get(f"/api/v1/tickets/{created['id']}").json()
    assert "resolved" in as_agent["transitions"] and "closed" not in as_agent["transitions"]


def test_filing_refuses_bad_input_with_the_field_named(world: World, api: Api) -> None:
    anne = api(world.user_a)
    field_error(anne.post("/api/v1/tickets", json={"title": "x"}), "title", "x")
    field_error(anne.post("/api/v1/tickets", json={"title": "Tittel", "tlp": "pink"}), "tlp")
    field_error(anne.post("/api/v1/tickets", json={"title": "Tittel", "impact": 9}), "impact", 9)
    field_error(anne.post("/api/v1/tickets", json={"title": "Tittel", "colour": 1}), "colour")
    problem(
        anne.post(
            "/api/v1/tickets", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
    )
    # A system the user cannot see, a kommune of another, a problem: refused, nothing stored.
    problem(anne.post("/api/v1/tickets", json={"title": "Tittel", "ci_ids": [999999]}), 404)
    problem(anne.post("/api/v1/tickets", json={"title": "Tittel", "kommune_id": world.b.id}), 404)
    assert (
        "drift unit"
        in problem(anne.post("/api/v1/tickets", json={"title": "Tittel", "type": "problem"}), 403)[
            "detail"
        ]
    )
    problem(anne.post("/api/v1/tickets", json={"title": "Tittel", "major": True}), 403)
    assert ids(api(world.agent).get("/api/v1/tickets")) == []


def test_html_and_script_come_back_verbatim_as_json_data(world: World, api: Api) -> None:
    anne = api(world.user_a)
    ticket = file_ticket(anne, title=f"Feil {SCRIPT}"[:200], description=SCRIPT)
    reply = anne.post(f"/api/v1/tickets/{ticket['id']}/entries", json={"body": SCRIPT})
    assert reply.status_code == 201 and reply.json()["body"] == SCRIPT
    response = api(world.agent).get(f"/api/v1/tickets/{ticket['id']}")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["description"] == SCRIPT
    entries = anne.get(f"/api/v1/tickets/{ticket['id']}/entries").json()["items"]
    assert entries[-1]["body"] == SCRIPT


def test_other_kommune_sees_nothing_and_gets_404_not_403(world: World, api: Api) -> None:
    ticket = file_ticket(api(world.user_a))
    bjorn = api(world.user_b)
    for path in ("", "/entries", "/attachments", "/children", "/watchers", "/time-entries"):
        assert (
            "not found"
            in problem(bjorn.get(f"/api/v1/tickets/{ticket['id']}{path}"), 404)["detail"]
        )
    problem(bjorn.post(f"/api/v1/tickets/{ticket['id']}/entries", json={"body": "hei"}), 404)
    assert ids(bjorn.get("/api/v1/tickets")) == []
    assert ids(bjorn.get("/api/v1/tickets", params={"kommune_id": world.a.id})) == []


def test_list_filters(world: World, api: Api, make: Factory) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    printer = file_ticket(anne, title="Skriveren virker ikke", impact=1, urgency=1)
    mail = file_ticket(anne, title="E-posten er treg", ci_ids=[world.shared.id], tlp="green")
    other = file_ticket(api(world.user_b), title="Skjermen er svart", type="request")
    problem_ticket = file_ticket(agent, title="Sertifikater utløper", type="problem")
    agent.patch(
        f"/api/v1/tickets/{printer['id']}", json={"version": 1, "assignee_id": world.agent.id}
    )

    def listed(**params: Any) -> list[int]:
        return ids(agent.get("/api/v1/tickets", params=params))

    assert listed() == [problem_ticket["id"], other["id"], mail["id"], printer["id"]]
    assert listed(kommune_id=world.b.id) == [other["id"]]
    assert listed(type="request") == [other["id"]]
    assert listed(type=["request", "problem"]) == [problem_ticket["id"], other["id"]]
    assert listed(status="assigned") == [printer["id"]]
    assert listed(status=["new"], kommune_id=world.a.id) == [mail["id"]]
    assert listed(priority=1) == [printer["id"]]
    assert listed(assignee_id=world.agent.id) == [printer["id"]]
    assert listed(ci_id=world.shared.id) == [mail["id"]]
    assert listed(tlp="green") == [mail["id"]]
    assert listed(requester_id=world.user_b.id) == [other["id"]]
    assert listed(q="skriveren") == [printer["id"]]  # case-insensitive
    assert listed(q=f"#{other['id']}") == [other["id"]]
    assert listed(q="100%_") == []  # LIKE wildcards are plain characters
    field_error(agent.get("/api/v1/tickets", params={"status": "sleeping"}), "status.0", "sleeping")
    field_error(agent.get("/api/v1/tickets", params={"limit": 0}), "limit", "0")


def test_search_finds_replies_but_not_notes_the_user_may_not_see(world: World, api: Api) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    ticket = file_ticket(anne, title="Treg maskin")
    path = f"/api/v1/tickets/{ticket['id']}/entries"
    agent.post(path, json={"body": "Offentlig svar om minnebrikke"})
    agent.post(path, json={"body": "Internt: passordet står på lappen", "public": False})
    assert ids(anne.get("/api/v1/tickets", params={"q": "minnebrikke"})) == [ticket["id"]]
    assert ids(anne.get("/api/v1/tickets", params={"q": "passordet"})) == []
    assert ids(agent.get("/api/v1/tickets", params={"q": "passordet"})) == [ticket["id"]]


def test_keyset_pages_are_newest_first_and_complete(world: World, api: Api) -> None:
    anne = api(world.user_a)
    made = [file_ticket(anne, title=f"Sak nummer {n}")["id"] for n in range(7)]
    pages = all_pages(anne, "/api/v1/tickets", 3)
    assert pages == [made[6:3:-1], made[3:0:-1], made[0:1]]
    # A ticket filed while paging does not shift later pages (unlike OFFSET).
    first = anne.get("/api/v1/tickets", params={"limit": 3}).json()
    file_ticket(anne, title="Ny sak midt i")
    second = anne.get("/api/v1/tickets", params={"limit": 3, "after": first["next"]})
    assert ids(second) == made[3:0:-1]
    field_error(anne.get("/api/v1/tickets", params={"after": "not-a-cursor"}), "after")
    field_error(anne.get("/api/v1/tickets", params={"after": "dHJ1ZQ"}), "after")  # "true"


def test_agent_edits_fields_and_the_timeline_records_them(world: World, api: Api) -> None:
    ticket = file_ticket(api(world.user_a))
    agent = api(world.agent)
    response = agent.patch(
        f"/api/v1/tickets/{ticket['id']}",
        json={"version": 1, "impact": 1, "urgency": 1, "assignee_id": world.agent2.id},
    )
    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["priority"] == 1 and edited["status"] == "assigned" and edited["version"] == 2
    changes = [
        e["change"].get("field")
        for e in agent.get(f"/api/v1/tickets/{ticket['id']}/entries").json()["items"]
    ]
    assert {"impact", "urgency", "priority", "assignee_id", "status"} <= set(changes)
    field_error(
        agent.patch(f"/api/v1/tickets/{ticket['id']}", json={"title": "Uten versjon"}), "version"
    )
    assert (
        "drift staff"
        in field_error(
            agent.patch(
                f"/api/v1/tickets/{ticket['id']}",
                json={"version": 2, "assignee_id": world.user_a.id},
            ),
            "assignee_id",
        )["message"]
    )


def test_requester_may_not_edit_fields(world: World, api: Api) -> None:
    anne = api(world.user_a)
    ticket = file_ticket(anne)
    body = {"version": 1, "title": "Endret av brukeren"}
    assert (
        "drift unit"
        in problem(anne.patch(f"/api/v1/tickets/{ticket['id']}", json=body), 403)["detail"]
    )
    assert anne.get(f"/api/v1/tickets/{ticket['id']}").json()["title"] == ticket["title"]


def test_stale_version_is_a_409_and_the_first_change_stays(world: World, api: Api) -> None:
    ticket = file_ticket(api(world.user_a))
    first, second = api(world.agent), api(world.agent2)
    path = f"/api/v1/tickets/{ticket['id']}"
    seen_by_both = first.get(path).json()["version"]
    ok = first.patch(path, json={"version": seen_by_both, "title": "Skriver i 2. etasje"})
    assert ok.status_code == 200
    late = second.patch(path, json={"version": seen_by_both, "title": "Noe helt annet"})
    body = problem(late, 409)
    assert "changed by someone else" in body["detail"] and "version 2" in body["detail"]
    assert first.get(path).json()["title"] == "Skriver i 2. etasje"


def test_tickets_are_never_deleted(world: World, api: Api, make: Factory) -> None:
    ticket = file_ticket(api(world.user_a))
    admin = api(make.user(None, Role.ADMIN, username="sjef"))
    body = problem(admin.delete(f"/api/v1/tickets/{ticket['id']}"), 405)
    assert body["title"] == "Method not allowed"
    assert admin.get(f"/api/v1/tickets/{ticket['id']}").status_code == 200


def test_token_scopes(world: World, api: Api) -> None:
    reader = api(world.agent, "read")
    ticket = file_ticket(api(world.user_a))
    assert reader.get(f"/api/v1/tickets/{ticket['id']}").status_code == 200
    detail = problem(reader.post("/api/v1/tickets", json={"title": "Fra en lesenøkkel"}), 403)
    assert "write" in detail["detail"]
    problem(reader.post(f"/api/v1/tickets/{ticket['id']}/entries", json={"body": "hei"}), 403)
    problem(reader.patch(f"/api/v1/tickets/{ticket['id']}", json={"version": 1}), 403)
    inventory_only = api(world.agent, "inventory")
    problem(inventory_only.get("/api/v1/tickets"), 403)
    anonymous = problem(
        reader.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"}), 401
    )
    assert anonymous["title"] == "Invalid token"


def test_openapi_documents_the_ticket_api(world: World, api: Api) -> None:
    spec = api(world.agent).get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/tickets/{ticket_id}"]["patch"]
    assert operation["summary"] and "version" in operation["description"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(operation["responses"])
    assert "application/problem+json" in operation["responses"]["409"]["content"]
    listing = spec["paths"]["/api/v1/tickets"]["get"]
    assert "after" in listing["description"] and "`next`" in listing["description"]
    upload = spec["paths"]["/api/v1/tickets/{ticket_id}/attachments"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "413" in upload["responses"]
