"""Changing one's own password ends one's other sign-ins, and revokes one's API tokens unless
one chooses to keep them: on the profile page and through the API alike (issue 14, item 11)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.factories import PASSWORD, Factory
from tests.support.fixtures import Browser, token_for

NEW_PASSWORD = "et-helt-nytt-passord-2026"


def _signed_in(client: TestClient) -> bool:
    return client.get("/profil", follow_redirects=False).status_code == 200


def _token_works(app: FastAPI, raw: str) -> bool:
    with TestClient(app, base_url="http://testserver") as client:
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def _change_on_page(here: Browser, keep_tokens: bool) -> None:
    form: dict[str, object] = {
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_repeat": NEW_PASSWORD,
    }
    if keep_tokens:
        form["keep_tokens"] = "on"
    response = here.submit("/profil/passord", form, follow_redirects=False)
    assert response.status_code == 303, response.text


def test_profile_page_change_signs_out_elsewhere_and_revokes_tokens(
    app: FastAPI, make: Factory, browser: Callable[..., Browser]
) -> None:
    user = make.user(make.kommune())
    elsewhere, here = browser(user), browser(user)
    raw = token_for(make, user)
    _change_on_page(here, keep_tokens=False)
    assert not _signed_in(elsewhere), "the other browser is signed out"
    assert _signed_in(here), "the browser that changed it stays signed in"
    assert not _token_works(app, raw)


def test_profile_page_change_keeps_tokens_when_asked(
    app: FastAPI, make: Factory, browser: Callable[..., Browser]
) -> None:
    user = make.user(make.kommune())
    elsewhere, here = browser(user), browser(user)
    raw = token_for(make, user)
    assert "keep_tokens" in here.get("/profil").text, "the form offers the choice"
    _change_on_page(here, keep_tokens=True)
    assert not _signed_in(elsewhere)
    assert _signed_in(here)
    assert _token_works(app, raw)


def test_api_change_signs_out_every_browser_and_revokes_tokens(
    app: FastAPI, make: Factory, api: Callable[..., TestClient], browser: Callable[..., Browser]
) -> None:
    user = make.user(make.kommune())
    signed_in = browser(user)
    other = token_for(make, user)
    client = api(user)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.put("/api/v1/me/password", json=body).status_code == 204
    assert not _signed_in(signed_in)
    assert not _token_works(app, other)
    assert client.get("/api/v1/me").status_code == 401, "the token used is revoked too"


def test_api_change_keeps_tokens_when_asked(
    app: FastAPI, make: Factory, api: Callable[..., TestClient], browser: Callable[..., Browser]
) -> None:
    user = make.user(make.kommune())
    signed_in = browser(user)
    other = token_for(make, user)
    client = api(user)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "keep_tokens": True}
    assert client.put("/api/v1/me/password", json=body).status_code == 204
    assert not _signed_in(signed_in)
    assert _token_works(app, other)
    assert client.get("/api/v1/me").status_code == 200
