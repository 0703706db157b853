"""The portal's lists and the access matrix: every portal route for every role, with tickets
of the person's own kommune and of another kommune."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from servicedesk.tickets.models import Attachment, Ticket
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import attachments, catalogue, core
from tests.tickets.conftest import World
from tests.tickets.portal.conftest import Catalogue
from tests.tickets.portal.helpers import ident, page, text


def _file(as_user, user, title: str, **kw) -> Ticket:
    session = as_user(user)
    ticket = core.create_ticket(session, TicketCreate(title=title, **kw))
    session.commit()
    return ticket


def test_mine_shared_and_the_whole_kommune(world: World, browser, as_user) -> None:
    mine = _file(as_user, world.user_a, "Annes sak")
    colleague = _file(as_user, world.contact_a, "Kontaktens sak")
    _file(as_user, world.contact_a, "Delt med Anne", watcher_ids=[world.user_a.id])
    other = _file(as_user, world.user_b, "Betas sak")
    anne = browser(world.user_a)
    html = page(anne.get("/saker"), "Mine saker")
    shown = text(html)
    assert "Annes sak" in shown and "Delt med Anne" in shown
    assert "Kontaktens sak" not in shown and "Betas sak" not in shown
    assert "<caption>" in html and 'scope="col"' in html and 'scope="row"' in html
    assert "Hele kommunen" not in shown
    # An end user asking for the kommune view gets their own list.
    assert "Kontaktens sak" not in anne.get("/saker?vis=kommune").text
    contact = browser(world.contact_a)
    shown = text(page(contact.get("/saker?vis=kommune"), "Mine saker"))
    assert {"Annes sak", "Kontaktens sak", "Delt med Anne"} <= set(
        t for t in ("Annes sak", "Kontaktens sak", "Delt med Anne") if t in shown
    )
    assert "Betas sak" not in shown and "Meldt av" in shown and "Anne" in shown
    assert mine.id and colleague.id and other.id


def test_status_filter_and_keyset_pages(world: World, browser, as_user) -> None:
    session = as_user(world.user_a)
    for n in range(30):
        core.create_ticket(session, TicketCreate(title=f"Sak nummer {n:02d}"))
    session.commit()
    anne = browser(world.user_a)
    html = page(anne.get("/saker"))
    shown = text(html)
    assert "Sak nummer 29" in shown and "Sak nummer 05" in shown  # newest first, 25 a page
    assert "Sak nummer 04" not in shown
    nxt = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    shown = text(page(anne.get(nxt)))
    assert "Sak nummer 04" in shown and "Sak nummer 00" in shown and "Sak nummer 29" not in shown
    assert "Ingen saker å vise." in text(page(anne.get("/saker?status=done")))


def test_start_page_links_to_the_portal(world: World, items: Catalogue, browser, as_user) -> None:
    _file(as_user, world.user_a, "Åpen sak på forsiden")
    anne = browser(world.user_a)
    shown = text(page(anne.get("/")))
    assert "Brukerstøtte" in shown and "Ny sak" in shown and "Åpen sak på forsiden" in shown
    assert "Godkjenninger som venter" not in shown
    session = as_user(world.user_a)
    catalogue.order(
        session,
        ident(items.access),
        catalogue.RequestIn(form_data={"for_whom": "Anne", "level": "read"}),
    )
    session.commit()
    assert "Godkjenninger som venter (1)" in text(browser(world.owner).get("/").text)


# ---- the matrix ----------------------------------------------------------------------------------

ROLES = ("requester", "colleague", "contact", "other_kommune", "other_contact", "agent", "owner")


@pytest.fixture
def cast(world: World, make) -> dict[str, Any]:
    return {
        "requester": world.user_a,
        "colleague": make.user(world.a, username="kollega-a"),
        "contact": world.contact_a,
        "other_kommune": world.user_b,
        "other_contact": make.user(world.b, "end_user", "kommune_contact", username="kontakt-b"),
        "agent": world.agent,
        "owner": world.owner,  # systemeier of the shared system, employee of kommune A
    }


#: Who sees a TLP:AMBER ticket of kommune A on no system: the requester, the kommune's
#: contact and the drift unit.
SEES = {"requester", "contact", "agent"}


def test_every_portal_route_for_every_role(
    world: World, browser, as_user, make, cast, settings
) -> None:
    ticket = _file(as_user, world.user_a, "Sak i matrisen")
    session = as_user(world.user_a)
    session.info["settings"] = settings  # store the file where the app looks for it
    att = attachments.store(session, ident(ticket), "logg.txt", b"hei")
    session.commit()
    for role in ROLES:
        client = browser(cast[role])
        for path in (
            "/saker",
            "/saker?vis=kommune",
            "/saker/ny",
            "/saker/ny/feil",
            "/godkjenninger",
            "/",
        ):
            assert client.get(path).status_code == 200, (role, path)
        listed = (
            "Sak i matrisen"
            in client.get("/saker?vis=kommune&status=all").text
            + client.get("/saker?status=all").text
        )
        assert listed == (role in {"requester", "contact"}), role  # the agent has no portal list
        expected = 200 if role in SEES else 404
        for path in (
            f"/saker/{ticket.id}",
            f"/saker/{ticket.id}/mottatt",
            f"/saker/{ticket.id}/vedlegg/{att.id}",
        ):
            assert client.get(path).status_code == expected, (role, path)
        if role not in SEES:
            version = str(make.run(lambda s: s.get(Ticket, ticket.id).version))
            for path, data in (
                (f"/saker/{ticket.id}/svar", {"body": "hei", "version": version}),
                (f"/saker/{ticket.id}/status", {"target": "cancelled", "version": version}),
                (f"/saker/{ticket.id}/vurdering", {"rating": "5", "version": version}),
                (f"/saker/{ticket.id}/deling", {"user": cast[role].username}),
                (f"/saker/{ticket.id}/deling/{world.user_a.id}/fjern", {}),
            ):
                assert client.submit(path, data).status_code == 404, (role, path)
    with make.session() as s:
        t = s.get(Ticket, ticket.id)
        assert t is not None and t.status == "new" and t.rating is None
        assert len(s.exec(select(Attachment)).all()) == 1


def test_signed_out_visitors_are_sent_to_sign_in(browser) -> None:
    anon = browser()
    for path in (
        "/saker",
        "/saker/ny",
        "/saker/ny/feil",
        "/saker/1",
        "/saker/1/vedlegg/1",
        "/godkjenninger",
    ):
        response = anon.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/logg-inn")


def test_forms_need_the_csrf_token(world: World, browser, as_user) -> None:
    ticket = _file(as_user, world.user_a, "Sak")
    anne = browser(world.user_a)
    anne.headers.pop("X-CSRF-Token", None)
    for path in (
        "/saker/ny/feil",
        f"/saker/{ticket.id}/svar",
        f"/saker/{ticket.id}/status",
        "/godkjenninger/1",
    ):
        assert anne.post(path, data={"body": "x", "title": "Tittel"}).status_code == 403, path
    response = anne.post(
        f"/saker/{ticket.id}/svar",
        data={"body": "x"},
        files=[("files", ("a.txt", b"hei", "text/plain"))],
    )
    assert response.status_code == 403


def test_every_portal_page_in_english(world: World, items: Catalogue, browser, as_user) -> None:
    session = as_user(world.user_a)
    request = catalogue.order(
        session,
        ident(items.access),
        catalogue.RequestIn(form_data={"for_whom": "A", "level": "read"}),
    )
    session.commit()
    owner = browser(world.owner)
    owner.submit("/sprak", {"lang": "en", "next": "/"})
    html = page(owner.get("/godkjenninger"), "Approvals")
    assert "Approve" in html and "Access level" in html
    anne = browser(world.user_a)
    anne.submit("/sprak", {"lang": "en", "next": "/"})
    page(anne.get("/saker"), "My tickets")
    page(anne.get("/saker/ny"), "New ticket")
    page(anne.get(f"/saker/ny/bestilling/{items.access.id}"), "Order access")
    page(anne.get(f"/saker/{request.id}/mottatt"), f"Ticket {request.id} received")
    html = page(anne.get(f"/saker/{request.id}"), f"Ticket {request.id}: Bestilling access: A")
    assert "Waiting for approval" in html and "P3 – medium" in html
    assert "Hei" not in text(page(anne.get("/")))
