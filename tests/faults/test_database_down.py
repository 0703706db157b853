"""PostgreSQL stopped under write load: clients get 503 problem+json with Retry-After (pages a
"try again shortly" page), the log one line per failure, and creates succeed again at once
when it is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
        _wait(lambda: sum(c.status == 201 for c in calls) >= 2 * CLIENTS, "creates before")
        own_pg.stop(mode)
        stopped = time.monotonic()
        _wait(lambda: sum(c.sent > stopped for c in calls) >= 2 * CLIENTS, "calls while down")
        page, api_ready, live = _outage_views(served.url, token)
        own_pg.start()
        back = time.monotonic()
        _wait(lambda: sum(c.sent > back for c in calls) >= 2 * CLIENTS, "creates after")
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
    # Creates succeed again as soon as the server is back: every one sent after its return,
    # the first done within a second (on a busy machine, plus a few creates' own time).
    after = [c for c in calls if c.sent > back]
    assert after and all(c.status == 201 for c in after), [c for c in after if c.status != 201]
    before = sorted(c.done - c.sent for c in calls if c.status == 201 and c.done < stopped)
    allowance = max(1.0, 4 * before[len(before) // 2])
    first = min(c.done for c in after)
    assert first - back < allowance, (first - back, allowance)
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


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Until ``condition`` holds (the load is driven by the clients' pace, not the clock: on a
    busy machine a create takes longer)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not reached in {timeout} s"
        time.sleep(0.05)


def _outage_views(url: str, token: str) -> tuple[httpx.Response, ...]:
    """While the database is down: a page (Norwegian by default), readiness, liveness. The
    page logs its failure; /readyz answers for itself without a log line."""
    headers = {"Authorization": f"Bearer {token}"}
    return (
        httpx.get(f"{url}/saker", headers=headers, timeout=30),
        httpx.get(f"{url}/readyz", timeout=30),
        httpx.get(f"{url}/healthz", timeout=30),
    )
