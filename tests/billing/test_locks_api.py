"""Time entries of an invoiced month, through the service desk's own API: 409, nothing stored."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from billing import counts, run
from billing.models import Invoice
from servicedesk.tickets.models import TimeEntry
from tests.billing.conftest import MONTH, BillingWorld, act, build_world
from tests.support.factories import Factory
from tests.support.fixtures import Browser


def _invoiced_month_with_time(make: Factory) -> tuple[BillingWorld, int, int]:
    """The test world with 30 minutes logged on a ticket of kommune A in MONTH, invoiced."""
    world = build_world(make.engine)
    ticket = world.ticket(world.a)
    entry_id = world.log(ticket, world.a, 30, day=MONTH.replace(day=20))
    act(world, world.admin, counts.snapshot_registers, MONTH)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)
    return world, ticket, entry_id


def test_the_api_refuses_time_in_an_invoiced_month(
    make: Factory, api: Callable[..., TestClient]
) -> None:
    world, ticket, entry_id = _invoiced_month_with_time(make)
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


def test_the_agent_workspace_refuses_time_in_an_invoiced_month_in_the_page_language(
    make: Factory, browser: Callable[..., Browser]
) -> None:
    world, ticket, entry_id = _invoiced_month_with_time(make)
    agent = browser(world.agent)
    base = f"/arbeid/saker/{ticket}/timer"
    new = {"work_date": "2026-10-31", "minutes": "15", "work_type": "office_hours"}
    moved = {"work_date": "2026-10-21", "minutes": "45", "work_type": "office_hours"}
    # The catalogue's texts (billing_errors.json), filled in with the day and the month.
    for lang, logged_text, moved_text in (
        (
            "nb",
            "ny timeføring den 2026-10-31: 2026-10 er fakturert; før arbeidet i en åpen måned",
            f"timeføring {entry_id} den 2026-10-21: 2026-10 er fakturert",
        ),
        (
            "en",
            "time entry (new) on 2026-10-31: 2026-10 is invoiced; log the work in an open month",
            f"time entry {entry_id} on 2026-10-21: 2026-10 is invoiced",
        ),
    ):
        if lang == "en":
            agent.submit("/sprak", {"lang": "en", "next": f"/arbeid/saker/{ticket}"})
        logged = agent.submit(base, new)
        assert logged.status_code == 422, (lang, logged.text)
        assert f'lang="{lang}"' in logged.text
        assert logged_text in html.unescape(logged.text), lang
        changed = agent.submit(f"{base}/{entry_id}", moved)
        assert changed.status_code == 422, (lang, changed.text)
        assert moved_text in html.unescape(changed.text), lang
        if lang == "nb":  # not the API's English detail
            assert "is invoiced" not in logged.text + changed.text
    with world.session() as s:
        [entry] = s.exec(select(TimeEntry)).all()
    assert (entry.id, entry.work_date, entry.minutes) == (entry_id, MONTH.replace(day=20), 30)
