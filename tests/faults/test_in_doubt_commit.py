"""An in-doubt commit: the ticket is stored, but the connection broke before the app heard so.
The client gets a 503 and retries with the same Idempotency-Key: one ticket, the first answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import URL, make_url, text
from sqlalchemy.engine import Engine

from tests.faults.conftest import Served, serve
from tests.faults.pgproxy import CommitCutter, commit_cutter
from tests.rig.stoppable import StoppablePostgres
from tests.support.factories import Factory
from tests.support.fixtures import token_for


@pytest.fixture
def cutter(own_pg: StoppablePostgres) -> Iterator[CommitCutter]:
    with commit_cutter(own_pg.server.host, own_pg.server.port, "ticket") as running:
        yield running


@pytest.fixture
def served_via_cutter(
    own_pg: StoppablePostgres, cutter: CommitCutter, tmp_path: Path
) -> Iterator[Served]:
    url: URL = make_url(own_pg.url).set(host="127.0.0.1", port=cutter.port)
    yield from serve(url.render_as_string(hide_password=False), tmp_path)


def _tickets(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, title FROM ticket ORDER BY id"))
        return [(row.id, row.title) for row in rows]


def test_a_retry_with_the_same_key_after_an_in_doubt_commit_makes_one_ticket(
    own_make: Factory, own_engine: Engine, cutter: CommitCutter, served_via_cutter: Served
) -> None:
    anne = own_make.user(own_make.kommune("Alfa"), username="anne")
    headers = {"Authorization": f"Bearer {token_for(own_make, anne)}"}
    body = {"title": "Skriveren i 2. etasje virker ikke"}
    with httpx.Client(base_url=served_via_cutter.url, headers=headers, timeout=30) as client:
        keyed = {"Idempotency-Key": "c2a1e0f4-5b1d-4c8e-9a43-1f0e6b7d2a11"}
        cutter.armed.set()
        first = client.post("/api/v1/tickets", json=body, headers=keyed)
        assert cutter.cut.is_set(), "the commit's answer was not cut"
        # The app cannot know whether it committed: 503, retry; it did commit.
        assert first.status_code == 503, first.text
        assert first.headers["content-type"] == "application/problem+json"
        assert first.headers["retry-after"]
        [(stored_id, title)] = _tickets(own_engine)
        assert title == body["title"]

        retry = client.post("/api/v1/tickets", json=body, headers=keyed)
        assert retry.status_code == 201, retry.text
        assert retry.json()["id"] == stored_id and retry.json()["title"] == body["title"]
        assert retry.headers["idempotency-replayed"] == "true"
        assert retry.headers["location"] == f"/api/v1/tickets/{stored_id}"
        assert len(_tickets(own_engine)) == 1

        # The same key with another request is refused, and creates nothing.
        other = client.post("/api/v1/tickets", json={"title": "Noe annet"}, headers=keyed)
        assert other.status_code == 422, other.text
        assert other.headers["content-type"] == "application/problem+json"
        assert "different request" in other.json()["detail"]
        # Without a key a retry would make a second ticket: keys are what prevents it.
        again = client.post("/api/v1/tickets", json=body)
        assert again.status_code == 201 and "idempotency-replayed" not in again.headers
    assert len(_tickets(own_engine)) == 2
    assert "Traceback" not in served_via_cutter.log_text()
