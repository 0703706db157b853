"""The SLA in a real browser: an agent opens the workspace and sees a ticket's due time and its
warning ("nær brudd") once the escalation job has warned, in the SLA queue and on the ticket
page, both accessible (axe-core)."""

from __future__ import annotations

import time

from playwright.sync_api import expect
from sqlmodel import select

from register.schemas import UsageIn
from register.service import cmdb
from servicedesk.tickets.clock_models import TicketClock
from servicedesk.tickets.models import Notification
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core
from servicedesk.tickets.service.escalation import escalate
from sla import importer
from sla.calendar import OSLO
from tests.e2e.conftest import assert_accessible, sign_in
from tests.e2e.test_portal_browser import _session_of
from tests.support.factories import Factory
from tests.support.servers import serve_app

#: Round the clock, a P1 response within a minute and a 1 % threshold: a new P1 is "close to
#: breach" 0.6 s after filing (and overdue after a minute, long after the test).
FAST = """
agreements:
  - name: Rask
    valid_from: 2020-01-01
    default_level: rask
    leadership: [driftsleder@drift.no]
    levels:
      - key: rask
        name: Rask
        calendar: round_the_clock
        warn_at: [1, 100]
        targets:
          1: {response: 1m, resolution: 4h}
          2: {response: 2h, resolution: 8h}
          3: {response: 4h, resolution: 16h}
          4: {response: 8h, resolution: 40h}
"""


def test_agent_sees_due_time_and_warning_in_chromium(
    app, make: Factory, chromium, axe_source
) -> None:
    alfa = make.kommune("Alfa")
    anne = make.user(alfa, username="anne", email="anne@alfa.no")
    make.user(None, "agent", username="agent", email="agent@drift.no")
    journal = make.ci("journal", name="Journal", kind="fagsystem", classification="fellessystem")
    make.run(cmdb.set_usage, journal.id, UsageIn(kommune_id=alfa.id, users_count=5))
    make.run(importer.import_yaml, FAST, "rask.yaml")
    assert journal.id is not None
    session = _session_of(make, anne)
    ticket = core.create_ticket(
        session, TicketCreate(title="Journalen er nede", impact=1, urgency=1, ci_ids=[journal.id])
    )
    session.commit()
    # The 1 % threshold of the response's minute is 0.6 s after filing: the job, run for real,
    # finds it passed once the clock has run that long.
    time.sleep(1)
    report = escalate(make.session)
    assert report.warned >= 1
    with make.session() as s:
        clock = s.exec(
            select(TicketClock).where(
                TicketClock.ticket_id == ticket.id, TicketClock.kind == "response"
            )
        ).one()
        assert s.exec(select(Notification).where(Notification.reason.startswith("sla_"))).first()  # type: ignore[attr-defined]
    due = clock.due_at.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")
    with serve_app(app) as base:
        page = sign_in(chromium, base, "agent", js=True)
        page.goto("/arbeid")
        page.get_by_role("link", name="Nær brudd").first.click()
        expect(page.locator("h1")).to_have_text("Nær brudd")
        row = page.locator("tr[data-row]", has_text=f"#{ticket.id}")
        expect(row).to_be_visible()
        warning = row.locator("[data-sla='at-risk']")
        expect(warning).to_contain_text("igjen")
        expect(row).to_contain_text(due)
        assert_accessible(page, axe_source)
        row.get_by_role("link").first.click()
        clocks = page.locator("section.sla-clocks")
        expect(clocks.locator("tr[data-clock='response']")).to_contain_text(due)
        expect(clocks.locator("tr[data-clock='response'] [data-sla='at-risk']")).to_be_visible()
        assert_accessible(page, axe_source)
