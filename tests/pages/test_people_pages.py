"""Users, own profile and API tokens pages."""

from __future__ import annotations

from sqlalchemy import event
from sqlmodel import select

from register.models import ApiToken, User
from register.service import people
from tests.pages.conftest import World, no_csrf
from tests.pages.helpers import (
    assert_page,
    error_summary,
    field_error,
    input_value,
    text,
    title,
)
from tests.support.factories import PASSWORD, Factory


def _user(make: Factory, username: str) -> User | None:
    with make.session() as s:
        return s.exec(select(User).where(User.username == username)).first()


def _roles(make: Factory, user: User) -> list[str]:
    with make.session() as s:
        return people.roles_of(s, user.id)  # type: ignore[arg-type]


# ---- users list and detail --------------------------------------------------------------------


def test_admin_lists_users_with_filters(world: World, browser) -> None:
    b = browser(world.admin)
    html = assert_page(b.get("/brukere"), "Brukere")
    page = text(html)
    for name in ("Ada Admin", "Kari Kontakt", "Ola Nordmann", "Berit Birkenes"):
        assert name in page
    assert "Kommunekontakt" in page and 'href="/brukere/ny"' in html

    page = text(b.get(f"/brukere?kommune={world.birkenes.id}").text)
    assert "Berit Birkenes" in page and "Ola Nordmann" not in page
    page = text(b.get("/brukere?kommune=none").text)
    assert "Arne Agent" in page and "Kari Kontakt" not in page
    page = text(b.get("/brukere?role=kommune_contact").text)
    assert "Kari Kontakt" in page and "Ola Nordmann" not in page
    page = text(b.get("/brukere?q=nordm").text)
    assert "Ola Nordmann" in page and "Kari Kontakt" not in page


def test_users_list_is_paged_and_does_not_query_per_row(
    world: World, make: Factory, engine, browser
) -> None:
    for n in range(55):
        make.user(world.lillesand, username=f"ansatt{n:02d}", password=None)
    b = browser(world.admin)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        html = b.get("/brukere").text
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert html.count('<th scope="row">') == 50
    assert len(statements) < 12, statements  # the same few queries for 50 rows as for 1
    next_link = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    html = b.get(next_link.replace("&amp;", "&")).text
    assert html.count('<th scope="row">') == 5 + 5  # 60 users in all
    assert "Første side" in html


def test_kommune_contact_sees_own_kommune_users_read_only(world: World, browser) -> None:
    b = browser(world.contact)
    html = assert_page(b.get("/brukere"), "Brukere")
    page = text(html)
    assert "Ola Nordmann" in page and "Berit Birkenes" not in page and "Arne Agent" not in page
    assert 'href="/brukere/ny"' not in html
    html = assert_page(b.get(f"/brukere/{world.end_user.id}"), "Ola Nordmann")
    assert "/rediger" not in html and "Sluttbruker" in text(html)
    assert_page(b.get(f"/brukere/{world.other_contact.id}"), "Fant ikke siden", 404)
    assert_page(b.get(f"/brukere/{world.end_user.id}/rediger"), "Ingen tilgang", 403)
    assert_page(b.get("/brukere/ny"), "Ingen tilgang", 403)


def test_end_users_and_agents_have_no_user_list(world: World, browser) -> None:
    assert_page(browser(world.end_user).get("/brukere"), "Ingen tilgang", 403)
    assert_page(browser(world.agent).get("/brukere"), "Ingen tilgang", 403)


# ---- create and edit --------------------------------------------------------------------------


def test_admin_creates_a_user_with_roles(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    html = assert_page(b.get("/brukere/ny"), "Ny bruker")
    assert "<legend>Roller</legend>" in html and 'type="checkbox"' in html
    response = b.submit(
        "/brukere/ny",
        {
            "username": "Siri.S",
            "full_name": "Siri Systemeier",
            "email": "siri@lillesand.kommune.no",
            "kommune_id": str(world.lillesand.id),
            "site_id": str(world.radhuset.id),
            "roles": ["end_user", "systemeier"],
            "language": "nb",
            "active": "on",
            "password": "et langt nok passord",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    user = _user(make, "siri.s")
    assert user is not None and user.site_id == world.radhuset.id and user.active
    assert response.headers["location"] == f"/brukere/{user.id}?ok=created"
    page = text(b.get(response.headers["location"]).text)
    assert "Systemeier" in page and "Rådhuset" in page and "Opprettet." in page
    assert _roles(make, user) == ["end_user", "systemeier"]


def test_invalid_user_is_refused_in_norwegian(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    response = b.submit(
        "/brukere/ny",
        {
            "username": "nyperson",
            "full_name": "Ny Person",
            "kommune_id": str(world.lillesand.id),
            "roles": ["agent"],
            "language": "nb",
            "password": "kort",
        },
    )
    html = assert_page(response, "Ny bruker", 422)
    assert field_error(html, "password") == "Feil: Må ha minst 12 tegn"
    # Every problem is named at once, the roles' too.
    assert field_error(html, "roles") == (
        "Feil: Saksbehandler: er en rolle for ansatte i driftsenheten"
    )
    assert _user(make, "nyperson") is None

    response = b.submit(
        "/brukere/ny",
        {
            "username": "nyperson",
            "full_name": "Ny Person",
            "kommune_id": str(world.lillesand.id),
            "roles": ["agent"],
            "language": "nb",
        },
    )
    html = assert_page(response, "Ny bruker", 422)
    assert field_error(html, "roles") == (
        "Feil: Saksbehandler: er en rolle for ansatte i driftsenheten"
    )
    assert 'value="agent" checked' in html and input_value(html, "full-name") == "Ny Person"
    assert _user(make, "nyperson") is None

    response = b.submit(
        "/brukere/ny",
        {"username": "ola", "full_name": "Ola Igjen", "roles": ["agent"], "language": "nb"},
    )
    html = assert_page(response, "Ny bruker", 422)
    assert "Brukernavn: er allerede i bruk" in error_summary(html)


def test_admin_edits_roles_and_deactivates(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    path = f"/brukere/{world.end_user.id}/rediger"
    html = assert_page(b.get(path), "Endre Ola Nordmann")
    assert 'value="end_user" checked' in html
    assert 'value="agent"' not in html  # drift roles are not offered to a kommune's employee

    response = b.submit(
        path,
        {"full_name": "Ola Nordmann", "roles": [], "language": "nb", "active": "on"},
    )
    html = assert_page(response, "Endre Ola Nordmann", 422)
    assert field_error(html, "roles") == "Feil: Velg minst én rolle"
    assert _roles(make, world.end_user) == ["end_user"]

    response = b.submit(
        path,
        {
            "full_name": "Ola N. Nordmann",
            "roles": ["end_user", "kommune_contact"],
            "language": "en",
            "site_id": str(world.radhuset.id),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/brukere/{world.end_user.id}?ok=saved"
    user = _user(make, "ola")
    assert user is not None and not user.active and user.full_name == "Ola N. Nordmann"
    assert user.language == "en" and user.site_id == world.radhuset.id
    assert _roles(make, user) == ["end_user", "kommune_contact"]


def test_a_refused_edit_changes_nothing(world: World, make: Factory, browser) -> None:
    """The name is valid, the roles are not: neither is stored."""
    b = browser(world.admin)
    response = b.submit(
        f"/brukere/{world.end_user.id}/rediger",
        {"full_name": "Skulle ikke lagres", "roles": ["admin"], "language": "nb", "active": "on"},
    )
    assert response.status_code == 422
    user = _user(make, "ola")
    assert user is not None and user.full_name == "Ola Nordmann"


def test_admin_cannot_take_own_admin_role(world: World, make: Factory, browser) -> None:
    b = browser(world.admin)
    response = b.submit(
        f"/brukere/{world.admin.id}/rediger",
        {"full_name": "Ada Admin", "roles": ["agent"], "language": "nb", "active": "on"},
    )
    html = assert_page(response, "Endre Ada Admin", 422)
    assert field_error(html, "roles") == "Feil: Du kan ikke ta fra deg selv administratorrollen"
    assert "admin" in _roles(make, world.admin)


# ---- profile ----------------------------------------------------------------------------------


def test_profile_changes_details_and_language(world: World, make: Factory, browser) -> None:
    b = browser(world.end_user)
    html = assert_page(b.get("/profil"), "Min profil")
    assert input_value(html, "full-name") == "Ola Nordmann"
    response = b.submit(
        "/profil",
        {
            "full_name": "Ola Nordmann",
            "email": "ola@lillesand.no",
            "phone": "+47 999 99 999",
            "language": "en",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/profil?ok=saved"
    html = assert_page(b.get("/profil?ok=saved"), "My profile")
    assert "Your changes have been saved." in text(html) and '<html lang="en">' in html
    user = _user(make, "ola")
    assert user is not None and user.language == "en" and user.email == "ola@lillesand.no"

    response = b.submit("/profil", {"full_name": "", "language": "nb"})
    html = assert_page(response, "My profile", 422)
    assert field_error(html, "full-name") == "Error: Is required"


def test_password_change(world: World, make: Factory, browser) -> None:
    b = browser(world.end_user)
    response = b.submit(
        "/profil/passord",
        {
            "current_password": "feil passord her",
            "new_password": "helt nytt passord!",
            "new_password_repeat": "helt nytt passord!",
        },
    )
    html = assert_page(response, "Min profil", 422)
    assert field_error(html, "pw-current-password") == "Feil: Er ikke ditt nåværende passord"
    assert 'value="feil passord' not in html  # passwords are never echoed

    response = b.submit(
        "/profil/passord",
        {
            "current_password": PASSWORD,
            "new_password": "helt nytt passord!",
            "new_password_repeat": "noe annet",
        },
    )
    html = assert_page(response, "Min profil", 422)
    assert field_error(html, "pw-new-password-repeat") == "Feil: Er ikke lik det nye passordet"

    response = b.submit(
        "/profil/passord",
        {
            "current_password": PASSWORD,
            "new_password": "helt nytt passord!",
            "new_password_repeat": "helt nytt passord!",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/profil?ok=password_changed"
    assert "Passordet er endret." in text(b.get("/profil?ok=password_changed").text)
    fresh = browser()
    fresh.login("ola", "helt nytt passord!")


# ---- API tokens -------------------------------------------------------------------------------


def test_tokens_are_created_shown_once_used_and_revoked(
    world: World, make: Factory, app, browser
) -> None:
    from fastapi.testclient import TestClient

    b = browser(world.contact)
    html = assert_page(b.get("/api-nokler"), "API-nøkler")
    assert "Du har ingen API-nøkler." in text(html)
    assert 'value="admin"' not in html  # only admins may ask for the admin scope

    response = b.submit("/api-nokler", {"name": "Rapportskript", "scopes": ["read"]})
    html = assert_page(response, "API-nøkler")
    assert response.headers["cache-control"] == "no-store"
    raw = input_value(html, "new-token")
    assert raw.startswith("fd_")
    assert "Ikke brukt" in text(html)
    assert raw not in b.get("/api-nokler").text  # shown once only

    with TestClient(app, base_url="http://testserver") as api:
        api.headers["Authorization"] = f"Bearer {raw}"
        assert api.get("/api/v1/kommuner").status_code == 200
        page = text(b.get("/api-nokler").text)
        assert "Ikke brukt" not in page and "Gyldig" in page

        with make.session() as s:
            token = s.exec(select(ApiToken).where(ApiToken.name == "Rapportskript")).one()
        response = b.submit(f"/api-nokler/{token.id}/trekk-tilbake", follow_redirects=False)
        assert response.headers["location"] == "/api-nokler?ok=revoked"
        page = text(b.get("/api-nokler?ok=revoked").text)
        assert "Trukket tilbake" in page and "API-nøkkelen er trukket tilbake." in page
        assert api.get("/api/v1/kommuner").status_code == 401


def test_invalid_token_requests_are_explained(world: World, make: Factory, browser) -> None:
    b = browser(world.contact)
    response = b.submit("/api-nokler", {"name": "", "expires_at": "2020-01-01"})
    html = assert_page(response, "API-nøkler", 422)
    assert field_error(html, "name") == "Feil: Må fylles ut"
    assert field_error(html, "scopes") == "Feil: Velg minst 1"
    assert input_value(html, "expires-at") == "2020-01-01"

    response = b.submit(
        "/api-nokler", {"name": "Gammel", "scopes": ["read"], "expires_at": "2020-01-01"}
    )
    html = assert_page(response, "API-nøkler", 422)
    assert field_error(html, "expires-at") == "Feil: Er tilbake i tid"

    response = b.submit(
        "/api-nokler", {"name": "Tull", "scopes": ["read"], "expires_at": "31.12.2030"}
    )
    html = assert_page(response, "API-nøkler", 422)
    assert field_error(html, "expires-at").startswith("Feil: Må være en gyldig dato")

    response = b.submit("/api-nokler", {"name": "Snik", "scopes": ["admin"]})
    html = assert_page(response, "API-nøkler", 422)
    assert "bare administratorer" in error_summary(html)
    with make.session() as s:
        assert s.exec(select(ApiToken)).all() == []


def test_token_pages_refuse_forms_without_csrf(world: World, make: Factory, browser) -> None:
    b = no_csrf(browser(world.contact))
    response = b.post("/api-nokler", data={"name": "X", "scopes": "read"})
    assert response.status_code == 403
    response = b.post("/profil", data={"full_name": "X", "language": "en"})
    assert response.status_code == 403
    with make.session() as s:
        assert s.exec(select(ApiToken)).all() == []
    user = _user(make, "kari")
    assert user is not None and user.full_name == "Kari Kontakt"


def test_user_pages_in_english(world: World, browser) -> None:
    b = browser(world.admin)
    b.submit("/sprak", {"lang": "en", "next": "/"})
    html = assert_page(b.get("/brukere/ny"), "New user")
    assert title(html) == "New user – fellesdrift"
    html = assert_page(b.submit("/brukere/ny", {"username": "", "roles": []}), "New user", 422)
    assert field_error(html, "username") == "Error: Is required"
