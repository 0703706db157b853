"""Idempotency-Key on the API's creates: tickets, replies, orders, time entries. A retry with
the same key returns the first result and creates nothing; keys are per user; a key reused
for another request is a 422; the header is documented in the OpenAPI description."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from servicedesk.tickets.idempotency import KEEP, IdempotencyKey, prune
from servicedesk.tickets.models import Ticket, TicketEntry, TimeEntry
from tests.api.support import problem
from tests.support.factories import Factory
from tests.tickets.api.conftest import Api, Catalogue, file_ticket
from tests.tickets.conftest import World

GOOD = {"for_whom": "Kari Nordmann", "level": "read"}


def _count(make: Factory, model: Any) -> int:
    with make.session() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


Case = tuple[str, Callable[[World, Api, Catalogue], tuple[TestClient, str, dict[str, Any]]], Any]


def _ticket(world: World, api: Api, items: Catalogue) -> tuple[TestClient, str, dict[str, Any]]:
    return api(world.user_a), "/api/v1/tickets", {"title": "Skriveren virker ikke"}


def _reply(world: World, api: Api, items: Catalogue) -> tuple[TestClient, str, dict[str, Any]]:
    anne = api(world.user_a)
    ticket = file_ticket(anne)
    return anne, f"/api/v1/tickets/{ticket['id']}/entries", {"body": "Den virker igjen"}


def _order(world: World, api: Api, items: Catalogue) -> tuple[TestClient, str, dict[str, Any]]:
    path = f"/api/v1/catalogue/items/{items.plain.id}/orders"
    return api(world.user_a), path, {"form_data": GOOD}


def _time(world: World, api: Api, items: Catalogue) -> tuple[TestClient, str, dict[str, Any]]:
    ticket = file_ticket(api(world.user_a))
    path = f"/api/v1/tickets/{ticket['id']}/time-entries"
    return api(world.agent), path, {"work_date": "2026-03-02", "minutes": 30}


def _another(body: dict[str, Any]) -> dict[str, Any]:
    """A different, valid request of the same kind."""
    changes: dict[str, dict[str, Any]] = {
        "title": {"title": "Noe annet"},
        "body": {"body": "Noe annet"},
        "form_data": {"form_data": GOOD | {"for_whom": "Ola Nordmann"}},
        "minutes": {"minutes": 45},
    }
    return body | next(change for field, change in changes.items() if field in body)


CASES: list[Case] = [
    ("ticket", _ticket, Ticket),
    ("reply", _reply, TicketEntry),
    ("order", _order, Ticket),
    ("time entry", _time, TimeEntry),
]


@pytest.mark.parametrize(("name", "setup", "model"), CASES, ids=[c[0] for c in CASES])
def test_a_retry_with_the_same_key_creates_nothing_and_answers_the_same(
    name: str, setup: Any, model: Any, world: World, api: Api, items: Catalogue, make: Factory
) -> None:
    client, path, body = setup(world, api, items)
    key = {"Idempotency-Key": f"retry-{name}"}
    first = client.post(path, json=body, headers=key)
    assert first.status_code == 201, first.text
    assert "idempotency-replayed" not in first.headers
    count = _count(make, model)
    retry = client.post(path, json=body, headers=key)
    assert retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.headers.get("location") == first.headers.get("location")
    assert _count(make, model) == count
    # The same key for another request: 422, nothing done.
    other = client.post(path, json=_another(body), headers=key)
    assert problem(other, 422)["errors"][0]["field"] == "Idempotency-Key"
    assert _count(make, model) == count
    # A new key is a new create.
    assert client.post(path, json=body, headers={"Idempotency-Key": "new"}).status_code == 201
    assert _count(make, model) == count + 1


def test_keys_are_per_user_and_bad_keys_are_refused(world: World, api: Api, make: Factory) -> None:
    key = {"Idempotency-Key": "same-value"}
    anne, bjorn = api(world.user_a), api(world.user_b)
    mine = anne.post("/api/v1/tickets", json={"title": "Alfa"}, headers=key)
    theirs = bjorn.post("/api/v1/tickets", json={"title": "Beta"}, headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"] and theirs.json()["title"] == "Beta"
    for bad in ("", "x" * 256, "nøkkel".encode(), "a\tb"):
        response = anne.post(
            "/api/v1/tickets", json={"title": "Gamma"}, headers={"Idempotency-Key": bad}
        )
        assert problem(response, 422)["errors"][0]["field"] == "Idempotency-Key", bad
    with make.session() as s:
        assert len(s.exec(select(IdempotencyKey)).all()) == 2
    assert _count(make, Ticket) == 2
    # Kept for 24 hours, then forgotten by the autoclose job's prune.
    with make.session() as s:
        assert prune(s) == 0
        row = s.exec(select(IdempotencyKey)).first()
        assert row is not None
        assert prune(s, now=row.created_at + KEEP + KEEP) == 2
        s.commit()


def test_the_header_is_documented_on_each_create(api: Api, world: World) -> None:
    spec = api(world.user_a).get("/api/v1/openapi.json").json()
    creates = [
        ("/api/v1/tickets", "post"),
        ("/api/v1/tickets/{ticket_id}/entries", "post"),
        ("/api/v1/catalogue/items/{item_id}/orders", "post"),
        ("/api/v1/tickets/{ticket_id}/time-entries", "post"),
    ]
    for path, method in creates:
        parameters = spec["paths"][path][method]["parameters"]
        [header] = [p for p in parameters if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and not header.get("required")
        assert "creates nothing new" in header["description"]


@pytest.mark.parametrize("first_commits", [True, False], ids=["first-commits", "first-fails"])
def test_a_retry_while_the_first_request_runs_waits_for_its_outcome(
    first_commits: bool, world: World, api: Api, make: Factory
) -> None:
    anne = api(world.user_a)
    body = json.dumps({"title": "Skriveren virker ikke"}).encode()
    fingerprint = hashlib.sha256(b"POST /api/v1/tickets\n" + body).hexdigest()
    # The first request's transaction, still open: it holds the key, uncommitted.
    first = make.session()
    first.add(
        IdempotencyKey(
            user_id=world.user_a.id,  # type: ignore[arg-type]
            key="running",
            fingerprint=fingerprint,
            status=201,
            location="/api/v1/tickets/4242",
            response=json.dumps({"id": 4242, "title": "Skriveren virker ikke"}),
        )
    )
    first.flush()
    headers = {"Idempotency-Key": "running", "Content-Type": "application/json"}
    with ThreadPoolExecutor(1) as pool:
        retry = pool.submit(anne.post, "/api/v1/tickets", content=body, headers=headers)
        time.sleep(1.0)
        assert not retry.done(), "the retry did not wait for the first request"
        if first_commits:
            first.commit()
        else:
            first.rollback()
        first.close()
        response = retry.result(timeout=60)
    assert response.status_code == 201, response.text
    if first_commits:  # the first request's answer, and nothing new
        assert response.json() == {"id": 4242, "title": "Skriveren virker ikke"}
        assert response.headers["idempotency-replayed"] == "true"
        assert _count(make, Ticket) == 0
    else:  # the first one stored nothing: the retry creates
        assert "idempotency-replayed" not in response.headers
        assert _count(make, Ticket) == 1
