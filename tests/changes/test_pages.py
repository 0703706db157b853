"""The change pages as people use them: record a change with the system picker and the risk
questionnaire (a refused form keeps what was typed), the rules and why on the change page,
a CAB meeting planned, its agenda sent, votes from the agenda, the minutes."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlmodel import select

from servicedesk.changes.choices import ChangeState
from servicedesk.changes.models import ChangeRecord
from servicedesk.changes.service import lifecycle
from servicedesk.tickets.models import Notification
from tests.changes.conftest import RISK_HIGH, World, next_window
from tests.support.fixtures import Browser

Open = Callable[..., Browser]


def _form(w: World, **kw: str) -> dict[str, object]:
    start, end = next_window()
    data: dict[str, object] = {
        "title": "Ny versjon av helsejournalen",
        "change_type": "normal",
        "reason": "Leverandøren krever det",
        "ci_ids": [str(w.health.id)],
        "planned_start": start.strftime("%Y-%m-%dT%H:%M"),
        "planned_end": end.strftime("%Y-%m-%dT%H:%M"),
        "implementation_plan": "Oppgrader",
        "test_plan": "Åpne en journal",
        "backout_plan": "Gjenopprett snapshot",
        "tlp": "amber",
    }
    data |= {f"risk_{q}": a for q, a in RISK_HIGH.items()}
    return data | kw


def _count(w: World) -> int:
    with w.make.session() as s:
        return len(s.exec(select(ChangeRecord)).all())


def test_record_a_change_with_the_picker_and_the_questionnaire(world: World, browser: Open) -> None:
    agent = browser(world.agent)
    page = agent.get("/endringer/ny")
    assert page.status_code == 200
    assert "Registrer endring" in page.text and "Helsejournal (journal)" in page.text
    assert 'type="radio"' in page.text and "Tilbakerullingsplan" in page.text

    # End before start, no title: refused in Norwegian, nothing stored, input kept.
    start, end = next_window()
    bad = _form(
        world,
        title="",
        planned_start=end.strftime("%Y-%m-%dT%H:%M"),
        planned_end=start.strftime("%Y-%m-%dT%H:%M"),
    )
    r = agent.submit("/endringer/ny", bad)
    assert r.status_code == 422
    assert 'role="alert"' in r.text and "Leverandøren krever det" in r.text
    assert re.search(rf'value="{world.health.id}"[^>]*checked', r.text)
    assert _count(world) == 0

    r = agent.submit("/endringer/ny", _form(world), follow_redirects=False)
    assert r.status_code == 303, r.text
    assert re.fullmatch(r"/endringer/\d+\?ok=change_saved", r.headers["location"])
    page = agent.get(r.headers["location"])
    assert "Endringen er lagret som utkast." in page.text
    # The rules that apply and why, in words, not codes.
    rules = page.text.split('id="rules"')[1].split("</ul>")[0]
    assert "Helsejournal" in rules and "systemeier_approval" not in rules
    assert "Høy" in page.text or "høy" in page.text

    # Only the drift unit records changes.
    assert browser(world.contact_a).get("/endringer/ny").status_code == 403


def test_plan_a_meeting_send_the_agenda_vote_and_record_minutes(
    world: World, browser: Open
) -> None:
    agent = browser(world.agent)
    r = agent.submit("/endringer/ny", _form(world), follow_redirects=False)
    cid = int(r.headers["location"].split("/")[2].split("?")[0])
    for to in (ChangeState.SUBMITTED, ChangeState.ASSESSMENT, ChangeState.AWAITING_APPROVAL):
        world.run(world.agent, lifecycle.transition, cid, to)

    # The systemeier approves from the change page.
    eier = browser(world.eier)
    r = eier.submit(
        f"/endringer/{cid}/beslutning", {"vote": "approve", "as": "systemeier"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text

    # A meeting time that is no time is refused, nothing planned.
    r = agent.submit("/endringer/cab/ny", {"meets_at": "i morgen", "title": "x"})
    assert r.status_code == 422 and "gyldig dato" in r.text
    r = agent.submit(
        "/endringer/cab/ny", {"meets_at": "2031-01-07T09:00", "title": "Uke 2"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    agenda_url = r.headers["location"].split("?")[0]
    page = agent.get(agenda_url)
    assert "Ny versjon av helsejournalen" in page.text and "2031-01-07 09:00" in page.text
    assert agent.submit(f"{agenda_url}/send", follow_redirects=False).status_code == 303
    with world.make.session() as s:
        told = s.exec(select(Notification).where(Notification.reason == "cab_agenda")).all()
    assert len(told) == 3 and all("2031" in n.body for n in told)

    for member in world.cab[:2]:
        r = browser(member).submit(
            f"/endringer/{cid}/beslutning", {"vote": "approve", "back": agenda_url},
            follow_redirects=False,
        )  # fmt: skip
        assert r.status_code == 303 and r.headers["location"] == agenda_url, r.text
    r = agent.submit(f"{agenda_url}/referat", {"notes": "Enstemmig godkjent"})
    assert r.status_code == 200
    assert "Referatet er ført." in r.text and "Enstemmig godkjent" in r.text
    assert "Godkjent" in r.text
    with world.make.session() as s:
        record = s.get(ChangeRecord, cid)
        assert record is not None and record.state == ChangeState.APPROVED
