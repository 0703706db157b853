"""The employee's portal in headless Chromium (issue 14.8): no TLP jargon (the sharing choice is
folded away in plain words, with the service's default), only the menu items an employee can
use, a ticket list that does not scroll sideways at 390 px with each radio button beside its
label, focus on the error summary after a refused form, an expired form that says so (not
"no access"), and a browser that asks for English keeps English after signing in."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core
from tests.e2e.conftest import sign_in
from tests.e2e.test_portal_browser import _session_of
from tests.support.factories import PASSWORD, Factory
from tests.support.servers import serve_app

#: Where screenshots go to be looked at, when asked for (``FELLESDRIFT_SCREENSHOTS=dir``).
SHOTS = os.environ.get("FELLESDRIFT_SCREENSHOTS", "")


def _world(make: Factory) -> dict[str, Any]:
    a = make.kommune("Alfa")
    make.ci("epost", name="E-post", kind="fagsystem", classification="fellessystem")
    anne = make.user(a, username="anne", full_name="Anne Alfa", email="anne@alfa.no")
    desk = _session_of(make, anne)
    for n in range(3):
        title = f"Skriveren i {n + 2}. etasje skriver bare halve sider med svært lange ord"
        core.create_ticket(desk, TicketCreate(title=title))
    desk.commit()
    desk.close()
    return {"anne": anne}


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_the_employee_portal_in_plain_words_at_390_px(app, make, chromium) -> None:
    _world(make)
    with serve_app(app) as base:
        page = sign_in(chromium, base, "anne", js=True)
        nav = page.get_by_role("navigation", name="Hovedmeny")
        for hidden in ("Systemoversikt", "Kommuner", "API-nøkler"):
            expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
        expect(nav.get_by_role("link", name="Mine saker")).to_be_visible()

        page.goto("/saker/ny/feil")
        main = page.locator("main")
        expect(main).not_to_contain_text("Traffic Light")
        expect(main).not_to_contain_text("TLP")
        summary = page.locator("details.share > summary")
        expect(summary).to_have_text("Hvem kan se saken: Kommunen din og driftsenheten. Endre")
        expect(page.locator("#tlp-amber")).to_be_hidden()  # folded away
        expect(page.locator("#tlp-amber")).to_be_checked()  # the service's default
        summary.click()
        expect(page.locator("#tlp-red")).to_be_visible()

        # A refused form: the focus is on the error summary.
        page.get_by_role("button", name="Send saken").click()
        expect(page.get_by_role("alert")).to_contain_text("Noe må rettes opp")
        focused = page.evaluate("() => document.activeElement.getAttribute('role')")
        assert focused == "alert"

        # 390 px wide: no sideways scrolling, each radio button beside its label.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto("/saker/ny/feil")
        page.locator("details.share > summary").click()
        for radio in page.locator("input[type=radio]").all():
            label = page.locator(f"label[for='{radio.get_attribute('id')}']")
            r, lab = radio.bounding_box(), label.bounding_box()
            # Beside it, on the label's first line (a long label wraps below itself).
            assert r and lab and lab["x"] > r["x"] and lab["y"] - 4 <= r["y"] <= lab["y"] + 16, (
                radio.get_attribute("id")
            )
        _shot(page, "portal-new-390-nb")
        page.goto("/saker")
        expect(page.get_by_role("table")).to_contain_text("Skriveren i 2. etasje")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the ticket list is {width} px wide at 390 px"
        _shot(page, "portal-list-390-nb")

        # An expired form says so, and not that the person lacks access.
        page.goto("/saker/ny/feil")
        page.evaluate(
            "() => document.querySelectorAll('input[name=csrf_token]')"
            ".forEach(i => i.value = 'utløpt')"
        )
        page.get_by_role("button", name="Send saken").click()
        expect(page.locator("h1")).to_have_text("Skjemaet er utløpt")
        expect(page.locator("main")).not_to_contain_text("Du har ikke tilgang")


def test_english_browser_keeps_english_after_sign_in(app, make, chromium) -> None:
    _world(make)
    with serve_app(app) as base:
        context = chromium.new_context(base_url=base, locale="en-GB")
        page = context.new_page()
        page.goto("/logg-inn")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.fill("#username", "anne")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.goto("/saker/ny/feil")
        expect(page.locator("details.share > summary")).to_have_text(
            "Who can see the ticket: Your kommune and the operations unit. Change"
        )
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto("/saker")
        _shot(page, "portal-list-390-en")
        context.close()
