"""The agent's ticket page: timeline, reply and internal note, status changes with their
required fields, editing with the optimistic-locking conflict message, links, watchers, time
entries and files."""

from __future__ import annotations

import re

from sqlmodel import select

from servicedesk.tickets.models import Ticket, TicketWatcher, TimeEntry
from servicedesk.tickets.schemas import TimeEntryIn
from servicedesk.tickets.service import timeentries
from tests.pages.helpers import text
from tests.support.fixtures import Browser
from tests.tickets.agent.conftest import Desk, assign, file_ticket


def _page(client: Browser, ticket_id: int) -> str:
    response = client.get(f"/arbeid/saker/{ticket_id}")
    assert response.status_code == 200
    return response.text


def _fresh(make, ticket_id: int) -> Ticket:
    with make.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def test_reply_note_and_timeline(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    ticket = file_ticket(as_user(w.user_a), description="<script>alert(1)</script> rød lampe")
    client: Browser = browser(w.agent)
    note = client.submit(
        f"/arbeid/saker/{ticket.id}/svar",
        {"body": "Brukeren har feil lisens", "kind": "note"},
        files={"files": ("logg.txt", b"feil 42\n", "text/plain")},
        follow_redirects=False,
    )
    assert note.status_code == 303
    assert note.headers["location"] == f"/arbeid/saker/{ticket.id}?ok=agent_noted#reply"
    client.submit(f"/arbeid/saker/{ticket.id}/svar", {"body": "Vi ser på saken", "kind": "reply"})
    html = _page(client, ticket.id)  # type: ignore[arg-type]
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    entries = re.findall(r'<li class="entry entry-(\w+)( internal)?"', html)
    assert entries == [("system", ""), ("note", " internal"), ("reply", "")]
    shown = text(html)
    assert "Internt notat Agent1" in shown and "Brukeren har feil lisens" in shown
    assert "Saken ble registrert" in shown
    link = re.search(rf'href="(/arbeid/saker/{ticket.id}/vedlegg/\d+)">logg.txt', html)
    assert link, "the file is listed with its note"
    download = client.get(link.group(1))
    assert download.content == b"feil 42\n"
    assert download.headers["content-disposition"].startswith("attachment;")
    # The requester's side never gets the note (nor its file).
    anne = browser(w.user_a)
    assert "feil lisens" not in anne.get(f"/saker/{ticket.id}").text
    empty = client.submit(f"/arbeid/saker/{ticket.id}/svar", {"body": "  ", "kind": "reply"})
    assert empty.status_code == 422 and "Skriv en tekst eller legg ved en fil" in text(empty.text)
    bad = client.submit(
        f"/arbeid/saker/{ticket.id}/svar",
        {"body": "x", "kind": "reply"},
        files={"files": ("virus.exe", b"MZ", "application/octet-stream")},
    )
    assert bad.status_code == 422 and "virus.exe ble avvist" in text(bad.text)
    assert ">x</textarea>" in bad.text


def test_status_changes_need_their_fields(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    ticket = file_ticket(as_user(w.user_a))
    client: Browser = browser(w.agent)
    html = _page(client, ticket.id)  # type: ignore[arg-type]
    for label in ("Start arbeid", "Sett på vent", "Løs saken", "Avbryt saken"):
        assert label in html
    pending = client.submit(
        f"/arbeid/saker/{ticket.id}/status",
        {"version": "1", "status": "pending", "comment": "Venter på deg"},
    )
    assert pending.status_code == 422
    assert "Velg hva saken venter på" in text(pending.text)
    assert ">Venter på deg</textarea>" in pending.text
    ok = client.submit(
        f"/arbeid/saker/{ticket.id}/status",
        {"version": "1", "status": "pending", "pending_reason": "vendor"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    now = _fresh(make, ticket.id)  # type: ignore[arg-type]
    assert (now.status, now.pending_reason) == ("pending", "vendor")
    resolved = client.submit(
        f"/arbeid/saker/{ticket.id}/status",
        {
            "version": str(now.version),
            "status": "resolved",
            "resolution": "Leverandøren fikset feilen",
        },
    )
    assert resolved.status_code == 200
    assert "Leverandøren fikset feilen" in text(resolved.text)
    assert _fresh(make, ticket.id).status == "resolved"  # type: ignore[arg-type]
    closed = client.submit(
        f"/arbeid/saker/{ticket.id}/status", {"version": str(now.version), "status": "new"}
    )
    assert closed.status_code in (409, 422)


def test_a_conflict_keeps_the_agents_text(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    ticket = file_ticket(as_user(w.user_a))
    client: Browser = browser(w.agent)
    _page(client, ticket.id)  # type: ignore[arg-type]
    # Someone else saves first.
    assign(as_user(w.agent2), ticket, title="Skriveren i 2. etasje")
    mine = "Toner byttet, men arket setter seg fast"
    stale = client.submit(
        f"/arbeid/saker/{ticket.id}/endre",
        {
            "version": "1",
            "title": "Skriveren virker ikke",
            "description": mine,
            "impact": "3",
            "urgency": "3",
            "tlp": "amber",
            "kommune_id": str(w.a.id),
        },
    )
    assert stale.status_code == 409
    shown = text(stale.text)
    assert "Saken er endret av noen andre" in shown and "versjon 2" in shown
    assert f">{mine}</textarea>" in stale.text
    assert re.search(
        r'action="/arbeid/saker/\d+/endre".*?name="version" value="2"', stale.text, re.S
    )
    assert _fresh(make, ticket.id).description == ""  # type: ignore[arg-type]
    # Having read the change, the agent saves again: it applies.
    again = client.submit(
        f"/arbeid/saker/{ticket.id}/endre",
        {
            "version": "2",
            "title": "Skriveren i 2. etasje",
            "description": mine,
            "impact": "1",
            "urgency": "2",
            "tlp": "amber",
            "kommune_id": str(w.a.id),
            "ci_keys": "epost",
        },
        follow_redirects=False,
    )
    assert again.status_code == 303
    saved = _fresh(make, ticket.id)  # type: ignore[arg-type]
    assert (saved.description, saved.priority) == (mine, 1)
    html = _page(client, ticket.id)  # type: ignore[arg-type]
    assert "Prioritet: P3 Middels → P1 Kritisk" in text(html)
    assert "Berørte systemer: E-post" in text(html)
    unknown = client.submit(
        f"/arbeid/saker/{ticket.id}/endre",
        {
            "version": str(saved.version),
            "title": "Skriveren",
            "ci_keys": "finnes-ikke",
            "impact": "1",
            "urgency": "2",
            "tlp": "amber",
            "kommune_id": str(w.a.id),
        },
    )
    assert unknown.status_code == 422 and "Ukjente systemnøkler: finnes-ikke" in text(unknown.text)


def test_links_and_watchers(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    agent = as_user(w.agent)
    problem = file_ticket(agent, title="Ustabil utskriftsserver", type="problem")
    incident = file_ticket(as_user(w.user_a))
    secret = file_ticket(as_user(w.user_b), title="Hemmelig", tlp="red")
    other = file_ticket(as_user(w.user_b), title="Skriveren virker ikke heller")
    client: Browser = browser(w.agent)
    url = f"/arbeid/saker/{incident.id}/lenker"
    assert (
        client.submit(
            url, {"kind": "caused_by", "target_id": f"#{problem.id}"}, follow_redirects=False
        ).status_code
        == 303
    )
    not_problem = client.submit(url, {"kind": "caused_by", "target_id": str(other.id)})
    assert not_problem.status_code == 422 and "Saken er ikke et problem" in text(not_problem.text)
    hidden = client.submit(url, {"kind": "duplicate_of", "target_id": str(secret.id)})
    assert hidden.status_code == 422
    assert f"Fant ingen sak #{secret.id} som du har tilgang til" in text(hidden.text)
    assert "Hemmelig" not in hidden.text
    problem_page = text(_page(client, problem.id))  # type: ignore[arg-type]
    assert "Hendelser knyttet til problemet (1)" in problem_page
    assert f"#{incident.id} Skriveren virker ikke" in problem_page

    watch = f"/arbeid/saker/{incident.id}/observatorer"
    added = client.submit(watch, {"user": "kontakt-a"}, follow_redirects=False)
    assert added.status_code == 303
    nobody = client.submit(watch, {"user": "finnes-ikke"})
    assert nobody.status_code == 422
    with make.session() as s:
        row = s.exec(select(TicketWatcher).where(TicketWatcher.ticket_id == incident.id)).one()
    assert row.user_id == w.contact_a.id
    removed = client.submit(f"{watch}/{w.contact_a.id}/fjern", follow_redirects=False)
    assert removed.status_code == 303
    assert "Ingen observatører." in text(_page(client, incident.id))  # type: ignore[arg-type]


def test_time_entries(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    ticket = file_ticket(as_user(w.user_a))
    client: Browser = browser(w.agent)
    base = f"/arbeid/saker/{ticket.id}/timer"
    for minutes, billable in (("90", "on"), ("30", None)):
        data: dict[str, object] = {
            "work_date": "2026-03-02",
            "minutes": minutes,
            "work_type": "office_hours",
            "note": "Feilsøking",
        }
        if billable:
            data["billable"] = billable
        assert client.submit(base, data, follow_redirects=False).status_code == 303
    too_long = client.submit(base, {"work_date": "2026-03-02", "minutes": "2000"})
    assert too_long.status_code == 422
    shown = text(_page(client, ticket.id))  # type: ignore[arg-type]
    assert "Totalt 2:00 Fakturerbart: 1:30" in shown
    with make.session() as s:
        first, second = s.exec(select(TimeEntry).order_by(TimeEntry.id)).all()  # type: ignore[arg-type]
    edited = client.submit(
        f"{base}/{first.id}",
        {"work_date": "2026-03-02", "minutes": "60", "work_type": "after_hours", "billable": "on"},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert client.submit(f"{base}/{second.id}/slett", follow_redirects=False).status_code == 303
    # Invoiced: locked on the page and refused by the service.
    with make.session() as s:
        entry = s.get(TimeEntry, first.id)
        assert entry is not None and (entry.minutes, entry.work_type) == (60, "after_hours")
        entry.invoice_ref = "F-2026-0001"
        s.commit()
    page = text(_page(client, ticket.id))  # type: ignore[arg-type]
    assert "Fakturert (F-2026-0001), låst" in page and "Totalt 1:00" in page
    locked = client.submit(
        f"{base}/{first.id}",
        {"work_date": "2026-03-02", "minutes": "5", "work_type": "office_hours"},
    )
    assert locked.status_code == 422
    assert "Timeføringen er fakturert og kan ikke endres" in text(locked.text)
    assert client.submit(f"{base}/{first.id}/slett").status_code == 422
    # An entry of another ticket is not reachable through this ticket's address.
    other = file_ticket(as_user(w.user_a))
    agent = as_user(w.agent)
    theirs = timeentries.add(agent, other.id, TimeEntryIn(work_date="2026-03-03", minutes=5))  # type: ignore[arg-type]
    agent.commit()
    assert client.submit(f"{base}/{theirs.id}/slett").status_code == 404
