"""Who may use the agent workspace: every page for agents and admins, the admin pages for
admins only, and nothing for the kommuner's people (end users, contacts, system owners)."""

from __future__ import annotations

import pytest

from tests.support.fixtures import Browser
from tests.tickets.agent.conftest import Desk, file_ticket


def _pages(desk: Desk, ticket_id: int) -> list[str]:
    return [
        "/arbeid",
        "/arbeid/saker",
        f"/arbeid/saker?group={desk.network.id}&status=new&priority=3",
        "/arbeid/sok?q=skriver",
        f"/arbeid/saker/{ticket_id}",
    ]


ADMIN_PAGES = ["/arbeid/admin/prioritet", "/arbeid/admin/grupper"]


def test_agents_and_admins_see_every_workspace_page(desk: Desk, browser, as_user) -> None:
    ticket = file_ticket(as_user(desk.world.user_a))
    for user in (desk.world.agent, desk.admin):
        client: Browser = browser(user)
        for url in _pages(desk, ticket.id):  # type: ignore[arg-type]
            response = client.get(url)
            assert response.status_code == 200, (user.username, url, response.text[:500])
            assert 'lang="nb"' in response.text
    admin = browser(desk.admin)
    for url in [*ADMIN_PAGES, f"/arbeid/admin/grupper/{desk.network.id}"]:
        assert admin.get(url).status_code == 200, url


@pytest.mark.parametrize("who", ["user_a", "contact_a", "owner"])
def test_kommune_people_are_refused_everywhere(desk: Desk, browser, as_user, who: str) -> None:
    ticket = file_ticket(as_user(desk.world.user_a))
    client: Browser = browser(getattr(desk.world, who))
    for url in [*_pages(desk, ticket.id), *ADMIN_PAGES]:  # type: ignore[arg-type]
        response = client.get(url)
        assert response.status_code in (403, 404), (who, url)
        assert "Skriveren virker ikke" not in response.text
    posts = [
        f"/arbeid/saker/{ticket.id}/svar",
        f"/arbeid/saker/{ticket.id}/status",
        f"/arbeid/saker/{ticket.id}/endre",
        "/arbeid/saker/bulk",
        "/arbeid/visninger",
        "/arbeid/admin/prioritet",
        "/arbeid/admin/grupper",
    ]
    for url in posts:
        response = client.submit(url, {"body": "hei", "ticket": f"{ticket.id}:1", "name": "x"})
        assert response.status_code == 403, (who, url)


def test_plain_agents_are_refused_the_admin_pages(desk: Desk, browser) -> None:
    client: Browser = browser(desk.world.agent)
    for url in [*ADMIN_PAGES, f"/arbeid/admin/grupper/{desk.network.id}"]:
        assert client.get(url).status_code == 403, url
    refused = client.submit("/arbeid/admin/grupper", {"key": "ny", "name": "Ny gruppe"})
    assert refused.status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(desk: Desk, browser) -> None:
    response = browser().get("/arbeid/saker", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/logg-inn")


def test_forms_without_the_csrf_token_are_refused(desk: Desk, browser, as_user) -> None:
    ticket = file_ticket(as_user(desk.world.user_a))
    client: Browser = browser(desk.world.agent)
    client.headers.pop("X-CSRF-Token", None)
    response = client.post(f"/arbeid/saker/{ticket.id}/svar", data={"body": "hei"})
    assert response.status_code == 403


def test_a_ticket_of_another_page_is_not_found_for_the_wrong_attachment(
    desk: Desk, browser, as_user
) -> None:
    ticket = file_ticket(as_user(desk.world.user_a))
    client: Browser = browser(desk.world.agent)
    assert client.get(f"/arbeid/saker/{ticket.id}/vedlegg/999").status_code == 404
    assert client.get("/arbeid/saker/999999").status_code == 404
