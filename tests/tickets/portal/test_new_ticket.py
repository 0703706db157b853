"""Filing a ticket in the portal: three steps, errors in Norwegian with the values kept, and
uploads that are checked before anything is stored."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from fellesdrift.kernel.settings import Settings
from servicedesk.tickets.models import Attachment, Ticket, TicketCI
from tests.support.factories import Factory
from tests.tickets.conftest import World
from tests.tickets.portal.conftest import UPLOAD_LIMIT, Catalogue
from tests.tickets.portal.helpers import error_summary, field_error, input_value, page, ticket_id

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GOOD = {
    "title": "Skriveren skriver ikke ut",
    "description": "Den blinker rødt.",
    "urgency": "2",
    "tlp": "amber",
}


def _tickets(make: Factory) -> list[Ticket]:
    with make.session() as s:
        return list(s.exec(select(Ticket)))


def _stored_files(settings: Settings) -> list[Path]:
    root = Path(settings.data_dir) / "attachments"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_three_steps_from_choice_to_receipt(world: World, items: Catalogue, browser, make) -> None:
    anne = browser(world.user_a)
    html = page(anne.get("/saker/ny"), "Ny sak")
    assert "Steg 1 av 3" in html and 'href="/saker/ny/feil"' in html
    assert f'href="/saker/ny/bestilling/{items.access.id}"' in html
    assert "Tilgang" in html  # the category heading
    html = page(anne.get("/saker/ny/feil"), "Meld feil")
    assert "Steg 2 av 3" in html
    assert 'id="tlp-amber" name="tlp" type="radio" value="amber" checked' in html
    assert "<legend>Hvor mye haster det?" in html
    assert "E-post" in html  # a system the kommune uses, to choose from

    response = anne.submit(
        "/saker/ny/feil",
        GOOD | {"ci_id": str(world.shared.id)},
        files=[("files", ("skjerm.png", PNG, "image/png"))],
        follow_redirects=False,
    )
    number = ticket_id(response)
    html = page(anne.get(f"/saker/{number}/mottatt"), f"Sak {number} er mottatt")
    assert "Steg 3 av 3" in html and 'role="status"' in html
    with make.session() as s:
        t = s.get(Ticket, number)
        assert t is not None
        assert (t.type, t.kommune_id, t.requester_id) == ("incident", world.a.id, world.user_a.id)
        assert (t.tlp, t.urgency, t.status) == ("amber", 2, "new")
        assert s.exec(select(TicketCI.ci_id).where(TicketCI.ticket_id == number)).all() == [
            world.shared.id
        ]
        assert [a.filename for a in s.exec(select(Attachment))] == ["skjerm.png"]


def test_invalid_input_is_shown_again_with_the_values_and_norwegian_errors(
    world: World, browser, make
) -> None:
    anne = browser(world.user_a)
    response = anne.submit(
        "/saker/ny/feil", {"title": "ab", "description": "", "urgency": "2", "tlp": "green"}
    )
    html = page(response, "Meld feil", status=422)
    assert "<title>Feil:" in html
    assert "Noe må rettes opp" in error_summary(html)
    assert field_error(html, "title") == "Feil: Må ha minst 3 tegn"
    assert field_error(html, "description") == "Feil: Må fylles ut"
    assert input_value(html, "title") == "ab"
    assert 'id="tlp-green" name="tlp" type="radio" value="green" checked' in html
    assert 'id="urgency-2" name="urgency" type="radio" value="2" checked' in html
    assert 'href="#title"' in html  # the summary links to the input
    assert _tickets(make) == []


def test_english_pages(world: World, browser) -> None:
    anne = browser(world.user_a)
    anne.submit("/sprak", {"lang": "en", "next": "/saker"})
    page(anne.get("/saker/ny/feil"), "Report a problem")
    html = page(anne.submit("/saker/ny/feil", {"title": "x"}), "Report a problem", status=422)
    assert field_error(html, "title") == "Error: Must have at least 3 characters"


def test_only_the_fields_of_the_form_are_taken(world: World, browser, make) -> None:
    """A forged form cannot make a major incident, pick the requester or a kommune."""
    anne = browser(world.user_a)
    forged = GOOD | {
        "major": "on",
        "requester_id": str(world.user_b.id),
        "kommune_id": str(world.b.id),
        "assignee_id": str(world.agent.id),
    }
    number = ticket_id(anne.submit("/saker/ny/feil", forged, follow_redirects=False))
    with make.session() as s:
        t = s.get(Ticket, number)
        assert t is not None
        assert (t.major, t.requester_id, t.kommune_id, t.assignee_id) == (
            False,
            world.user_a.id,
            world.a.id,
            None,
        )


def test_a_system_of_another_kommune_cannot_be_chosen(world: World, browser, make) -> None:
    theirs = make.ci(
        "beta-arkiv",
        name="Betas arkiv",
        kind="fagsystem",
        classification="virksomhetsspesifikt",
        owner_kommune_id=world.b.id,
    )
    anne = browser(world.user_a)
    assert "Betas arkiv" not in anne.get("/saker/ny/feil").text
    response = anne.submit("/saker/ny/feil", GOOD | {"ci_id": str(theirs.id)})
    page(response, "Meld feil", status=422)
    assert _tickets(make) == []


def test_oversized_upload_is_refused_with_the_limit_and_nothing_is_stored(
    world: World, browser, make, settings: Settings
) -> None:
    anne = browser(world.user_a)
    big = b"a" * (UPLOAD_LIMIT + 1)
    response = anne.submit(
        "/saker/ny/feil", GOOD, files=[("files", ("logg.txt", big, "text/plain"))]
    )
    html = page(response, "Meld feil", status=422)
    assert (
        field_error(html, "files")
        == "Feil: Filen «logg.txt» er for stor. Grensen er 64 kB per fil."
    )
    assert input_value(html, "title") == GOOD["title"]
    assert "Velg filene på nytt" in html
    assert _tickets(make) == [] and _stored_files(settings) == []


def test_disallowed_and_disguised_files_are_refused(
    world: World, browser, make, settings: Settings
) -> None:
    anne = browser(world.user_a)
    response = anne.submit(
        "/saker/ny/feil",
        GOOD,
        files=[("files", ("virus.exe", b"MZ\x90\x00", "application/octet-stream"))],
    )
    message = field_error(page(response, "Meld feil", status=422), "files")
    assert message.startswith(
        "Feil: Filtypen til «virus.exe» er ikke tillatt. Tillatte filtyper: .csv"
    )
    response = anne.submit(
        "/saker/ny/feil", GOOD, files=[("files", ("bilde.png", b"<html>", "image/png"))]
    )
    message = field_error(page(response, "Meld feil", status=422), "files")
    assert message == "Feil: Innholdet i «bilde.png» stemmer ikke med filtypen."
    files = [("files", (f"f{i}.txt", b"hei", "text/plain")) for i in range(6)]
    response = anne.submit("/saker/ny/feil", GOOD, files=files)
    message = field_error(page(response, "Meld feil", status=422), "files")
    assert message == "Feil: Du kan legge ved høyst 5 filer om gangen."
    assert _tickets(make) == [] and _stored_files(settings) == []


def test_a_file_name_with_path_parts_is_stored_under_a_generated_name(
    world: World, browser, make, settings: Settings
) -> None:
    anne = browser(world.user_a)
    response = anne.submit(
        "/saker/ny/feil",
        GOOD,
        files=[("files", ("../../etc/passwd.txt", b"root:x:0:0", "text/plain"))],
        follow_redirects=False,
    )
    number = ticket_id(response)
    with make.session() as s:
        row = s.exec(select(Attachment)).one()
    assert row.filename == "passwd.txt"
    stored = _stored_files(settings)
    assert [p.name for p in stored] == [row.stored_name]
    assert "passwd" not in row.stored_name and stored[0].read_bytes() == b"root:x:0:0"
    root = (Path(settings.data_dir) / "attachments").resolve()
    assert stored[0].resolve().is_relative_to(root)
    assert not (Path(settings.data_dir).parent / "etc").exists()
    html = page(anne.get(f"/saker/{number}"))
    assert ">passwd.txt</a>" in html and "../" not in html


def test_a_request_body_far_over_the_limit_is_refused_before_reading(
    world: World, browser, make
) -> None:
    anne = browser(world.user_a)
    huge = b"a" * (6 * UPLOAD_LIMIT + 3 * 1024 * 1024)
    response = anne.submit(
        "/saker/ny/feil", GOOD, files=[("files", ("stor.txt", huge, "text/plain"))]
    )
    html = page(response, "For stor forespørsel", status=413)
    assert "inntil 5 filer på høyst 64 kB hver" in html
    assert _tickets(make) == []
