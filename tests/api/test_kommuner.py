"""/api/v1/kommuner, contacts and sites; mergers of kommuner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from register.choices import Role
from register.models import AuditEvent, Kommune, Site, User
from register.schemas import UsageIn
from register.service import cmdb
from tests.api.support import field_error, ids, problem
from tests.support.factories import Factory, valid_orgnr

Api = Callable[..., TestClient]


def _new(**kw: Any) -> dict[str, Any]:
    return {
        "slug": "tromso",
        "name": "Tromsø",
        "kommunenummer": "5501",
        "orgnr": "940101808",
        "inhabitants": 78_000,
        "inhabitants_date": "2026-01-01",
    } | kw


def _admin_client(make: Factory, api: Api) -> TestClient:
    return api(make.user(None, Role.ADMIN, password=None))


def test_create_and_get_a_kommune(make: Factory, api: Api) -> None:
    client = _admin_client(make, api)
    response = client.post("/api/v1/kommuner", json=_new(orgnr="NO 940 101 808 MVA"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["orgnr"] == "940101808" and body["kommunenummer"] == "5501"
    assert client.get(f"/api/v1/kommuner/{body['id']}").json() == body
    assert ids(client.get("/api/v1/kommuner")) == [body["id"]]


@pytest.mark.parametrize(
    ("orgnr", "message"),
    [
        ("940101809", "mod-11"),
        ("94010180", "9 digits"),
        ("740101808", "8 or 9"),
        ("94010180x", "9 digits"),
    ],
)
def test_invalid_orgnr_is_named_with_its_value(
    make: Factory, api: Api, orgnr: str, message: str
) -> None:
    response = _admin_client(make, api).post("/api/v1/kommuner", json=_new(orgnr=orgnr))
    error = field_error(response, "orgnr", orgnr)
    assert message in error["message"]
    assert "orgnr" in response.json()["detail"] and orgnr in response.json()["detail"]


@pytest.mark.parametrize("number", ["550", "55011", "0001", "55a1", ""])
def test_invalid_kommunenummer_is_named_with_its_value(
    make: Factory, api: Api, number: str
) -> None:
    response = _admin_client(make, api).post("/api/v1/kommuner", json=_new(kommunenummer=number))
    field_error(response, "kommunenummer", number)


def test_other_bad_kommune_input(make: Factory, api: Api) -> None:
    client = _admin_client(make, api)
    body = _new(inhabitants_date=None)
    field_error(client.post("/api/v1/kommuner", json=body), "inhabitants_date")
    field_error(client.post("/api/v1/kommuner", json=_new(slug="Tromsø By")), "slug")
    late = _new(valid_from="2024-01-01", valid_to="2020-01-01")
    field_error(client.post("/api/v1/kommuner", json=late), "valid_to")
    assert ids(client.get("/api/v1/kommuner")) == []


@pytest.mark.parametrize("field", ["slug", "kommunenummer", "orgnr"])
def test_duplicate_kommune_keys_are_409(make: Factory, api: Api, field: str) -> None:
    client = _admin_client(make, api)
    assert client.post("/api/v1/kommuner", json=_new()).status_code == 201
    other = {"slug": "other", "kommunenummer": "1804", "orgnr": valid_orgnr(4242)}
    other[field] = _new()[field]
    body = problem(client.post("/api/v1/kommuner", json=_new(**other)), 409)
    assert field in body["detail"]


def test_update_a_kommune(make: Factory, api: Api) -> None:
    k = make.kommune()
    client = _admin_client(make, api)
    path = f"/api/v1/kommuner/{k.id}"
    response = client.patch(path, json={"buyer_reference": "4711", "city": "Lillesand"})
    assert response.status_code == 200, response.text
    assert response.json()["buyer_reference"] == "4711"
    field_error(client.patch(path, json={"orgnr": "940101808"}), "orgnr")
    field_error(client.patch(path, json={"inhabitants": -1}), "inhabitants", -1)
    problem(client.patch("/api/v1/kommuner/9999", json={"city": "x"}), 404)
    contact = make.user(k, Role.KOMMUNE_CONTACT, password=None)
    problem(api(contact).patch(path, json={"city": "Elsewhere"}), 403)


def test_contacts_add_list_and_remove(make: Factory, api: Api) -> None:
    k = make.kommune()
    client = _admin_client(make, api)
    path = f"/api/v1/kommuner/{k.id}/contacts"
    leader = {"kind": "leadership", "name": "Rådmann", "email": "radmann@example.no"}
    response = client.post(path, json=leader)
    assert response.status_code == 201, response.text
    assert client.post(path, json={"kind": "it", "name": "IT-kontakt"}).status_code == 201
    assert [c["kind"] for c in client.get(path).json()] == ["it", "leadership"]
    assert [c["name"] for c in client.get(path, params={"kind": "leadership"}).json()] == [
        "Rådmann"
    ]
    field_error(client.post(path, json={"kind": "boss", "name": "X"}), "kind", "boss")
    assert client.delete(f"/api/v1/contacts/{response.json()['id']}").status_code == 204
    problem(client.delete(f"/api/v1/contacts/{response.json()['id']}"), 404)
    # A kommune contact keeps their own kommune's list.
    own = api(make.user(k, Role.KOMMUNE_CONTACT, password=None))
    assert own.post(path, json={"kind": "finance", "name": "Økonomi"}).status_code == 201


def test_sites_create_list_update_and_delete(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    contact = make.user(a, Role.KOMMUNE_CONTACT, password=None)
    client = api(contact)
    response = client.post(
        "/api/v1/sites", json={"kommune_id": a.id, "code": "rh", "name": "Rådhus"}
    )
    assert response.status_code == 201, response.text
    site = response.json()
    child = client.post(
        "/api/v1/sites",
        json={"kommune_id": a.id, "code": "rh-it", "name": "IT", "parent_id": site["id"]},
    )
    assert child.status_code == 201, child.text
    problem(client.post("/api/v1/sites", json={"kommune_id": a.id, "code": "rh", "name": "x"}), 409)
    path = f"/api/v1/sites/{site['id']}"
    assert client.patch(path, json={"address": "Storgata 1"}).json()["address"] == "Storgata 1"
    field_error(client.patch(path, json={"parent_id": child.json()["id"]}), "parent_id")
    assert client.get(path).json()["address"] == "Storgata 1"
    assert set(ids(client.get("/api/v1/sites"))) == {site["id"], child.json()["id"]}
    problem(client.delete(path), 409)  # it has a sub-unit
    assert client.delete(f"/api/v1/sites/{child.json()['id']}").status_code == 204
    assert client.delete(path).status_code == 204
    # The write guard: not in another kommune, even knowing its id.
    body = {"kommune_id": b.id, "code": "x", "name": "X"}
    problem(client.post("/api/v1/sites", json=body), 404)
    other = make.site(b)
    problem(
        client.post("/api/v1/sites", json={**body, "kommune_id": a.id, "parent_id": other.id}), 404
    )


# ---- mergers -----------------------------------------------------------------------------------


def test_merger_gives_the_successor_the_ended_kommunes_history(make: Factory, api: Api) -> None:
    songdalen = make.kommune("Songdalen")
    kristiansand = make.kommune("Kristiansand")
    unrelated = make.kommune("Iveland")
    old_site = make.site(songdalen, "sd-rh")
    old_user = make.user(songdalen, Role.KOMMUNE_CONTACT, password=None, site_id=old_site.id)
    old_ci = make.ci("sd-server", owner_kommune_id=songdalen.id)
    shared = make.ci("sd-shared", kind="fagsystem", classification="fellessystem")
    make.run(cmdb.set_usage, shared.id, UsageIn(kommune_id=songdalen.id, users_count=40))  # type: ignore[arg-type]
    make.site(unrelated, "iv-rh")
    successor_contact = api(make.user(kristiansand, Role.KOMMUNE_CONTACT, password=None))
    assert ids(successor_contact.get("/api/v1/sites")) == []
    problem(successor_contact.get(f"/api/v1/kommuner/{songdalen.id}"), 404)

    admin = _admin_client(make, api)
    response = admin.post(
        f"/api/v1/kommuner/{songdalen.id}/end",
        json={"valid_to": "2019-12-31", "successor_id": kristiansand.id},
    )
    assert response.status_code == 200, response.text
    assert response.json()["successor_id"] == kristiansand.id

    # The successor's people now see the ended kommune, its sites, people and systems.
    ended = successor_contact.get(f"/api/v1/kommuner/{songdalen.id}").json()
    assert (ended["valid_to"], ended["successor_id"]) == ("2019-12-31", kristiansand.id)
    assert ids(successor_contact.get("/api/v1/sites")) == [old_site.id]
    assert old_user.id in ids(successor_contact.get("/api/v1/users"))
    assert set(ids(successor_contact.get("/api/v1/cis"))) == {old_ci.id, shared.id}
    assert set(ids(successor_contact.get("/api/v1/kommuner"))) == {songdalen.id, kristiansand.id}
    # ... but nothing of a kommune that was not part of the merger.
    problem(successor_contact.get(f"/api/v1/kommuner/{unrelated.id}"), 404)
    current = ids(admin.get("/api/v1/kommuner", params={"include_ended": False}))
    assert set(current) == {kristiansand.id, unrelated.id}

    # Nothing of the ended kommune is lost, and its own people still see their history.
    with make.session() as s:
        assert s.get(Site, old_site.id).kommune_id == songdalen.id  # type: ignore[union-attr]
        assert s.get(User, old_user.id).kommune_id == songdalen.id  # type: ignore[union-attr]
        events = s.exec(select(AuditEvent).where(AuditEvent.kommune_id == songdalen.id)).all()
        assert any(e.action == "end" for e in events)
        assert any(e.action == "create" and e.entity == "site" for e in events)
    own = api(old_user)
    assert ids(own.get("/api/v1/sites")) == [old_site.id]
    usage = successor_contact.get(f"/api/v1/cis/{shared.id}/usage").json()
    assert [(u["kommune_id"], u["users_count"]) for u in usage] == [(songdalen.id, 40)]


def test_merger_refuses_bad_successors(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    client = _admin_client(make, api)
    end = f"/api/v1/kommuner/{a.id}/end"
    field_error(
        client.post(end, json={"valid_to": "2020-01-01", "successor_id": a.id}),
        "successor_id",
        a.id,
    )
    problem(client.post(end, json={"valid_to": "2020-01-01", "successor_id": 9999}), 404)
    field_error(client.post(end, json={"valid_to": "1990-01-01"}), "valid_to")
    assert (
        client.post(end, json={"valid_to": "2020-01-01", "successor_id": b.id}).status_code == 200
    )
    # b cannot be succeeded by a, which it already succeeded.
    back = {"valid_to": "2021-01-01", "successor_id": a.id}
    field_error(client.post(f"/api/v1/kommuner/{b.id}/end", json=back), "successor_id", a.id)
    contact = api(make.user(b, Role.KOMMUNE_CONTACT, password=None))
    problem(contact.post(f"/api/v1/kommuner/{b.id}/end", json={"valid_to": "2030-01-01"}), 403)
    with make.session() as s:
        stored = s.get(Kommune, b.id)
    assert stored is not None and stored.valid_to is None


def test_null_is_refused_where_a_kommune_or_site_needs_a_value(make: Factory, api: Api) -> None:
    k = make.kommune()
    site = make.site(k)
    client = _admin_client(make, api)
    for name in ("name", "buyer_reference", "city"):
        field_error(client.patch(f"/api/v1/kommuner/{k.id}", json={name: None}), name)
    for name in ("name", "kind", "address"):
        field_error(client.patch(f"/api/v1/sites/{site.id}", json={name: None}), name)
    cleared = client.patch(
        f"/api/v1/kommuner/{k.id}", json={"inhabitants": None, "inhabitants_date": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["inhabitants"] is None
