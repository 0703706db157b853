"""/api/v1/users, /api/v1/me: people, their roles and passwords."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import select

from register import auth
from register.choices import Role
from register.models import RoleGrant, User, WebSession
from tests.api.support import all_pages, field_error, ids, problem
from tests.support.factories import PASSWORD, Factory
from tests.support.fixtures import Browser

Api = Callable[..., TestClient]
NEW_PASSWORD = "a much longer new passphrase"


def _can_sign_in(browser: Callable[..., Browser], username: str, password: str) -> bool:
    client = browser()
    token = client.refresh_csrf("/logg-inn")
    response = client.post(
        "/logg-inn",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return response.status_code == 303


def _stored(make: Factory, user_id: int) -> User:
    with make.session() as s:
        user = s.get(User, user_id)
        assert user is not None
        return user


# ---- list --------------------------------------------------------------------------------------


def test_list_users_shows_each_caller_only_whom_they_may_see(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    contact = make.user(a, Role.KOMMUNE_CONTACT, password=None)
    colleague = make.user(a, password=None)
    stranger = make.user(b, password=None)

    everyone = ids(api(admin).get("/api/v1/users"))
    assert {admin.id, contact.id, colleague.id, stranger.id} <= set(everyone)
    assert set(ids(api(contact).get("/api/v1/users"))) == {contact.id, colleague.id}
    assert ids(api(colleague).get("/api/v1/users")) == [colleague.id]


def test_list_users_filters_by_kommune_role_and_name(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    kari = make.user(a, Role.FINANCE, full_name="Kari Nordmann", password=None)
    ola = make.user(a, full_name="Ola 100% Nordmann", password=None)
    per = make.user(b, Role.FINANCE, full_name="Per Hansen", password=None)
    client = api(admin)

    assert set(ids(client.get("/api/v1/users", params={"kommune_id": a.id}))) == {kari.id, ola.id}
    assert set(ids(client.get("/api/v1/users", params={"role": "finance"}))) == {kari.id, per.id}
    assert set(ids(client.get("/api/v1/users", params={"q": "nordmann"}))) == {kari.id, ola.id}
    # LIKE wildcards in the search are taken literally.
    assert ids(client.get("/api/v1/users", params={"q": "100%"})) == [ola.id]
    assert ids(client.get("/api/v1/users", params={"q": "_"})) == []
    both = client.get("/api/v1/users", params={"role": "finance", "kommune_id": b.id})
    assert ids(both) == [per.id]
    body = client.get("/api/v1/users", params={"q": "Kari"}).json()
    assert body["items"][0]["roles"] == ["finance"]


def test_list_users_refuses_an_unknown_role_naming_it(make: Factory, api: Api) -> None:
    admin = make.user(None, Role.ADMIN, password=None)
    response = api(admin).get("/api/v1/users", params={"role": "wizard"})
    field_error(response, "role", "wizard")


def test_keyset_pages_cover_every_user_once(make: Factory, api: Api) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    for _ in range(22):
        make.user(k, password=None)
    client = api(admin)
    pages = all_pages(client, "/api/v1/users", limit=5)
    seen = [i for page in pages for i in page]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert len(seen) == len(set(seen)) == 23
    assert seen == sorted(seen)
    assert set(seen) == set(ids(client.get("/api/v1/users", params={"limit": 1000})))
    # A row added while paging shows up once, on a later page; nothing shifts or repeats.
    first = client.get("/api/v1/users", params={"limit": 5}).json()
    make.user(k, password=None)
    rest = all_pages(client, "/api/v1/users", limit=5, after=first["next"])
    assert ids_of(first) + [i for p in rest for i in p] == sorted([*seen, max(seen) + 1])


def ids_of(body: dict[str, list[dict[str, int]]]) -> list[int]:
    return [item["id"] for item in body["items"]]


def test_a_forged_cursor_is_refused(make: Factory, api: Api) -> None:
    admin = make.user(None, Role.ADMIN, password=None)
    client = api(admin)
    field_error(client.get("/api/v1/users", params={"after": "not-a-cursor!"}), "after")
    field_error(client.get("/api/v1/users", params={"after": "InRleHQi"}), "after")  # "text"
    problem(client.get("/api/v1/users", params={"limit": 0}), 422)


# ---- create ------------------------------------------------------------------------------------


def test_admin_creates_a_user_with_roles(make: Factory, api: Api) -> None:
    k = make.kommune()
    site = make.site(k)
    admin = make.user(None, Role.ADMIN, password=None)
    response = api(admin).post(
        "/api/v1/users",
        json={
            "username": "kari.nordmann",
            "full_name": "Kari Nordmann",
            "email": "kari@example.no",
            "kommune_id": k.id,
            "site_id": site.id,
            "roles": ["kommune_contact", "end_user"],
            "password": PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["roles"] == ["end_user", "kommune_contact"]
    assert body["kommune_id"] == k.id and body["site_id"] == site.id
    assert "password" not in body and "password_hash" not in body
    with make.session() as s:
        grants = s.exec(select(RoleGrant.role).where(RoleGrant.user_id == body["id"])).all()
    assert sorted(grants) == ["end_user", "kommune_contact"]


def test_create_user_refuses_an_unknown_role_naming_it(make: Factory, api: Api) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    response = api(admin).post(
        "/api/v1/users",
        json={"username": "x", "full_name": "X", "kommune_id": k.id, "roles": ["wizard"]},
    )
    error = field_error(response, "roles.0", "wizard")
    assert "end_user" in error["message"]


def test_create_user_refuses_roles_that_do_not_fit(make: Factory, api: Api) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    client = api(admin)
    drift_in_kommune = {"username": "x", "full_name": "X", "kommune_id": k.id, "roles": ["agent"]}
    field_error(client.post("/api/v1/users", json=drift_in_kommune), "roles", "agent")
    kommune_role_in_drift = {"username": "y", "full_name": "Y", "roles": ["finance"]}
    field_error(client.post("/api/v1/users", json=kommune_role_in_drift), "roles", "finance")
    no_roles: dict[str, object] = {
        "username": "z",
        "full_name": "Z",
        "kommune_id": k.id,
        "roles": [],
    }
    field_error(client.post("/api/v1/users", json=no_roles), "roles")
    assert ids(client.get("/api/v1/users")) == [admin.id]


def test_create_user_refuses_a_taken_user_name(make: Factory, api: Api) -> None:
    k = make.kommune()
    make.user(k, username="kari", password=None)
    admin = make.user(None, Role.ADMIN, password=None)
    body = {"username": "Kari", "full_name": "Kari Again", "kommune_id": k.id}
    response = api(admin).post("/api/v1/users", json=body)
    assert "kari" in problem(response, 409)["detail"]


def test_create_user_refuses_a_site_of_another_kommune(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    elsewhere = make.site(b)
    admin = make.user(None, Role.ADMIN, password=None)
    body = {"username": "x", "full_name": "X", "kommune_id": a.id, "site_id": elsewhere.id}
    field_error(api(admin).post("/api/v1/users", json=body), "site_id", elsewhere.id)
    missing = {"username": "x", "full_name": "X", "kommune_id": 987654}
    problem(api(admin).post("/api/v1/users", json=missing), 404)


def test_create_user_refuses_bad_fields(make: Factory, api: Api) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    client = api(admin)
    base = {"username": "x", "full_name": "X", "kommune_id": k.id}
    field_error(client.post("/api/v1/users", json=base | {"password": "short"}), "password")
    field_error(client.post("/api/v1/users", json=base | {"username": "Bad Name"}), "username")
    field_error(client.post("/api/v1/users", json=base | {"language": "de"}), "language")
    field_error(client.post("/api/v1/users", json=base | {"is_admin": True}), "is_admin")


def test_only_admins_create_users(make: Factory, api: Api) -> None:
    k = make.kommune()
    agent = make.user(None, Role.AGENT, password=None)
    contact = make.user(k, Role.KOMMUNE_CONTACT, password=None)
    body = {"username": "x", "full_name": "X", "kommune_id": k.id}
    problem(api(agent).post("/api/v1/users", json=body), 403)
    problem(api(contact).post("/api/v1/users", json=body), 403)
    with make.session() as s:
        assert s.exec(select(User).where(User.username == "x")).first() is None


# ---- get and update ----------------------------------------------------------------------------


def test_get_user_with_roles_and_404_outside_ones_view(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    contact = make.user(a, Role.KOMMUNE_CONTACT, Role.FINANCE, password=None)
    colleague = make.user(a, password=None)
    stranger = make.user(b, password=None)
    client = api(contact)
    body = client.get(f"/api/v1/users/{colleague.id}").json()
    assert body["username"] == colleague.username and body["roles"] == ["end_user"]
    assert client.get(f"/api/v1/users/{contact.id}").json()["roles"] == [
        "finance",
        "kommune_contact",
    ]
    detail = problem(client.get(f"/api/v1/users/{stranger.id}"), 404)["detail"]
    assert stranger.username not in detail
    problem(client.get("/api/v1/users/999999"), 404)


def test_admin_updates_a_user_and_their_roles(make: Factory, api: Api) -> None:
    k = make.kommune()
    site = make.site(k)
    admin = make.user(None, Role.ADMIN, password=None)
    user = make.user(k, password=None)
    response = api(admin).patch(
        f"/api/v1/users/{user.id}",
        json={"full_name": "New Name", "site_id": site.id, "roles": ["end_user", "finance"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["full_name"] == "New Name" and body["site_id"] == site.id
    assert body["roles"] == ["end_user", "finance"]
    assert _stored(make, user.id).full_name == "New Name"  # type: ignore[arg-type]


def test_update_user_refuses_site_of_another_kommune_and_unknown_role(
    make: Factory, api: Api
) -> None:
    a, b = make.kommune(), make.kommune()
    elsewhere = make.site(b)
    admin = make.user(None, Role.ADMIN, password=None)
    user = make.user(a, password=None)
    client = api(admin)
    path = f"/api/v1/users/{user.id}"
    field_error(client.patch(path, json={"site_id": elsewhere.id}), "site_id", elsewhere.id)
    field_error(client.patch(path, json={"roles": ["superuser"]}), "roles.0", "superuser")
    field_error(client.patch(path, json={"roles": ["admin"]}), "roles", "admin")
    assert _stored(make, user.id).site_id is None  # type: ignore[arg-type]


def test_admin_cannot_lock_themselves_out(make: Factory, api: Api) -> None:
    admin = make.user(None, Role.ADMIN, password=None)
    client = api(admin)
    problem(client.patch(f"/api/v1/users/{admin.id}", json={"roles": ["agent"]}), 409)
    problem(client.patch(f"/api/v1/users/{admin.id}", json={"active": False}), 409)
    assert client.get("/api/v1/me").json()["roles"] == ["admin"]


def test_people_edit_only_their_own_self_editable_fields(make: Factory, api: Api) -> None:
    k = make.kommune()
    site = make.site(k)
    user = make.user(k, password=None)
    colleague = make.user(k, password=None)
    client = api(user)
    own = f"/api/v1/users/{user.id}"
    response = client.patch(
        own, json={"full_name": "Me Myself", "phone": "+47 99", "language": "en"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["language"] == "en"
    problem(client.patch(own, json={"roles": ["end_user", "kommune_contact"]}), 403)
    problem(client.patch(own, json={"site_id": site.id}), 403)
    problem(client.patch(own, json={"active": False}), 409)
    problem(client.patch(f"/api/v1/users/{colleague.id}", json={"full_name": "Hacked"}), 404)
    stored = _stored(make, user.id)  # type: ignore[arg-type]
    assert (stored.full_name, stored.site_id, stored.active) == ("Me Myself", None, True)
    assert client.get("/api/v1/me").json()["roles"] == ["end_user"]
    assert _stored(make, colleague.id).full_name == colleague.full_name  # type: ignore[arg-type]


def test_a_kommune_contact_cannot_change_a_colleague(make: Factory, api: Api) -> None:
    k = make.kommune()
    contact = make.user(k, Role.KOMMUNE_CONTACT, password=None)
    colleague = make.user(k, password=None)
    path = f"/api/v1/users/{colleague.id}"
    problem(api(contact).patch(path, json={"roles": ["kommune_contact"]}), 403)
    problem(api(contact).patch(path, json={"email": "x@example.no"}), 403)


# ---- passwords ---------------------------------------------------------------------------------


def test_admin_sets_a_password_and_signs_the_person_out(
    make: Factory, api: Api, browser: Callable[..., Browser]
) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    user = make.user(k)
    browser(user)  # signed in somewhere
    response = api(admin).put(f"/api/v1/users/{user.id}/password", json={"password": NEW_PASSWORD})
    assert response.status_code == 204, response.text
    with make.session() as s:
        assert s.exec(select(WebSession).where(WebSession.user_id == user.id)).first() is None
    assert _can_sign_in(browser, user.username, NEW_PASSWORD)
    assert not _can_sign_in(browser, user.username, PASSWORD)


def test_set_password_is_for_admins_only_and_checks_length(make: Factory, api: Api) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    user = make.user(k, password=None)
    contact = make.user(k, Role.KOMMUNE_CONTACT, password=None)
    path = f"/api/v1/users/{user.id}/password"
    field_error(api(admin).put(path, json={"password": "short"}), "password")
    problem(api(contact).put(path, json={"password": NEW_PASSWORD}), 403)
    # Not even for oneself: that needs the current password (PUT /me/password).
    problem(api(user).put(path, json={"password": NEW_PASSWORD}), 403)
    problem(api(admin).put("/api/v1/users/999999/password", json={"password": NEW_PASSWORD}), 404)
    assert _stored(make, user.id).password_hash is None  # type: ignore[arg-type]


def test_change_own_password_needs_the_current_one(
    make: Factory, api: Api, browser: Callable[..., Browser]
) -> None:
    user = make.user(make.kommune())
    client = api(user)
    wrong = {"current_password": "not my password at all", "new_password": NEW_PASSWORD}
    field_error(client.put("/api/v1/me/password", json=wrong), "current_password")
    short = {"current_password": PASSWORD, "new_password": "short"}
    field_error(client.put("/api/v1/me/password", json=short), "new_password")
    assert _can_sign_in(browser, user.username, PASSWORD)
    good = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.put("/api/v1/me/password", json=good).status_code == 204
    assert _can_sign_in(browser, user.username, NEW_PASSWORD)
    assert auth.verify_password(_stored(make, user.id).password_hash, NEW_PASSWORD)  # type: ignore[arg-type]


def test_me_shows_own_profile_with_roles(make: Factory, api: Api) -> None:
    k = make.kommune()
    user = make.user(k, Role.END_USER, Role.CAB_MEMBER, full_name="Kari Nordmann", password=None)
    body = api(user, "read").get("/api/v1/me").json()
    assert body["id"] == user.id and body["full_name"] == "Kari Nordmann"
    assert body["kommune_id"] == k.id
    assert body["roles"] == ["cab_member", "end_user"]


def test_anonymous_callers_get_401_problem(make: Factory, api: Api) -> None:
    user = make.user(make.kommune(), password=None)
    client = api(user)
    del client.headers["Authorization"]
    body = problem(client.get("/api/v1/me"), 401)
    assert body["title"]
    assert client.get("/api/v1/users").headers["www-authenticate"].startswith("Bearer")


def test_null_is_refused_where_a_value_is_required(make: Factory, api: Api) -> None:
    k = make.kommune()
    site = make.site(k)
    admin = make.user(None, Role.ADMIN, password=None)
    user = make.user(k, password=None, site_id=site.id)
    client = api(admin)
    path = f"/api/v1/users/{user.id}"
    for name in ("full_name", "email", "active", "roles", "language"):
        field_error(client.patch(path, json={name: None}), name)
    # A person's site may be cleared.
    assert client.patch(path, json={"site_id": None}).json()["site_id"] is None
    stored = _stored(make, user.id)  # type: ignore[arg-type]
    assert (stored.full_name, stored.active) == (user.full_name, True)
