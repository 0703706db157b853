"""The CAB in a real browser: a change on a life-and-health system waits for the CAB after
its systemeier approved it; two CAB members open the meeting's agenda and approve it there,
and the change is approved. axe-core scans the agenda and the change page (bokmål), and
screenshots of both, also at 390 px wide, are kept for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from servicedesk.changes.choices import ChangeState, Vote
from servicedesk.changes.schemas import ChangeCreate, DecisionIn, MeetingIn
from servicedesk.changes.service import approvals, cab, lifecycle, records
from tests.changes.conftest import RISK_HIGH, World, next_window
from tests.changes.conftest import world as world
from tests.e2e.conftest import assert_accessible, sign_in
from tests.support.servers import serve_app

#: Where the screenshots go (``FELLESDRIFT_SCREENSHOTS``; otherwise the test's tmp_path).
SHOTS_ENV = "FELLESDRIFT_SCREENSHOTS"


def _awaiting_cab(w: World) -> tuple[int, int]:
    start, end = next_window()
    data = ChangeCreate(
        title="Oppgradere helsejournal til v12",
        reason="Leverandøren slutter å støtte v11",
        ci_ids=[int(w.health.id or 0)],
        implementation_plan="Stopp tjenesten, oppgrader, start igjen",
        test_plan="Logg inn og åpne en journal",
        backout_plan="Gjenopprett fra snapshot",
        planned_start=start,
        planned_end=end,
        risk_answers=RISK_HIGH,
    )
    ticket, _ = w.run(w.agent, records.create_change, data)
    cid = int(ticket.id)
    for to in (ChangeState.SUBMITTED, ChangeState.ASSESSMENT, ChangeState.AWAITING_APPROVAL):
        w.run(w.agent, lifecycle.transition, cid, to)
    w.run(w.eier, approvals.decide, cid, DecisionIn(vote=Vote.APPROVE), systemeier=True)
    meeting = w.run(w.agent, cab.create_meeting, MeetingIn(meets_at=start, title="Uke 50"))
    w.run(w.agent, cab.send_agenda, meeting.id)
    return cid, int(meeting.id)


def _shoot(page: Any, name: str, shots: Path) -> None:
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / f"{name}-390.png"), full_page=True)
    # Nothing wider than the phone's screen: no sideways scrolling.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"{name} is {width}px wide at 390px"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_cab_members_vote_on_the_agenda_and_the_change_is_approved(
    app: Any, world: World, chromium: Any, axe_source: str, tmp_path: Path
) -> None:
    shots = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    cid, mid = _awaiting_cab(world)
    with serve_app(app) as base:
        for member in world.cab[:2]:
            page = sign_in(chromium, base, member.username)
            page.get_by_role("link", name="Endringer").first.click()
            page.get_by_role("link", name=f"Endringsrådet, møte {mid}").click()
            expect(page.locator("h1")).to_have_text(f"Endringsrådet, møte {mid}")
            item = page.locator(f"#item-{cid}")
            expect(item).to_contain_text("Oppgradere helsejournal til v12")
            expect(item).to_contain_text("Helsejournal")
            item.get_by_role("button", name=f"Godkjenn endring {cid}").click()
            expect(page.locator("h1")).to_have_text(f"Endringsrådet, møte {mid}")
            page.context.close()

        page = sign_in(chromium, base, world.cab[2].username)
        page.goto(f"/endringer/cab/{mid}")
        assert_accessible(page, axe_source)
        expect(page.locator(f"#item-{cid} .state")).to_have_text("Godkjent")
        _shoot(page, "cab-agenda", shots)
        page.goto(f"/endringer/{cid}")
        expect(page.locator("#change-state")).to_have_text("Godkjent")
        expect(page.locator("#rules")).to_contain_text("Helsejournal")
        expect(page.locator("#decisions")).to_contain_text(world.cab[0].full_name)
        assert_accessible(page, axe_source)
        _shoot(page, "change", shots)
