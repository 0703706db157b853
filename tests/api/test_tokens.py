"""/api/v1/tokens: personal API tokens, their scopes and revocation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from register.auth import digest
from register.choices import Role
from register.models import ApiToken
from tests.api.support import field_error, problem
from tests.support.factories import Factory

Api = Callable[..., TestClient]


def _bearer(app: FastAPI, raw: str) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    client.headers["Authorization"] = f"Bearer {raw}"
    return client


def test_create_token_returns_it_once_and_it_works(app: FastAPI, make: Factory, api: Api) -> None:
    user = make.user(make.kommune(), password=None)
    client = api(user)
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    response = client.post(
        "/api/v1/tokens", json={"name": "Grafana", "scopes": ["read"], "expires_at": expires}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    raw = body["token"]
    assert raw.startswith("fd_") and raw.startswith(body["prefix"])
    assert body["scopes"] == "read" and body["revoked_at"] is None
    with make.session() as s:
        stored = s.get(ApiToken, body["id"])
        assert stored is not None
    assert stored.token_hash == digest(raw) and raw not in stored.token_hash
    listed = client.get("/api/v1/tokens").json()
    assert body["id"] in [t["id"] for t in listed]
    assert all("token" not in t and "token_hash" not in t for t in listed)
    assert raw not in client.get("/api/v1/tokens").text
    with _bearer(app, raw) as own:
        assert own.get("/api/v1/me").json()["id"] == user.id


def test_tokens_list_only_the_callers_own(make: Factory, api: Api) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    user = make.user(k, password=None)
    user_client = api(user)
    admin_client = api(admin)
    user_tokens = {t["id"] for t in user_client.get("/api/v1/tokens").json()}
    admin_tokens = {t["id"] for t in admin_client.get("/api/v1/tokens").json()}
    assert user_tokens and admin_tokens and not user_tokens & admin_tokens


def test_create_token_refuses_bad_scopes_and_dates(make: Factory, api: Api) -> None:
    user = make.user(make.kommune(), password=None)
    client = api(user)
    field_error(
        client.post("/api/v1/tokens", json={"name": "x", "scopes": ["root"]}), "scopes", "root"
    )
    field_error(client.post("/api/v1/tokens", json={"name": "x", "scopes": []}), "scopes")
    field_error(
        client.post("/api/v1/tokens", json={"name": "x", "scopes": ["admin"]}), "scopes", "admin"
    )
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    late = {"name": "x", "scopes": ["read"], "expires_at": past}
    field_error(client.post("/api/v1/tokens", json=late), "expires_at")
    field_error(client.post("/api/v1/tokens", json={"name": "", "scopes": ["read"]}), "name")
    assert len(client.get("/api/v1/tokens").json()) == 1  # only the test's own


def test_admins_may_create_admin_tokens(make: Factory, api: Api) -> None:
    admin = make.user(None, Role.ADMIN, password=None)
    response = api(admin).post("/api/v1/tokens", json={"name": "ops", "scopes": ["admin"]})
    assert response.status_code == 201, response.text
    assert response.json()["scopes"] == "admin"


def test_a_read_only_token_cannot_write(make: Factory, api: Api) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    client = api(admin, "read")
    assert client.get("/api/v1/users").status_code == 200
    body = {"username": "x", "full_name": "X", "kommune_id": k.id}
    assert "write" in problem(client.post("/api/v1/users", json=body), 403)["detail"]
    problem(client.patch(f"/api/v1/kommuner/{k.id}", json={"name": "Renamed"}), 403)
    problem(client.post("/api/v1/tokens", json={"name": "x", "scopes": ["write"]}), 403)
    with make.session() as s:
        assert len(s.exec(select(ApiToken)).all()) == 1


def test_an_inventory_token_reads_nothing_but_the_feed(make: Factory, api: Api) -> None:
    k = make.kommune("Leakvik")
    contact = make.user(k, Role.KOMMUNE_CONTACT, password=None)
    client = api(contact, "inventory")
    assert client.get("/api/v1/inventory/targets").status_code == 200
    problem(client.get("/api/v1/users"), 403)
    problem(client.get("/api/v1/cis"), 403)
    problem(client.get("/api/v1/me"), 403)
    # Pages accept tokens too, and hold them to the same scopes.
    for page in ("/", "/kommuner", "/brukere", "/systemer", "/profil"):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 403, (page, response.status_code)
        assert "Leakvik" not in response.text and contact.username not in response.text


def test_revoked_token_gets_401(app: FastAPI, make: Factory, api: Api) -> None:
    user = make.user(make.kommune(), password=None)
    client = api(user)
    created = client.post("/api/v1/tokens", json={"name": "cron", "scopes": ["read"]}).json()
    with _bearer(app, created["token"]) as other:
        assert other.get("/api/v1/me").status_code == 200
        assert client.delete(f"/api/v1/tokens/{created['id']}").status_code == 204
        response = other.get("/api/v1/me")
        problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    listed = {t["id"]: t for t in client.get("/api/v1/tokens").json()}
    assert listed[created["id"]]["revoked_at"] is not None
    # Revoking twice is harmless; the first revocation time stays.
    assert client.delete(f"/api/v1/tokens/{created['id']}").status_code == 204
    again = {t["id"]: t for t in client.get("/api/v1/tokens").json()}
    assert again[created["id"]]["revoked_at"] == listed[created["id"]]["revoked_at"]


def test_expired_and_unknown_tokens_get_401(app: FastAPI, make: Factory, api: Api) -> None:
    user = make.user(make.kommune(), password=None)
    client = api(user)
    created = client.post("/api/v1/tokens", json={"name": "short", "scopes": ["read"]}).json()
    with make.session() as s:
        token = s.get(ApiToken, created["id"])
        assert token is not None
        token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        s.add(token)
        s.commit()
    with _bearer(app, created["token"]) as expired:
        problem(expired.get("/api/v1/me"), 401)
    with _bearer(app, "fd_" + "x" * 43) as unknown:
        problem(unknown.get("/api/v1/me"), 401)
    with _bearer(app, "not-even-ours") as foreign:
        problem(foreign.get("/api/v1/me"), 401)


def test_tokens_of_a_deactivated_user_stop_working(make: Factory, api: Api) -> None:
    admin = make.user(None, Role.ADMIN, password=None)
    user = make.user(make.kommune(), password=None)
    client = api(user)
    assert client.get("/api/v1/me").status_code == 200
    assert api(admin).patch(f"/api/v1/users/{user.id}", json={"active": False}).status_code == 200
    problem(client.get("/api/v1/me"), 401)


def test_last_used_at_is_recorded(make: Factory, api: Api) -> None:
    user = make.user(make.kommune(), password=None)
    client = api(user)
    (before,) = client.get("/api/v1/tokens").json()
    # The listing itself was the token's first use.
    assert before["last_used_at"] is not None
    used = datetime.fromisoformat(before["last_used_at"])
    assert datetime.now(UTC) - used < timedelta(minutes=1)
    with make.session() as s:
        token = s.get(ApiToken, before["id"])
        assert token is not None
        token.last_used_at = datetime.now(UTC) - timedelta(hours=2)
        s.add(token)
        s.commit()
    client.get("/api/v1/me")
    (after,) = client.get("/api/v1/tokens").json()
    assert datetime.now(UTC) - datetime.fromisoformat(after["last_used_at"]) < timedelta(minutes=1)


def test_nobody_revokes_someone_elses_token(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    mine = make.user(a, password=None)
    theirs = make.user(b, password=None)
    colleague = make.user(a, Role.KOMMUNE_CONTACT, password=None)
    agent = make.user(None, Role.AGENT, password=None)
    their_client = api(theirs)
    (their_token,) = their_client.get("/api/v1/tokens").json()
    problem(api(mine).delete(f"/api/v1/tokens/{their_token['id']}"), 404)
    problem(api(colleague).delete(f"/api/v1/tokens/{their_token['id']}"), 404)
    # Drift staff see every row, but only administrators may revoke others' tokens.
    problem(api(agent).delete(f"/api/v1/tokens/{their_token['id']}"), 403)
    problem(api(mine).delete("/api/v1/tokens/999999"), 404)
    assert their_client.get("/api/v1/me").status_code == 200
    with make.session() as s:
        token = s.exec(select(ApiToken).where(ApiToken.id == their_token["id"])).one()
    assert token.revoked_at is None
