"""Time entries of an invoiced month, through the service desk's own API: 409, nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from billing import counts, run
from billing.models import Invoice
from servicedesk.tickets.models import TimeEntry
from tests.billing.conftest import MONTH, act, build_world
from tests.support.factories import Factory


def test_the_api_refuses_time_in_an_invoiced_month(
    make: Factory, api: Callable[..., TestClient]
) -> None:
    world = build_world(make.engine)
    ticket = world.ticket(world.a)
    entry_id = world.log(ticket, world.a, 30, day=MONTH.replace(day=20))
    act(world, world.admin, counts.snapshot_registers, MONTH)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)
    agent = api(world.agent)
    logged = agent.post(
        f"/api/v1/tickets/{ticket}/time-entries", json={"work_date": "2026-10-31", "minutes": 15}
    )
    assert logged.status_code == 409, logged.text
    assert "2026-10 is invoiced" in logged.json()["detail"]
    moved = agent.put(
        f"/api/v1/time-entries/{entry_id}", json={"work_date": "2026-10-21", "minutes": 45}
    )
    assert moved.status_code == 409, moved.text
    assert "is invoiced" in moved.json()["detail"]
    open_month = agent.post(
        f"/api/v1/tickets/{ticket}/time-entries", json={"work_date": "2026-11-02", "minutes": 15}
    )
    assert open_month.status_code == 201, open_month.text
    with world.session() as s:
        assert sorted(e.minutes for e in s.exec(select(TimeEntry))) == [15, 30]


def test_billed_entries_show_their_invoice(
    make: Factory, api: Callable[..., TestClient], browser: Callable[..., Any]
) -> None:
    world = build_world(make.engine)
    ticket = world.ticket(world.a)
    billed = world.log(ticket, world.a, 30, day=MONTH.replace(day=20))
    act(world, world.admin, counts.snapshot_registers, MONTH)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)
    agent = api(world.agent)
    later = agent.post(
        f"/api/v1/tickets/{ticket}/time-entries", json={"work_date": "2026-11-02", "minutes": 15}
    ).json()["id"]
    with world.session() as s:
        [number] = {
            i.document_number for i in s.exec(select(Invoice)) if i.kommune_id == world.a.id
        }
    listed = agent.get(f"/api/v1/tickets/{ticket}/time-entries").json()["items"]
    assert {e["id"]: e["invoice_ref"] for e in listed} == {billed: number, later: None}
    assert agent.get(f"/api/v1/time-entries/{billed}").json()["invoice_ref"] == number
    page = browser(world.agent).get(f"/arbeid/saker/{ticket}")
    assert page.status_code == 200 and number in page.text
    with world.session() as s:  # shown, not written
        assert s.get(TimeEntry, billed).invoice_ref is None  # type: ignore[union-attr]
