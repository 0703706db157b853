"""Kommuner and sites pages: who sees what, forms that create and edit, errors in Norwegian."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from register.models import Kommune, KommuneContact, Site
from tests.pages.conftest import World, no_csrf
from tests.pages.helpers import (
    assert_page,
    error_summary,
    field_error,
    input_value,
    text,
    title,
)
from tests.support.factories import Factory, valid_orgnr


def _kommuner(make: Factory) -> list[Kommune]:
    with make.session() as s:
        return list(s.exec(select(Kommune).order_by(col(Kommune.id))))


# ---- reading ----------------------------------------------------------------------------------


def test_admin_sees_every_kommune_with_edit_controls(world: World, browser) -> None:
    b = browser(world.admin)
    html = assert_page(b.get("/kommuner"), "Kommuner")
    assert "Lillesand" in html and "Birkenes" in html
    assert 'href="/kommuner/ny"' in html
    assert "<caption>" in html and 'scope="col"' in html
    assert title(html) == "Kommuner – fellesdrift"

    html = assert_page(b.get(f"/kommuner/{world.lillesand.id}"), "Lillesand")
    page = text(html)
    assert "Kontaktpersoner" in page and "Rådhuset" in page and "Historikk" in page
    assert f'href="/kommuner/{world.lillesand.id}/rediger"' in html
    assert f'href="/kommuner/{world.lillesand.id}/avslutt"' in html


def test_kommune_user_sees_only_their_own_kommune(world: World, browser) -> None:
    b = browser(world.end_user)
    html = assert_page(b.get("/kommuner"), "Kommuner")
    assert "Lillesand" in html and "Birkenes" not in html
    assert 'href="/kommuner/ny"' not in html

    html = assert_page(b.get(f"/kommuner/{world.lillesand.id}"), "Lillesand")
    assert "/rediger" not in html and "/kontakter/ny" not in html

    for path in (
        f"/kommuner/{world.birkenes.id}",
        f"/kommuner/{world.birkenes.id}/lokasjoner",
        f"/kommuner/{world.birkenes.id}/rediger",
        f"/lokasjoner/{world.skolen.id}/rediger",
    ):
        assert_page(b.get(path), "Fant ikke siden", 404)
    assert_page(b.get(f"/kommuner/{world.lillesand.id}/rediger"), "Ingen tilgang", 403)
    assert_page(b.get(f"/kommuner/{world.lillesand.id}/lokasjoner/ny"), "Ingen tilgang", 403)


def test_kommune_list_filters_and_searches(world: World, make: Factory, browser) -> None:
    make.kommune("Søgne", slug="sogne", valid_to=date(2019, 12, 31))
    b = browser(world.admin)
    html = b.get("/kommuner?status=ended").text
    assert "Søgne" in html and "Lillesand" not in html
    assert "Avsluttet 2019-12-31" in text(html)
    html = b.get("/kommuner?q=birk").text
    assert "Birkenes" in html and "Lillesand" not in html


# ---- kommune forms ----------------------------------------------------------------------------


def test_admin_creates_a_kommune(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    assert_page(b.get("/kommuner/ny"), "Ny kommune")
    response = b.submit(
        "/kommuner/ny",
        {
            "name": "Vennesla",
            "slug": "vennesla",
            "kommunenummer": "4223",
            "orgnr": valid_orgnr(4223),
            "inhabitants": "15000",
            "inhabitants_date": "2026-01-01",
            "invoice_email": "faktura@vennesla.kommune.no",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    created = next(k for k in _kommuner(make) if k.slug == "vennesla")
    assert response.headers["location"] == f"/kommuner/{created.id}?ok=created"
    html = assert_page(b.get(response.headers["location"]), "Vennesla")
    assert 'role="status"' in html and "Opprettet." in text(html)
    assert created.inhabitants == 15000 and created.invoice_email == "faktura@vennesla.kommune.no"


def test_invalid_kommune_shows_norwegian_errors_and_stores_nothing(
    world: World, make: Factory, browser
) -> None:
    before = len(_kommuner(make))
    b = browser(world.admin)
    response = b.submit(
        "/kommuner/ny",
        {
            "name": "",
            "slug": "Ny Kommune",
            "kommunenummer": "0012",
            "orgnr": "123",
            "inhabitants": "mange",
            "city": "Vennesla",
        },
    )
    html = assert_page(response, "Ny kommune", 422)
    assert title(html).startswith("Feil:")
    summary = error_summary(html)
    assert "Navn: må fylles ut" in summary
    assert "Organisasjonsnummer: må være nøyaktig 9 sifre" in summary
    assert "Kommunenummer: fylkesdelen (de to første sifrene) kan ikke være 00" in summary
    assert field_error(html, "inhabitants") == "Feil: Må være et helt tall"
    assert field_error(html, "slug").startswith("Feil: Kan bare inneholde a–z")
    assert '<a href="#orgnr">' in html
    # What was typed is kept.
    assert input_value(html, "orgnr") == "123"
    assert input_value(html, "city") == "Vennesla"
    assert len(_kommuner(make)) == before


def test_duplicate_orgnr_is_an_error_on_the_field(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    response = b.submit(
        "/kommuner/ny",
        {"name": "Kopi", "slug": "kopi", "kommunenummer": "4299", "orgnr": world.lillesand.orgnr},
    )
    html = assert_page(response, "Ny kommune", 422)
    assert field_error(html, "orgnr") == "Feil: Er allerede brukt av en annen kommune"
    assert not any(k.slug == "kopi" for k in _kommuner(make))


def test_admin_edits_a_kommune(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    path = f"/kommuner/{world.lillesand.id}/rediger"
    html = assert_page(b.get(path), "Endre Lillesand")
    assert input_value(html, "name") == "Lillesand"
    response = b.submit(
        path,
        {
            "name": "Lillesand kommune",
            "inhabitants": "11500",
            "inhabitants_date": "2026-01-01",
            "buyer_reference": "IT-1234",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/kommuner/{world.lillesand.id}?ok=saved"
    html = assert_page(b.get(response.headers["location"]), "Lillesand kommune")
    assert "Endringene er lagret." in text(html) and "IT-1234" in html


def test_inhabitants_without_a_date_is_refused(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    response = b.submit(
        f"/kommuner/{world.lillesand.id}/rediger",
        {"name": "Nytt navn", "inhabitants": "500", "inhabitants_date": ""},
    )
    html = assert_page(response, "Endre Lillesand", 422)
    assert field_error(html, "inhabitants-date") == (
        "Feil: Oppgi hvilken dato innbyggertallet gjelder"
    )
    with make.session() as s:
        assert s.get(Kommune, world.lillesand.id).name == "Lillesand"  # type: ignore[union-attr]


def test_only_admins_edit_kommuner(world: World, browser) -> None:
    b = browser(world.contact)
    response = b.submit(f"/kommuner/{world.lillesand.id}/rediger", {"name": "Hacket"})
    assert_page(response, "Ingen tilgang", 403)
    agent = browser(world.agent)
    assert_page(agent.get("/kommuner/ny"), "Ingen tilgang", 403)


def test_merger_shows_history_on_both_sides(world: World, make: Factory, browser) -> None:
    songdalen = make.kommune("Songdalen")
    b = browser(world.admin)
    html = assert_page(b.get(f"/kommuner/{songdalen.id}/avslutt"), "Avslutt Songdalen")
    assert f'<option value="{world.lillesand.id}">Lillesand</option>' in html
    response = b.submit(
        f"/kommuner/{songdalen.id}/avslutt",
        {"valid_to": "2019-12-31", "successor_id": str(world.lillesand.id)},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/kommuner/{songdalen.id}?ok=ended"
    page = text(b.get(response.headers["location"]).text)
    assert "Kommunen er avsluttet." in page
    assert "Gikk 2019-12-31 inn i Lillesand" in page
    page = text(b.get(f"/kommuner/{world.lillesand.id}").text)
    assert "Overtok 2019-12-31 etter Songdalen" in page

    # The successor's people now see the ended kommune's page.
    contact = browser(world.contact)
    assert_page(contact.get(f"/kommuner/{songdalen.id}"), "Songdalen")


def test_ending_before_the_start_is_refused(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    response = b.submit(
        f"/kommuner/{world.birkenes.id}/avslutt",
        {"valid_to": "1999-01-01", "successor_id": ""},
    )
    html = assert_page(response, "Avslutt Birkenes", 422)
    assert field_error(html, "valid-to") == "Feil: Er før datoen kommunen ble opprettet"
    assert input_value(html, "valid-to") == "1999-01-01"
    with make.session() as s:
        assert s.get(Kommune, world.birkenes.id).valid_to is None  # type: ignore[union-attr]


# ---- contacts ---------------------------------------------------------------------------------


def test_kommune_contact_adds_and_removes_contacts(world: World, make: Factory, browser) -> None:
    b = browser(world.contact)
    path = f"/kommuner/{world.lillesand.id}/kontakter/ny"
    assert_page(b.get(path), "Ny kontaktperson i Lillesand")
    response = b.submit(path, {"kind": "", "name": ""})
    html = assert_page(response, "Ny kontaktperson i Lillesand", 422)
    assert field_error(html, "kind") == "Feil: Må fylles ut"
    assert field_error(html, "name") == "Feil: Må fylles ut"

    response = b.submit(
        path,
        {"kind": "leadership", "name": "Rådmann Rask", "email": "raadmann@lillesand.no"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = text(b.get(response.headers["location"]).text)
    assert "Rådmann Rask" in page and "Ledelse" in page and "Lagt til." in page

    with make.session() as s:
        contact = s.exec(select(KommuneContact)).one()
    response = b.submit(f"/kontakter/{contact.id}/slett", follow_redirects=False)
    assert response.headers["location"] == f"/kommuner/{world.lillesand.id}?ok=removed"
    assert "Rådmann Rask" not in b.get(f"/kommuner/{world.lillesand.id}").text


def test_kommune_contact_cannot_touch_another_kommune(world: World, browser) -> None:
    b = browser(world.contact)
    response = b.submit(
        f"/kommuner/{world.birkenes.id}/kontakter/ny", {"kind": "it", "name": "Inntrenger"}
    )
    assert_page(response, "Fant ikke siden", 404)
    end_user = browser(world.end_user)
    response = end_user.submit(
        f"/kommuner/{world.lillesand.id}/kontakter/ny", {"kind": "it", "name": "X"}
    )
    assert_page(response, "Ingen tilgang", 403)


# ---- sites ------------------------------------------------------------------------------------


def _sites(make: Factory, kommune: Kommune) -> dict[str, Site]:
    with make.session() as s:
        return {x.code: x for x in s.exec(select(Site).where(Site.kommune_id == kommune.id))}


def test_kommune_contact_manages_sites(world: World, make: Factory, browser) -> None:
    b = browser(world.contact)
    base = f"/kommuner/{world.lillesand.id}/lokasjoner"
    html = assert_page(b.get(base), "Lokasjoner og enheter i Lillesand")
    assert "Rådhuset" in html and f'href="{base}/ny"' in html

    response = b.submit(
        f"{base}/ny",
        {
            "code": "helse",
            "name": "Helse og omsorg",
            "kind": "org_unit",
            "parent_id": str(world.radhuset.id),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == f"{base}?ok=created"
    page = text(b.get(response.headers["location"]).text)
    assert "Helse og omsorg" in page and "Organisasjonsenhet" in page and "Opprettet." in page
    site = _sites(make, world.lillesand)["helse"]
    assert site.parent_id == world.radhuset.id

    # The same code twice in one kommune is refused on the code field.
    response = b.submit(f"{base}/ny", {"code": "helse", "name": "Dobbel", "kind": "site"})
    html = assert_page(response, "Ny lokasjon eller enhet i Lillesand", 422)
    assert field_error(html, "code") == "Feil: Finnes allerede i denne kommunen"
    assert input_value(html, "name") == "Dobbel"

    response = b.submit(
        f"/lokasjoner/{site.id}/rediger",
        {
            "name": "Helse, omsorg og velferd",
            "kind": "org_unit",
            "parent_id": "",
            "address": "Storgata 1",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == f"{base}?ok=saved"
    site = _sites(make, world.lillesand)["helse"]
    assert site.name == "Helse, omsorg og velferd" and site.parent_id is None


def test_a_site_cannot_be_its_own_parent_chain(world: World, make: Factory, browser) -> None:
    child = make.site(world.lillesand, "kjeller", parent_id=world.radhuset.id)
    b = browser(world.admin)
    response = b.submit(
        f"/lokasjoner/{world.radhuset.id}/rediger",
        {"name": "Rådhuset", "kind": "site", "parent_id": str(child.id)},
    )
    html = assert_page(response, "Endre Rådhuset", 422)
    assert field_error(html, "parent-id") == "Feil: Ville gitt en sirkel (en enhet under seg selv)"
    assert _sites(make, world.lillesand)["radhuset"].parent_id is None


def test_site_with_people_cannot_be_deleted(world: World, make: Factory, browser) -> None:
    make.user(world.lillesand, username="per", site_id=world.radhuset.id, password=None)
    empty = make.site(world.lillesand, "lager", name="Lageret")
    b = browser(world.contact)
    assert_page(b.get(f"/lokasjoner/{empty.id}/slett"), "Slett Lageret")

    response = b.submit(f"/lokasjoner/{world.radhuset.id}/slett")
    html = assert_page(response, "Slett Rådhuset", 409)
    assert "har fortsatt underenheter eller personer; flytt dem først" in error_summary(html)
    assert "radhuset" in _sites(make, world.lillesand)

    response = b.submit(f"/lokasjoner/{empty.id}/slett", follow_redirects=False)
    assert response.headers["location"].endswith("?ok=deleted")
    assert "lager" not in _sites(make, world.lillesand)


def test_forms_without_csrf_token_are_refused(world: World, make: Factory, browser) -> None:
    b = no_csrf(browser(world.admin))
    before = len(_kommuner(make))
    response = b.post(
        "/kommuner/ny",
        data={"name": "Uten", "slug": "uten", "kommunenummer": "4298", "orgnr": valid_orgnr(9)},
    )
    assert_page(response, "Skjemaet er utløpt", 403)
    assert len(_kommuner(make)) == before
    response = b.post(f"/lokasjoner/{world.radhuset.id}/slett", data={"csrf_token": "feil"})
    assert response.status_code == 403
    assert "radhuset" in _sites(make, world.lillesand)


def test_pages_switch_to_english(world: World, browser) -> None:
    b = browser(world.contact)
    b.submit("/sprak", {"lang": "en", "next": "/kommuner"})
    html = assert_page(
        b.get(f"/kommuner/{world.lillesand.id}/lokasjoner"), "Sites and units in Lillesand"
    )
    assert '<html lang="en">' in html
    response = b.submit(f"/kommuner/{world.lillesand.id}/lokasjoner/ny", {"code": "", "name": "X"})
    html = assert_page(response, "New site or unit in Lillesand", 422)
    assert field_error(html, "code") == "Error: Is required"
    assert title(html).startswith("Error:")


def test_sites_list_is_paged(world: World, make: Factory, browser) -> None:
    from register.schemas import SiteIn
    from register.service import kommuner

    with make.session() as s:
        for n in range(55):
            kommuner.create_site(
                s, SiteIn(kommune_id=world.birkenes.id or 0, code=f"s{n:02d}", name=f"Sted {n:02d}")
            )
        s.commit()
    b = browser(world.other_contact)
    html = b.get(f"/kommuner/{world.birkenes.id}/lokasjoner").text
    assert html.count('<th scope="row">') == 50
    next_link = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    html = b.get(next_link.replace("&amp;", "&")).text
    assert html.count('<th scope="row">') == 6  # 55 + the world's own school
    assert "Første side" in html and 'rel="next"' not in html
