"""Time entries through the API: logging, correcting, the lock once invoiced, exact totals."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from register.choices import Role
from servicedesk.tickets.models import TimeEntry
from tests.api.support import field_error, ids, problem
from tests.support.factories import Factory
from tests.tickets.api.conftest import Api, file_ticket
from tests.tickets.conftest import World


def _log(client: TestClient, ticket_id: int, **fields: Any) -> dict[str, Any]:
    body = {"work_date": "2026-03-02", "minutes": 30} | fields
    response = client.post(f"/api/v1/tickets/{ticket_id}/time-entries", json=body)
    assert response.status_code == 201, response.text
    logged: dict[str, Any] = response.json()
    return logged


def _invoice(make: Factory, entry_id: int) -> None:
    with make.session() as s:
        entry = s.get(TimeEntry, entry_id)
        assert entry is not None
        entry.invoice_ref = "F-2026-03-001"
        s.commit()


def test_log_correct_and_delete_time(world: World, api: Api) -> None:
    agent = api(world.agent)
    ticket = file_ticket(api(world.user_a))
    entry = _log(agent, ticket["id"], minutes=45, work_type="after_hours", note="Nattarbeid")
    assert entry["kommune_id"] == world.a.id and entry["user_id"] == world.agent.id
    assert entry["billable"] is True and entry["invoice_ref"] is None
    assert agent.get(f"/api/v1/time-entries/{entry['id']}").json() == entry
    body = {"work_date": "2026-03-03", "minutes": 60, "billable": False}
    corrected = agent.put(f"/api/v1/time-entries/{entry['id']}", json=body)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["minutes"] == 60 and corrected.json()["work_type"] == "office_hours"
    assert ids(agent.get(f"/api/v1/tickets/{ticket['id']}/time-entries")) == [entry["id"]]
    assert agent.delete(f"/api/v1/time-entries/{entry['id']}").status_code == 204
    problem(agent.get(f"/api/v1/time-entries/{entry['id']}"), 404)
    assert ids(agent.get(f"/api/v1/tickets/{ticket['id']}/time-entries")) == []


def test_bad_time_is_refused_with_the_field_named(world: World, api: Api) -> None:
    agent = api(world.agent)
    ticket = file_ticket(api(world.user_a))
    path = f"/api/v1/tickets/{ticket['id']}/time-entries"
    field_error(agent.post(path, json={"work_date": "2026-03-02", "minutes": 0}), "minutes", 0)
    field_error(
        agent.post(path, json={"work_date": "2026-03-02", "minutes": 1441}), "minutes", 1441
    )
    field_error(
        agent.post(path, json={"work_date": "2. mars", "minutes": 5}), "work_date", "2. mars"
    )
    field_error(
        agent.post(path, json={"work_date": "2026-03-02", "minutes": 5, "work_type": "weekend"}),
        "work_type",
        "weekend",
    )
    problem(
        agent.post(path, json={"work_date": "2026-03-02", "minutes": 5, "kommune_id": 999999}), 404
    )
    shared = file_ticket(agent, title="Felles sak uten kommune")
    field_error(
        agent.post(
            f"/api/v1/tickets/{shared['id']}/time-entries",
            json={"work_date": "2026-03-02", "minutes": 5},
        ),
        "kommune_id",
    )
    charged = _log(agent, shared["id"], kommune_id=world.b.id)
    assert charged["kommune_id"] == world.b.id


def test_only_the_drift_unit_logs_and_only_the_author_corrects(world: World, api: Api) -> None:
    anne, agent, other = api(world.user_a), api(world.agent), api(world.agent2)
    ticket = file_ticket(anne)
    body = {"work_date": "2026-03-02", "minutes": 5}
    assert (
        "drift unit"
        in problem(anne.post(f"/api/v1/tickets/{ticket['id']}/time-entries", json=body), 403)[
            "detail"
        ]
    )
    entry = _log(agent, ticket["id"])
    problem(other.put(f"/api/v1/time-entries/{entry['id']}", json=body), 403)
    problem(other.delete(f"/api/v1/time-entries/{entry['id']}"), 403)
    assert agent.get(f"/api/v1/time-entries/{entry['id']}").json()["minutes"] == 30
    # The requester does not see the time (and cannot change it).
    assert anne.get(f"/api/v1/tickets/{ticket['id']}/time-entries").json()["items"] == []
    problem(anne.get(f"/api/v1/time-entries/{entry['id']}"), 404)
    problem(anne.delete(f"/api/v1/time-entries/{entry['id']}"), 404)
    problem(
        api(world.agent, "read").post(f"/api/v1/tickets/{ticket['id']}/time-entries", json=body),
        403,
    )


def test_invoiced_entries_are_locked(world: World, api: Api, make: Factory) -> None:
    agent = api(world.agent)
    ticket = file_ticket(api(world.user_a))
    entry = _log(agent, ticket["id"])
    _invoice(make, entry["id"])
    body = {"work_date": "2026-03-02", "minutes": 5}
    locked = problem(agent.put(f"/api/v1/time-entries/{entry['id']}", json=body), 409)
    assert "F-2026-03-001" in locked["detail"] and "credit" in locked["detail"]
    problem(agent.delete(f"/api/v1/time-entries/{entry['id']}"), 409)
    admin = api(make.user(None, Role.ADMIN, username="sjef"))
    problem(admin.delete(f"/api/v1/time-entries/{entry['id']}"), 409)
    assert agent.get(f"/api/v1/time-entries/{entry['id']}").json()["minutes"] == 30


def test_totals_are_exact_per_kommune_and_month(world: World, api: Api, make: Factory) -> None:
    agent = api(world.agent)
    ticket_a = file_ticket(api(world.user_a))
    ticket_b = file_ticket(api(world.user_b))
    for day, minutes in (("2026-03-02", 7), ("2026-03-31", 11), ("2026-04-01", 13)):
        _log(agent, ticket_a["id"], work_date=day, minutes=minutes)
    _log(agent, ticket_a["id"], work_date="2026-03-05", minutes=17, billable=False)
    _log(agent, ticket_b["id"], work_date="2026-03-05", minutes=19, work_type="after_hours")
    march = agent.get(
        "/api/v1/time-entries/totals", params={"start": "2026-03-01", "end": "2026-03-31"}
    )
    assert march.status_code == 200, march.text
    rows = {
        (r["kommune_id"], r["month"], r["work_type"], r["billable"]): r["minutes"]
        for r in march.json()["items"]
    }
    assert rows == {
        (world.a.id, "2026-03", "office_hours", True): 18,
        (world.a.id, "2026-03", "office_hours", False): 17,
        (world.b.id, "2026-03", "after_hours", True): 19,
    }
    assert march.json()["minutes"] == 54
    only_a = agent.get(
        "/api/v1/time-entries/totals",
        params={"start": "2026-03-01", "end": "2026-04-30", "kommune_id": world.a.id},
    ).json()
    assert only_a["minutes"] == 48 and {r["month"] for r in only_a["items"]} == {
        "2026-03",
        "2026-04",
    }
    # A kommune's contact and finance see their own kommune's totals only.
    finance = make.user(world.a, "finance", username="okonomi-a")
    for person in (world.contact_a, finance):
        seen = api(person).get(
            "/api/v1/time-entries/totals", params={"start": "2026-01-01", "end": "2026-12-31"}
        )
        assert {r["kommune_id"] for r in seen.json()["items"]} == {world.a.id}
        assert seen.json()["minutes"] == 48
    nothing = api(world.user_a).get(
        "/api/v1/time-entries/totals", params={"start": "2026-01-01", "end": "2026-12-31"}
    )
    assert nothing.json()["items"] == [] and nothing.json()["minutes"] == 0
    field_error(
        agent.get(
            "/api/v1/time-entries/totals", params={"start": "2026-03-31", "end": "2026-03-01"}
        ),
        "end",
    )
    field_error(
        agent.get(
            "/api/v1/time-entries/totals", params={"start": "2020-01-01", "end": "2026-03-01"}
        ),
        "end",
    )
    field_error(agent.get("/api/v1/time-entries/totals", params={"start": "2026-03-01"}), "end")
