"""Sign-in, sessions, CSRF, throttling and tokens, through the real app and database."""

from __future__ import annotations

from sqlalchemy import text

from register.models import User
from tests.support.factories import PASSWORD


def _login(client, username: str, password: str, next_: str = "/"):  # type: ignore[no-untyped-def]
    token = client.refresh_csrf("/logg-inn")
    return client.post(
        "/logg-inn",
        data={"username": username, "password": password, "csrf_token": token, "next": next_},
        follow_redirects=False,
    )


def test_passwords_are_stored_as_argon2id(make, engine) -> None:
    user = make.user(None, "agent", username="hashcheck")
    with engine.connect() as conn:
        stored = conn.execute(
            text("select password_hash from app_user where id = :id"), {"id": user.id}
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_ten_wrong_passwords_in_a_row_are_throttled(make, browser) -> None:
    user = make.user(None, "agent", username="target")
    client = browser()
    statuses = [_login(client, user.username, "wrong password!").status_code for _ in range(10)]
    assert statuses[0] == 401
    assert 429 in statuses, statuses
    # Even the right password is refused while the lock lasts, and says when to come back.
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "For mange mislykkede innlogginger" in response.text


def test_throttle_is_per_user_name(make, browser) -> None:
    victim = make.user(None, "agent", username="victim")
    other = make.user(None, "agent", username="other")
    client = browser()
    for _ in range(10):
        _login(client, victim.username, "wrong password!")
    assert _login(client, other.username, PASSWORD).status_code == 303


def test_unknown_user_and_wrong_password_look_the_same(make, browser) -> None:
    make.user(None, "agent", username="known")
    client = browser()
    a = _login(client, "known", "wrong password!")
    b = _login(client, "unknown-person", "wrong password!")
    assert a.status_code == b.status_code == 401
    assert "Feil brukernavn eller passord" in a.text and "Feil brukernavn eller passord" in b.text


def test_session_cookie_is_httponly_and_samesite(make, browser) -> None:
    user = make.user(None, "agent")
    response = _login(browser(), user.username, PASSWORD)
    cookie = response.headers["set-cookie"]
    assert "fd_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_secure_cookie_when_served_over_https(make, settings, engine) -> None:
    from fastapi.testclient import TestClient

    from fellesdrift.assembly.app import create_app
    from tests.support.fixtures import CSRF_RE

    app = create_app(settings.model_copy(update={"base_url": "https://drift.example.no"}))
    user = make.user(None, "agent")
    with TestClient(app, base_url="https://testserver") as client:
        token = CSRF_RE.search(client.get("/logg-inn").text).group(1)  # type: ignore[union-attr]
        response = client.post(
            "/logg-inn",
            data={"username": user.username, "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_login_form_without_csrf_token_is_refused(make, browser) -> None:
    user = make.user(None, "agent")
    client = browser()
    client.get("/logg-inn")
    response = client.post(
        "/logg-inn", data={"username": user.username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "fd_session" not in response.headers.get("set-cookie", "")


def test_signed_in_form_post_needs_the_session_csrf_token(make, browser) -> None:
    user = make.user(None, "agent")
    client = browser(user)
    del client.headers["X-CSRF-Token"]
    assert client.post("/logg-ut", data={"csrf_token": "forged"}).status_code == 403
    assert (
        client.post(
            "/logg-ut", data={"csrf_token": client.csrf}, follow_redirects=False
        ).status_code
        == 303
    )


def test_logout_ends_the_session_on_the_server(make, browser) -> None:
    user = make.user(None, "agent")
    client = browser(user)
    stolen = client.cookies.get("fd_session")
    client.submit("/logg-ut", follow_redirects=False)
    other = browser()
    other.cookies.set("fd_session", stolen)
    response = other.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/logg-inn")


def test_next_parameter_cannot_redirect_off_site(make, browser) -> None:
    user = make.user(None, "agent")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = _login(browser(), user.username, PASSWORD, next_=target)
        assert response.headers["location"] == "/"


def test_deactivated_user_cannot_sign_in_and_loses_sessions(make, browser) -> None:
    from register.schemas import UserUpdate
    from register.service.people import update_user

    user = make.user(None, "agent")
    client = browser(user)
    make.run(update_user, user.id, UserUpdate(active=False))
    assert client.get("/", follow_redirects=False).status_code == 303
    assert _login(browser(), user.username, PASSWORD).status_code == 401


def test_api_tokens_are_stored_hashed_and_record_last_use(make, api, engine) -> None:
    user = make.user(None, "agent")
    client = api(user, "read")
    raw = client.headers["Authorization"].removeprefix("Bearer ")
    assert client.get("/api/v1/kommuner").status_code == 200
    with engine.connect() as conn:
        row = conn.execute(text("select token_hash, last_used_at from api_token")).one()
    assert raw not in row.token_hash and len(row.token_hash) == 64
    assert row.last_used_at is not None


def test_api_without_credentials_is_401_problem_json(app) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        response = client.get("/api/v1/kommuner")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_bad_bearer_token_is_401(app) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        response = client.get("/api/v1/kommuner", headers={"Authorization": "Bearer fd_nope"})
    assert response.status_code == 401
    assert response.json()["title"] == "Invalid token"


def test_user_cannot_be_read_without_principal(engine) -> None:
    """A session that names nobody may not touch tenant tables at all."""
    import pytest
    from sqlmodel import Session, select

    from register.access import NoPrincipal

    with Session(engine) as session, pytest.raises(NoPrincipal):
        session.exec(select(User)).all()


def test_bare_token_without_bearer_word_is_accepted(make, api, app) -> None:
    """Prometheus 2.42's HTTP SD sends a credentials_file without the type word."""
    from fastapi.testclient import TestClient

    raw = api(make.user(None, "agent"), "inventory").headers["Authorization"].split()[1]
    with TestClient(app) as client:
        response = client.get("/api/v1/inventory/targets", headers={"Authorization": raw})
        assert response.status_code == 200
        assert (
            client.get(
                "/api/v1/inventory/targets", headers={"Authorization": "nonsense"}
            ).status_code
            == 401
        )
