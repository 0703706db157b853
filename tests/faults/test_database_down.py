"""PostgreSQL stopped under write load: clients get 503 problem+json with Retry-After (pages a
"try again shortly" page), the log one line per failure, and creates succeed again at once
when it is back."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.faults.conftest import Served
from tests.rig.stoppable import StoppablePostgres
from tests.support.factories import Factory
from tests.support.fixtures import token_for

CLIENTS = 4


@dataclass
class Call:
    sent: float
    done: float
    status: int
    content_type: str
    retry_after: str | None
    body: dict[str, object]


def _create_until(stop: threading.Event, url: str, token: str, calls: list[Call]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        n = 0
        while not stop.is_set():
            n += 1
            sent = time.monotonic()
            response = client.post("/api/v1/tickets", json={"title": f"Skriver {n}"})
            content_type = response.headers.get("content-type", "")
            body = response.json() if "json" in content_type else {"text": response.text}
            calls.append(
                Call(
                    sent,
                    time.monotonic(),
                    response.status_code,
                    content_type,
                    response.headers.get("retry-after"),
                    body,
                )
            )
            if response.status_code == 503:
                time.sleep(0.05)  # a client that honours Retry-After would wait longer


@pytest.mark.parametrize("mode", ["fast", "immediate"])  # systemctl stop; a crash
def test_postgres_stopped_under_load_gives_503_and_creates_succeed_once_it_is_back(
    mode: str, own_pg: StoppablePostgres, own_make: Factory, own_engine: Engine, served: Served
) -> None:
    kommune = own_make.kommune("Alfa")
    token = token_for(own_make, own_make.user(kommune, username="anne"))
    stop, calls = threading.Event(), list[Call]()
    threads = [
        threading.Thread(target=_create_until, args=(stop, served.url, token, calls))
        for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        own_pg.stop(mode)
        stopped = time.monotonic()
        time.sleep(1.5)
        page, api_ready, live = _outage_views(served.url, token)
        own_pg.start()
        back = time.monotonic()
        time.sleep(2.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    statuses = {call.status for call in calls}
    assert statuses <= {201, 503}, [c for c in calls if c.status not in (201, 503)][:3]
    refused = [c for c in calls if c.status == 503]
    assert [c for c in refused if c.sent > stopped and c.done < back], "no call while down"
    for call in refused:
        assert call.content_type == "application/problem+json", call
        assert call.retry_after is not None and int(call.retry_after) > 0, call
        assert call.body["status"] == 503 and "database" in str(call.body["detail"]), call
    # Creates succeed again within a second of the server's return, and every one after.
    late = [c for c in calls if c.sent > back + 1.0]
    assert late and all(c.status == 201 for c in late), [c for c in late if c.status != 201]
    first = min(c.done for c in calls if c.status == 201 and c.sent > back)
    assert first - back < 1.0, first - back
    # Nothing acknowledged was lost.
    acknowledged = {c.body["id"] for c in calls if c.status == 201}
    with own_engine.connect() as connection:
        stored = set(connection.execute(text("SELECT id FROM ticket")).scalars())
    assert acknowledged <= stored
    # What an operator sees: one line per failed request, no traceback.
    log = served.log_text()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("database unavailable") == len(refused) + 1  # + the page, log[-3000:]

    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "Prøv igjen om litt" in page.text and page.headers["retry-after"]
    assert api_ready.status_code == 503 and api_ready.headers["retry-after"]
    assert api_ready.headers["content-type"] == "application/problem+json"
    assert live.status_code == 200
    assert httpx.get(f"{served.url}/readyz", timeout=10).json()["status"] == "ready"


def _outage_views(url: str, token: str) -> tuple[httpx.Response, ...]:
    """While the database is down: a page (Norwegian by default), readiness, liveness. The
    page logs its failure; /readyz answers for itself without a log line."""
    headers = {"Authorization": f"Bearer {token}"}
    return (
        httpx.get(f"{url}/saker", headers=headers, timeout=30),
        httpx.get(f"{url}/readyz", timeout=30),
        httpx.get(f"{url}/healthz", timeout=30),
    )
