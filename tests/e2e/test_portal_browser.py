"""The portal in a real browser: an employee of kommune A files a ticket through the pages
(with JavaScript off, as the portal must work without it), the drift unit answers and
resolves it, the employee reads the answer and rates it; an employee of kommune B can neither
open it nor find it. axe-core scans every portal page on the way (JavaScript on, in a second
browser context), and a serious or critical violation fails the test."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session

from register import auth
from register.access import Principal, bind
from register.choices import Responsibility
from register.models import User
from register.schemas import ResponsibilityIn, UsageIn
from register.service import cmdb
from servicedesk.tickets.choices import Status
from servicedesk.tickets.schemas import ReplyIn, Transition
from servicedesk.tickets.service import catalogue, lifecycle
from servicedesk.tickets.service.catalogue import CatalogueItemIn, FormField
from tests.e2e.conftest import assert_accessible, axe_violations, sign_in
from tests.support.factories import Factory
from tests.support.servers import serve_app

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 128


def _session_of(make: Factory, user: User) -> Session:
    session = bind(Session(make.engine, expire_on_commit=False), Principal.system("e2e"))
    loaded = session.get(User, user.id)
    assert loaded is not None
    return bind(session, auth.principal_for(session, loaded))


def _world(make: Factory) -> dict[str, Any]:
    a, b = make.kommune("Alfa"), make.kommune("Beta")
    email = make.ci("epost", name="E-post", kind="fagsystem", classification="fellessystem")
    owner = make.user(a, "end_user", "systemeier", username="eier", full_name="Eva Eier")
    assert owner.id is not None
    systemeier = ResponsibilityIn(user_id=owner.id, kind=Responsibility.SYSTEMEIER)
    make.run(cmdb.add_responsibility, email.id, systemeier)
    for k in (a, b):
        assert k.id is not None
        make.run(cmdb.set_usage, email.id, UsageIn(kommune_id=k.id, users_count=10))
    access = make.run(
        catalogue.create_item,
        CatalogueItemIn(
            key="tilgang-epost",
            name="Tilgang til fellespostkasse",
            category="Brukere og tilgang",
            approval="systemeier",  # type: ignore[arg-type]
            ci_id=email.id,
            fields=[
                FormField(name="mailbox", label="Postkasse", required=True),
                FormField(
                    name="level",
                    label="Tilgang",
                    type="select",
                    required=True,
                    options=[{"value": "read", "label": "Lese"}],  # type: ignore[list-item]
                ),
                FormField(name="needed_by", label="Når", type="date"),
                FormField(name="why", label="Hvorfor", type="textarea"),
            ],
        ),
    )
    return {
        "anne": make.user(a, username="anne", full_name="Anne Alfa", email="anne@alfa.no"),
        "bjorn": make.user(b, username="bjorn", full_name="Bjørn Beta"),
        "agent": make.user(None, "agent", username="agent", full_name="Arne Agent"),
        "owner": owner,
        "access": access,
    }


def test_file_answer_rate_and_isolation_in_chromium(app, make, chromium, axe_source) -> None:
    people = _world(make)
    with serve_app(app) as base:
        anne = sign_in(chromium, base, "anne", js=False)  # the person, without JavaScript
        scanner = sign_in(chromium, base, "anne", js=True)  # axe-core needs JavaScript

        def scan(path: str) -> None:
            scanner.goto(path)
            assert_accessible(scanner, axe_source)

        scan("/")
        # Step 1: choose.
        anne.get_by_role("link", name="Ny sak").first.click()
        expect(anne.locator("h1")).to_have_text("Ny sak")
        scan("/saker/ny")
        anne.get_by_role("link", name="Meld feil").click()
        expect(anne.locator("h1")).to_have_text("Meld feil")
        scan("/saker/ny/feil")
        # Step 2: a form sent empty comes back with the errors, then filled in properly.
        anne.get_by_role("button", name="Send saken").click()
        expect(anne.get_by_role("alert")).to_contain_text("Noe må rettes opp")
        scanner.goto("/saker/ny/feil")
        scanner.get_by_role("button", name="Send saken").click()
        expect(scanner.get_by_role("alert")).to_be_visible()
        assert_accessible(scanner, axe_source)
        anne.fill("#title", "Får ikke sendt e-post")
        anne.fill("#description", "Meldingen blir liggende i utboksen. <b>Haster</b>")
        anne.select_option("#ci-id", label="E-post")
        anne.check("#urgency-2")
        anne.set_input_files(
            "#files", files=[{"name": "utboks.png", "mimeType": "image/png", "buffer": PNG}]
        )
        anne.get_by_role("button", name="Send saken").click()
        # Step 3: the receipt with the number.
        heading = anne.locator("h1")
        expect(heading).to_have_text(re.compile(r"^Sak \d+ er mottatt$"))
        number = int(re.findall(r"\d+", heading.inner_text())[0])
        expect(anne.get_by_role("status")).to_contain_text(str(number))
        scan(f"/saker/{number}/mottatt")
        scan("/saker")
        scan(f"/saker/{number}")
        anne.goto("/saker")
        expect(anne.get_by_role("table")).to_contain_text("Får ikke sendt e-post")
        expect(anne.get_by_role("table")).to_contain_text("P2 – høy")

        # The drift unit answers and resolves it.
        desk = _session_of(make, people["agent"])
        lifecycle.reply(desk, number, ReplyIn(body="Vi har tømt køen på e-posttjeneren."))
        desk.commit()
        version = lifecycle.get_ticket(desk, number).version
        lifecycle.transition(
            desk,
            number,
            Transition(version=version, status=Status.RESOLVED, resolution="Køen er tømt."),
        )
        desk.commit()
        desk.close()

        # The employee reads the answer and rates the help.
        anne.goto(f"/saker/{number}")
        expect(anne.locator("main")).to_contain_text("Vi har tømt køen på e-posttjeneren.")
        expect(anne.locator("main")).to_contain_text("Køen er tømt.")
        expect(anne.locator("main")).to_contain_text("<b>Haster</b>")  # text, not markup
        expect(anne.get_by_role("link", name="utboks.png")).to_be_visible()
        scan(f"/saker/{number}")
        anne.check("#rate-rating-5")
        anne.fill("#rate-comment", "Rask og god hjelp")
        anne.get_by_role("button", name="Send vurdering").click()
        expect(anne.get_by_role("status")).to_contain_text("Takk for vurderingen!")
        expect(anne.locator("main")).to_contain_text("Vurdering: 5 av 5")
        scan(f"/saker/{number}")

        # Kommune B: not found, and not in the list.
        bjorn = sign_in(chromium, base, "bjorn", js=False)
        response = bjorn.goto(f"/saker/{number}")
        assert response is not None and response.status == 404
        bjorn.goto("/saker?status=all")
        expect(bjorn.locator("main")).not_to_contain_text("Får ikke sendt e-post")
        expect(bjorn.locator("main")).to_contain_text("Ingen saker å vise.")

        # A catalogue order that waits for the systemeier, approved on the approvals page.
        anne.goto("/saker/ny")
        anne.get_by_role("link", name="Tilgang til fellespostkasse").click()
        scan(f"/saker/ny/bestilling/{people['access'].id}")
        anne.fill("#f-mailbox", "post@alfa.no")
        anne.select_option("#f-level", "read")
        anne.get_by_role("button", name="Send bestillingen").click()
        expect(anne.locator("main")).to_contain_text("venter nå på godkjenning")
        owner = sign_in(chromium, base, "eier", js=False)
        owner_scanner = sign_in(chromium, base, "eier", js=True)
        owner_scanner.goto("/godkjenninger")
        assert_accessible(owner_scanner, axe_source)
        owner.goto("/godkjenninger")
        owner.get_by_role("button", name="Godkjenn").click()
        expect(owner.get_by_role("status").first).to_contain_text("Bestillingen er godkjent")
        owner_scanner.goto("/godkjenninger")
        assert_accessible(owner_scanner, axe_source)


def test_the_scan_catches_violations(app, make, chromium, axe_source) -> None:
    """The test of the test: a form input without a label on a portal page is reported."""
    make.user(make.kommune("Alfa"), username="anne")
    with serve_app(app) as base:
        page = sign_in(chromium, base, "anne", js=True)
        page.goto("/saker/ny/feil")
        assert axe_violations(page, axe_source) == []
        page.evaluate(
            "() => document.querySelector('form').insertAdjacentHTML('beforeend',"
            ' \'<input type="text" name="x">\')'
        )
        found = axe_violations(page, axe_source)
        assert [v["id"] for v in found] == ["label"]
