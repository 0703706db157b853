"""What a systemeier sees of their system, in a real browser (issue 14, item 6): the tickets
of every kommune on the system in /saker, and on the system's page its open tickets, the
kommuner using it by name and that it is monitored. Not what is not theirs: a ticket off
their systems, a TLP:RED ticket they are not named on."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from register.choices import Responsibility
from register.schemas import ResponsibilityIn, TargetIn, UsageIn
from register.service import cmdb
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core
from tests.e2e.conftest import assert_accessible, sign_in
from tests.e2e.test_portal_browser import _session_of
from tests.support.factories import Factory
from tests.support.servers import serve_app


def _world(make: Factory) -> dict[str, Any]:
    a, b = make.kommune("Alfa"), make.kommune("Beta")
    system = make.ci("epj", name="Pleie og omsorg", kind="fagsystem", classification="sektorsystem")
    other = make.ci("lonn", name="Lønn", kind="fagsystem", classification="fellessystem")
    owner = make.user(a, "end_user", "systemeier", username="eier", full_name="Sigrid Eier")
    assert owner.id is not None and a.id is not None and b.id is not None
    duty = ResponsibilityIn(user_id=owner.id, kind=Responsibility.SYSTEMEIER)
    make.run(cmdb.add_responsibility, system.id, duty)
    for k in (a, b):
        make.run(cmdb.set_usage, system.id, UsageIn(kommune_id=k.id, users_count=40))  # type: ignore[arg-type]
        make.run(cmdb.set_usage, other.id, UsageIn(kommune_id=k.id, users_count=40))  # type: ignore[arg-type]
    target = TargetIn.model_validate({"probe": "http", "target": "https://epj.example/helse"})
    make.run(cmdb.add_target, system.id, target)
    anne = make.user(a, username="anne", full_name="Anne Alfa")
    bjorn = make.user(b, username="bjorn", full_name="Bjørn Beta")
    titles = {}
    for user, title, extra in (
        (anne, "EPJ henger ved innlogging", {"ci_ids": [system.id], "impact": 1, "urgency": 1}),
        (bjorn, "Medisinlister skrives ikke ut", {"ci_ids": [system.id]}),
        (bjorn, "Hemmelig hendelse i EPJ", {"ci_ids": [system.id], "tlp": "red"}),
        (bjorn, "Lønnsslippen mangler", {"ci_ids": [other.id]}),
    ):
        with _session_of(make, user) as session:
            ticket = core.create_ticket(session, TicketCreate(title=title, **extra))
            session.commit()
            titles[title] = ticket.id
    return {"system": system, "titles": titles}


def test_systemeier_sees_the_tickets_and_state_of_their_system(
    app, make, chromium, axe_source
) -> None:
    world = _world(make)
    with serve_app(app) as base:
        page = sign_in(chromium, base, "eier", js=False)
        page.goto("/saker")
        rows = page.locator("table tbody")
        expect(rows).to_contain_text("EPJ henger ved innlogging")
        expect(rows).to_contain_text("Medisinlister skrives ikke ut")
        expect(rows).not_to_contain_text("Hemmelig hendelse")
        expect(rows).not_to_contain_text("Lønnsslippen mangler")
        expect(rows).to_contain_text("Beta")  # which kommune each ticket is from

        page.goto(f"/systemer/{world['system'].id}")
        tickets = page.get_by_role("region", name="Åpne saker på systemet")
        expect(tickets).to_contain_text("EPJ henger ved innlogging")
        expect(tickets).to_contain_text("Medisinlister skrives ikke ut")
        expect(tickets).not_to_contain_text("Hemmelig hendelse")
        usage = page.locator("#usage + table")
        expect(usage).to_contain_text("Alfa")
        expect(usage).to_contain_text("Beta")
        expect(page.locator("main")).not_to_contain_text("Systemet overvåkes ikke")
        expect(page.locator("main")).to_contain_text("https://epj.example/helse")
        page.get_by_role("link", name="Medisinlister skrives ikke ut").click()
        expect(page.locator("h1")).to_contain_text("Medisinlister skrives ikke ut")

        scanner = sign_in(chromium, base, "eier", js=True)
        for path in ("/saker", f"/systemer/{world['system'].id}"):
            scanner.goto(path)
            assert_accessible(scanner, axe_source)
