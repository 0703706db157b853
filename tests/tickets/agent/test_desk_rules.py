"""Issue 14 on the agent's ticket page: saving edits of a ticket filed in the portal (whose
category and description are empty), and the assignment rules (Assigned needs an assignee;
starting or resolving an unassigned ticket makes the acting agent its assignee)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import select

from fellesdrift.kernel.problems import Problem
from servicedesk.tickets.choices import Status
from servicedesk.tickets.models import Ticket, TicketEntry
from servicedesk.tickets.schemas import Transition
from servicedesk.tickets.service import catalogue, lifecycle
from servicedesk.tickets.service.catalogue import (
    CatalogueItemIn,
    FieldOption,
    FormField,
    RequestIn,
)
from tests.pages.helpers import text
from tests.support.fixtures import Browser
from tests.tickets.agent.conftest import Desk, assign, file_ticket, tid


def _fresh(make: Any, ticket_id: int) -> Ticket:
    with make.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def _edit_form(html: str) -> dict[str, str]:
    """The edit form's fields as the browser posts them (every input, empty ones too)."""
    form = re.search(r'<form[^>]*action="/arbeid/saker/\d+/endre".*?</form>', html, re.S)
    assert form, "the edit form is on the page"
    body = form.group(0)
    out: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', body):
        out[name] = value
    for name, inner in re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>(.*?)</textarea>', body, re.S):
        out[name] = inner
    for name, options in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', body, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        out[name] = chosen.group(1) if chosen else ""
    out.pop("csrf_token", None)
    out.pop("major", None)  # an unchecked checkbox is not posted
    return out


def test_an_agent_saves_a_portal_ticket_with_its_empty_fields(desk: Desk, browser, as_user, make):
    w = desk.world
    ticket = file_ticket(as_user(w.user_a), description="")  # as the portal files it
    client: Browser = browser(w.agent)
    form = _edit_form(client.get(f"/arbeid/saker/{ticket.id}").text)
    assert form["category"] == "" and form["description"] == ""
    saved = client.submit(
        f"/arbeid/saker/{ticket.id}/endre",
        form | {"assignee_id": str(w.agent.id)},
        follow_redirects=False,
    )
    assert saved.status_code == 303, text(saved.text)
    fresh = _fresh(make, tid(ticket))
    assert (fresh.assignee_id, fresh.status, fresh.category) == (w.agent.id, "assigned", "")
    # An emptied title is refused on its field, in the page's language.
    empty = client.submit(
        f"/arbeid/saker/{ticket.id}/endre", form | {"version": str(fresh.version), "title": ""}
    )
    assert empty.status_code == 422
    assert re.search(r'id="edit-title"[^>]*aria-invalid="true"', empty.text)
    assert "null" not in text(empty.text).lower()
    client.submit("/sprak", {"lang": "en", "next": "/arbeid"})
    english = client.submit(
        f"/arbeid/saker/{ticket.id}/endre", form | {"version": str(fresh.version), "title": ""}
    )
    assert english.status_code == 422 and "Kategori" not in english.text
    assert re.search(r'id="edit-title"[^>]*aria-invalid="true"', english.text)
    assert "null" not in text(english.text).lower()


def test_assigned_needs_an_assignee(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    ticket = file_ticket(as_user(w.user_a))
    client: Browser = browser(w.agent)
    refused = client.submit(
        f"/arbeid/saker/{ticket.id}/status", {"version": "1", "status": "assigned"}
    )
    assert refused.status_code == 422
    shown = text(refused.text)
    assert "Velg en saksbehandler før saken settes til Tildelt" in shown
    assert re.search(r'id="edit-assignee-id"[^>]*aria-invalid="true"', refused.text)
    assert _fresh(make, tid(ticket)).status == "new"
    # The API says the same, naming the field.
    agent = as_user(w.agent)
    with pytest.raises(Problem) as refusal:
        lifecycle.transition(agent, tid(ticket), Transition(version=1, status=Status.ASSIGNED))
    assert [e.field for e in refusal.value.errors] == ["assignee_id"]
    agent.rollback()
    # With an assignee it is Assigned; taking the assignee away makes it New again.
    assign(agent, ticket, assignee_id=w.agent2.id)
    assert _fresh(make, tid(ticket)).status == "assigned"
    assign(agent, ticket, assignee_id=None)
    assert _fresh(make, tid(ticket)).status == "new"


def test_resolving_an_unassigned_ticket_assigns_the_resolver(desk: Desk, browser, as_user, make):
    w = desk.world
    ticket = file_ticket(as_user(w.user_a))
    client: Browser = browser(w.agent2)
    done = client.submit(
        f"/arbeid/saker/{ticket.id}/status",
        {"version": "1", "status": "resolved", "resolution": "Startet skriveren på nytt"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    fresh = _fresh(make, tid(ticket))
    assert (fresh.status, fresh.assignee_id) == ("resolved", w.agent2.id)
    with make.session() as s:
        changes = [
            e.change
            for e in s.exec(select(TicketEntry).where(TicketEntry.ticket_id == ticket.id))
            if e.change.get("field") == "assignee_id"
        ]
    assert changes == [{"field": "assignee_id", "old": None, "new": w.agent2.id}]
    page = text(client.get(f"/arbeid/saker/{ticket.id}").text)
    assert "Saksbehandler: Agent2" in page or "Saksbehandler Agent2" in page


def test_the_agent_sees_the_answers_of_an_order(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    item = make.run(
        catalogue.create_item,
        CatalogueItemIn(
            key="tilgang-sak",
            name="Tilgang til sakssystemet",
            name_en="Access to the case system",
            category="Brukere og tilgang",
            fields=[
                FormField(name="who", label="Hvem", label_en="Who", required=True),
                FormField(
                    name="level",
                    label="Tilgangsnivå",
                    label_en="Access level",
                    type="select",
                    required=True,
                    options=[
                        FieldOption(value="read", label="Lesetilgang", label_en="Read"),
                        FieldOption(value="write", label="Skrivetilgang", label_en="Write"),
                    ],
                ),
            ],
        ),
    )
    anne = as_user(w.user_a)
    ticket = catalogue.order(
        anne, tid(item), RequestIn(form_data={"who": "Per Hansen", "level": "write"})
    )
    anne.commit()
    client: Browser = browser(w.agent)
    shown = text(client.get(f"/arbeid/saker/{ticket.id}").text)
    assert "Bestilling: Tilgang til sakssystemet" in shown
    assert "Tilgangsnivå Skrivetilgang" in shown and "Hvem Per Hansen" in shown
    client.submit("/sprak", {"lang": "en", "next": "/arbeid"})
    english = text(client.get(f"/arbeid/saker/{ticket.id}").text)
    assert "Order: Access to the case system" in english and "Access level Write" in english


def test_assign_to_me_and_the_system_picker(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    ticket = file_ticket(as_user(w.user_a))
    client: Browser = browser(w.agent2)
    html = client.get(f"/arbeid/saker/{ticket.id}").text
    assert "Ta saken" in text(html)
    taken = client.submit(
        f"/arbeid/saker/{ticket.id}/ta-saken", {"version": "1"}, follow_redirects=False
    )
    assert taken.status_code == 303
    fresh = _fresh(make, tid(ticket))
    assert (fresh.assignee_id, fresh.status) == (w.agent2.id, "assigned")
    assert "Ta saken" not in text(client.get(f"/arbeid/saker/{ticket.id}").text)
    # Systems are chosen from a list of the register's systems, not typed as keys.
    html = client.get(f"/arbeid/saker/{ticket.id}").text
    picker = re.search(r'<select id="edit-ci-ids" name="ci_ids" multiple.*?</select>', html, re.S)
    assert picker and f'<option value="{w.shared.id}">E-post (epost)</option>' in picker.group(0)
    form = _edit_form(html) | {"ci_picker": "1"}
    form.pop("ci_ids", None)
    chosen = client.submit(
        f"/arbeid/saker/{ticket.id}/endre",
        form | {"ci_ids": str(w.shared.id)},
        follow_redirects=False,
    )
    assert chosen.status_code == 303, re.findall(r"Noe må rettes opp.{0,300}", text(chosen.text))
    page = client.get(f"/arbeid/saker/{ticket.id}").text
    assert f'<option value="{w.shared.id}" selected>E-post (epost)</option>' in page
    assert "Berørte systemer E-post" in text(page)
    cleared = client.submit(
        f"/arbeid/saker/{ticket.id}/endre",
        form | {"version": str(_fresh(make, tid(ticket)).version)},
        follow_redirects=False,
    )
    assert cleared.status_code == 303
    assert "Berørte systemer Ingen" in text(client.get(f"/arbeid/saker/{ticket.id}").text)


def test_an_agent_files_a_ticket_for_a_caller(desk: Desk, browser, make) -> None:
    w = desk.world
    client: Browser = browser(w.agent)
    assert 'href="/arbeid/saker/ny"' in client.get("/arbeid").text
    form = client.get("/arbeid/saker/ny").text
    assert '<option value="anne">' in form and 'list="people"' in form
    missing = client.submit(
        "/arbeid/saker/ny", {"requester": "ingen-slik", "title": "Skriveren", "channel": "phone"}
    )
    assert missing.status_code == 422
    assert "Finner ingen aktiv person med dette brukernavnet" in text(missing.text)
    assert re.search(r'id="requester"[^>]*aria-invalid="true"', missing.text)
    filed = client.submit(
        "/arbeid/saker/ny",
        {
            "requester": "anne",
            "channel": "phone",
            "type": "incident",
            "title": "Får ikke logget inn",
            "description": "Ringte fra legevakten",
            "impact": "3",
            "urgency": "2",
            "ci_ids": str(w.shared.id),
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303
    ticket_id = int(re.findall(r"/arbeid/saker/(\d+)", filed.headers["location"])[0])
    ticket = _fresh(make, ticket_id)
    assert (ticket.requester_id, ticket.kommune_id, ticket.created_by_id) == (
        w.user_a.id,
        w.a.id,
        w.agent.id,
    )
    page = text(client.get(f"/arbeid/saker/{ticket_id}").text)
    assert "Kanal Telefon" in page and "Innmelder Anne" in page and "E-post" in page
    # The caller follows it in the portal.
    assert "Får ikke logget inn" in browser(w.user_a).get("/saker").text
