"""App-level fixtures: settings, the web app on the test database, factories, signed-in clients.

Registered from tests/conftest.py via ``pytest_plugins``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from fellesdrift.assembly.app import create_app
from fellesdrift.kernel.db import dispose_engines, get_engine
from fellesdrift.kernel.settings import Settings, load_settings
from register.models import User
from tests.support.factories import PASSWORD, Factory

SECRET = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(pg_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=pg_url,
        data_dir=tmp_path / "var",
        secret_key=SECRET,
        base_url="http://testserver",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    yield get_engine(settings)
    dispose_engines()


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def make(engine: Engine) -> Factory:
    return Factory(engine)


class Browser(TestClient):
    """A test client that signs in like a person and sends the CSRF token like a form."""

    csrf: str = ""

    def refresh_csrf(self, path: str = "/") -> str:
        match = CSRF_RE.search(self.get(path).text)
        assert match, f"no CSRF token on {path}"
        self.csrf = match.group(1)
        return self.csrf

    def login(self, username: str, password: str = PASSWORD) -> None:
        token = self.refresh_csrf("/logg-inn")
        response = self.post(
            "/logg-inn",
            data={"username": username, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        self.refresh_csrf("/")
        self.headers["X-CSRF-Token"] = self.csrf

    def submit(self, path: str, data: dict[str, object] | None = None, **kw: object):  # type: ignore[no-untyped-def]
        """POST a form with the CSRF token, as the browser would."""
        payload = {"csrf_token": self.csrf} | {k: v for k, v in (data or {}).items()}
        return self.post(path, data=payload, **kw)  # type: ignore[arg-type]


@pytest.fixture
def browser(app: FastAPI) -> Iterator[Callable[..., Browser]]:
    """``browser(user)`` returns a client signed in as ``user``; ``browser()`` an anonymous one."""
    clients: list[Browser] = []

    def open_browser(user: User | None = None) -> Browser:
        client = Browser(app, base_url="http://testserver")
        client.__enter__()
        clients.append(client)
        if user is not None:
            client.login(user.username)
        return client

    yield open_browser
    for client in clients:
        client.__exit__(None, None, None)


def token_for(make: Factory, user: User, scopes: str = "read,write") -> str:
    """A real API token of ``user`` with ``scopes``, created as that user."""
    from sqlmodel import Session

    from register import auth
    from register.access import Principal, bind
    from register.schemas import TokenCreate
    from register.service.people import create_token

    with Session(make.engine, expire_on_commit=False) as s:
        bind(s, Principal.system("fixture"))
        owner = s.get(User, user.id)
        assert owner is not None
        bind(s, auth.principal_for(s, owner))
        _, raw = create_token(s, TokenCreate(name="test", scopes=scopes.split(",")))
        s.commit()
    return raw


@pytest.fixture
def api(app: FastAPI, make: Factory) -> Iterator[Callable[..., TestClient]]:
    """``api(user, scopes="read,write")`` returns a client that sends a real API token."""
    clients: list[TestClient] = []

    def open_api(user: User, scopes: str = "read,write") -> TestClient:
        raw = token_for(make, user, scopes)
        client = TestClient(app, base_url="http://testserver")
        client.__enter__()
        client.headers["Authorization"] = f"Bearer {raw}"
        clients.append(client)
        return client

    yield open_api
    for client in clients:
        client.__exit__(None, None, None)
