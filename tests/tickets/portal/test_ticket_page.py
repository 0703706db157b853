"""One ticket in the portal: timeline, replies with files, downloads, the requester's buttons,
rating, sharing, optimistic locking, and text that stays text."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from servicedesk.tickets.choices import Status
from servicedesk.tickets.models import Attachment, Ticket, TicketEntry, TicketWatcher
from servicedesk.tickets.schemas import ReplyIn, TicketCreate, Transition
from servicedesk.tickets.service import core, lifecycle
from tests.tickets.conftest import World
from tests.tickets.portal.helpers import field_error, ident, page, text

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def _file(as_user, user, **kw) -> Ticket:
    session = as_user(user)
    ticket = core.create_ticket(session, TicketCreate(**({"title": "Skriveren virker ikke"} | kw)))
    session.commit()
    return ticket


def _version(make, ticket_id: int | None) -> str:
    return str(make.run(lambda s: s.get(Ticket, ticket_id).version))


def _resolve(as_user, agent, ticket_id: int | None, version: int) -> Ticket:
    assert ticket_id is not None
    session = as_user(agent)
    t = lifecycle.transition(
        session,
        ticket_id,
        Transition(version=version, status=Status.RESOLVED, resolution="Byttet toner"),
    )
    session.commit()
    return t


def test_the_requester_sees_the_public_timeline(world: World, browser, as_user) -> None:
    ticket = _file(as_user, world.user_a, description="Den blinker rødt")
    agent = as_user(world.agent)
    lifecycle.reply(agent, ident(ticket), ReplyIn(body="Har du prøvd å slå den av og på?"))
    lifecycle.reply(agent, ident(ticket), ReplyIn(body="Intern: toner tom", public=False))
    agent.commit()
    html = page(
        browser(world.user_a).get(f"/saker/{ticket.id}"), f"Sak {ticket.id}: Skriveren virker ikke"
    )
    shown = text(html)
    assert "Den blinker rødt" in shown and "Har du prøvd å slå den av og på?" in shown
    assert "Agent1 (driftsenheten)" in shown
    assert "Intern: toner tom" not in html
    assert "Saken ble opprettet." in shown
    assert "P3 – middels" in shown and "TLP:AMBER" in shown and "Ny" in shown
    assert 'id="reply-body"' in html and 'enctype="multipart/form-data"' in html
    assert "Trekk tilbake saken" in shown


def test_reply_with_a_file_and_download_it(world: World, browser, as_user, make) -> None:
    ticket = _file(as_user, world.user_a)
    anne = browser(world.user_a)
    response = anne.submit(
        f"/saker/{ticket.id}/svar",
        {"body": "Her er en logg", "version": _version(make, ticket.id)},
        files=[("files", ("feilmelding æøå.pdf", PDF, "application/pdf"))],
    )
    html = page(response)
    assert "Svaret ditt er sendt." in html and "Her er en logg" in html
    with make.session() as s:
        row = s.exec(select(Attachment)).one()
        reply = s.exec(select(TicketEntry).where(TicketEntry.body == "Her er en logg")).one()
    assert row.entry_id == reply.id  # the file belongs to the reply
    link = f"/saker/{ticket.id}/vedlegg/{row.id}"
    assert f'href="{link}"' in html
    download = anne.get(link)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        'attachment; filename="feilmelding ___.pdf"; '
        "filename*=UTF-8''feilmelding%20%C3%A6%C3%B8%C3%A5.pdf"
    )
    # The agent sees it too; another kommune's employee gets 404, as for an unknown id.
    assert browser(world.agent).get(link).status_code == 200
    bjorn = browser(world.user_b)
    assert bjorn.get(link).status_code == 404
    assert bjorn.get(f"/saker/{ticket.id}/vedlegg/99999").status_code == 404
    # An attachment id under another ticket's number is not served either.
    other = _file(as_user, world.user_a, title="Annen sak")
    assert anne.get(f"/saker/{other.id}/vedlegg/{row.id}").status_code == 404


def test_another_kommune_gets_404_and_nothing_in_the_list(world: World, browser, as_user) -> None:
    ticket = _file(as_user, world.user_a, title="Hemmelig sak i Alfa")
    bjorn = browser(world.user_b)
    for path in (f"/saker/{ticket.id}", f"/saker/{ticket.id}/mottatt"):
        assert bjorn.get(path).status_code == 404
    for path, data in (
        (f"/saker/{ticket.id}/svar", {"body": "hei", "version": "1"}),
        (f"/saker/{ticket.id}/status", {"target": "cancelled", "version": "1"}),
        (f"/saker/{ticket.id}/vurdering", {"rating": "1", "version": "1"}),
        (f"/saker/{ticket.id}/deling", {"user": "bjorn"}),
    ):
        assert bjorn.submit(path, data).status_code == 404, path
    for view in ("mine", "kommune"):
        assert "Hemmelig sak i Alfa" not in bjorn.get(f"/saker?vis={view}&status=all").text


def test_html_and_script_in_ticket_text_are_shown_as_text(world: World, browser, make) -> None:
    anne = browser(world.user_a)
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    response = anne.submit(
        "/saker/ny/feil",
        {
            "title": f"Tittel {evil}",
            "description": f"Beskrivelse {evil}",
            "urgency": "3",
            "tlp": "amber",
        },
        follow_redirects=False,
    )
    number = int(response.headers["location"].split("/")[2])
    anne.submit(
        f"/saker/{number}/svar", {"body": f"Svar {evil}", "version": _version(make, number)}
    )
    for path in (f"/saker/{number}", "/saker", f"/saker/{number}/mottatt", "/"):
        html = anne.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html, path
    html = anne.get(f"/saker/{number}").text
    assert html.count("&lt;script&gt;") >= 3  # title, description, reply
    # Invalid input shown again is escaped as well.
    html = anne.submit("/saker/ny/feil", {"title": evil, "description": ""}).text
    assert "<script>alert" not in html and 'value="&lt;script&gt;' in html


def test_a_reply_from_a_page_opened_before_news_arrived_is_kept(
    world: World, browser, as_user, make
) -> None:
    """Replies are appended, so they never conflict: nobody's text is lost because someone
    else answered meanwhile (field edits are what optimistic locking guards)."""
    ticket = _file(as_user, world.user_a)
    anne = browser(world.user_a)
    seen = _version(make, ticket.id)
    agent = as_user(world.agent)
    lifecycle.reply(agent, ident(ticket), ReplyIn(body="Vi trenger PC-navnet ditt."))
    agent.commit()
    response = anne.submit(
        f"/saker/{ticket.id}/svar", {"body": "Min lange forklaring", "version": seen}
    )
    html = page(response)
    assert "Vi trenger PC-navnet ditt." in html and "Min lange forklaring" in html
    with make.session() as s:
        bodies = [
            e.body for e in s.exec(select(TicketEntry).where(TicketEntry.ticket_id == ticket.id))
        ]
    assert "Min lange forklaring" in bodies and "Vi trenger PC-navnet ditt." in bodies


def test_an_empty_reply_is_refused(world: World, browser, as_user, make) -> None:
    ticket = _file(as_user, world.user_a)
    anne = browser(world.user_a)
    html = page(
        anne.submit(
            f"/saker/{ticket.id}/svar", {"body": "  ", "version": _version(make, ticket.id)}
        ),
        status=422,
    )
    assert field_error(html, "reply-body") == "Feil: Skriv et svar eller legg ved en fil"


def test_withdraw(world: World, browser, as_user, make) -> None:
    ticket = _file(as_user, world.user_a)
    anne = browser(world.user_a)
    response = anne.submit(
        f"/saker/{ticket.id}/status",
        {"target": "cancelled", "comment": "Det ordnet seg", "version": _version(make, ticket.id)},
    )
    html = page(response)
    assert "Saken er trukket tilbake." in html and "Det ordnet seg" in html
    assert "Saken er avsluttet. Meld en ny sak" in html and 'id="reply-body"' not in html
    assert make.run(lambda s: s.get(Ticket, ticket.id).status) == "cancelled"
    # A stale button (an old tab) is a conflict, not a second change.
    response = anne.submit(f"/saker/{ticket.id}/status", {"target": "cancelled", "version": "1"})
    page(response, status=409)


def test_confirm_resolution_then_rate(world: World, browser, as_user, make) -> None:
    ticket = _file(as_user, world.user_a)
    _resolve(as_user, world.agent, ticket.id, ticket.version)
    anne = browser(world.user_a)
    html = page(anne.get(f"/saker/{ticket.id}"))
    shown = text(html)
    assert "Løsning Byttet toner" in shown
    assert "Bekreft at saken er løst" in shown and "Åpne saken igjen" in shown
    assert "Du kan åpne saken igjen fram til" in shown
    assert "<legend>Hvor fornøyd er du med hjelpen?" in html
    html = page(
        anne.submit(f"/saker/{ticket.id}/vurdering", {"version": _version(make, ticket.id)}),
        status=422,
    )
    assert field_error(html, "rate-rating") == "Feil: Velg en vurdering fra 1 til 5"
    response = anne.submit(
        f"/saker/{ticket.id}/vurdering",
        {"rating": "4", "comment": "Rask hjelp", "version": _version(make, ticket.id)},
    )
    html = page(response)
    assert "Takk for vurderingen!" in html and "Vurdering: 4 av 5" in html
    response = anne.submit(
        f"/saker/{ticket.id}/status", {"target": "closed", "version": _version(make, ticket.id)}
    )
    assert "Takk! Saken er lukket." in page(response)
    t = make.run(lambda s: s.get(Ticket, ticket.id))
    assert (t.status, t.rating, t.rating_comment) == ("closed", 4, "Rask hjelp")


def test_reopen_within_the_window_but_not_after(world: World, browser, as_user, make) -> None:
    ticket = _file(as_user, world.user_a)
    resolved = _resolve(as_user, world.agent, ticket.id, ticket.version)
    anne = browser(world.user_a)
    response = anne.submit(
        f"/saker/{ticket.id}/status",
        {"target": "in_progress", "comment": "Den blinker igjen", "version": str(resolved.version)},
    )
    html = page(response)
    assert "Saken er åpnet igjen" in html and "Den blinker igjen" in html
    again = _resolve(as_user, world.agent, ticket.id, int(_version(make, ticket.id)))

    def age(s) -> None:
        t = s.get(Ticket, ticket.id)
        t.resolved_at = t.resolved_at - timedelta(days=40)

    make.run(age)
    html = page(anne.get(f"/saker/{ticket.id}"))
    assert "Åpne saken igjen" not in html and "Bekreft at saken er løst" in html
    response = anne.submit(
        f"/saker/{ticket.id}/status",
        {"target": "in_progress", "version": _version(make, ticket.id)},
    )
    html = page(response, status=409)
    assert "Fristen for å åpne saken igjen er ute" in html
    assert again.status == "resolved"


def test_share_with_a_colleague(world: World, browser, as_user, make) -> None:
    colleague = make.user(
        world.a, username="kollega", full_name="Kari Kollega", email="kari@alfa.no"
    )
    ticket = _file(as_user, world.user_a, title="Delt sak")
    anne = browser(world.user_a)
    html = page(anne.submit(f"/saker/{ticket.id}/deling", {"user": "KARI@alfa.no"}))
    assert "Saken er delt." in html and "Kari Kollega" in html
    kari = browser(colleague)
    assert "Delt sak" in kari.get("/saker").text
    assert page(kari.get(f"/saker/{ticket.id}"))
    # Another kommune's employee cannot be named: the same answer as for nobody at all.
    for who in ("bjorn", "finnes-ikke"):
        html = page(anne.submit(f"/saker/{ticket.id}/deling", {"user": who}), status=422)
        assert field_error(html, "share-user").startswith("Feil: Finner ingen kollega")
    # A named agent of the drift unit can be brought in (the way to work under TLP:RED).
    page(anne.submit(f"/saker/{ticket.id}/deling", {"user": "agent2"}))
    watchers = make.run(lambda s: sorted(s.exec(select(TicketWatcher.user_id)).all()))
    assert watchers == sorted([colleague.id, world.agent2.id])
    # Unsharing.
    html = page(anne.submit(f"/saker/{ticket.id}/deling/{colleague.id}/fjern"))
    assert "ikke lenger delt" in html
    assert kari.get(f"/saker/{ticket.id}").status_code == 404


def test_red_ticket_shared_with_a_named_agent(world: World, browser, as_user, make) -> None:
    ticket = _file(as_user, world.user_a, title="Mistenkelig e-post", tlp="red")
    agent2 = browser(world.agent2)
    assert agent2.get(f"/saker/{ticket.id}").status_code == 404
    anne = browser(world.user_a)
    page(anne.submit(f"/saker/{ticket.id}/deling", {"user": "agent2@drift.no"}))
    assert page(agent2.get(f"/saker/{ticket.id}"))
    assert browser(world.agent).get(f"/saker/{ticket.id}").status_code == 404
