"""The billing pages in headless Chromium with axe-core: no serious or critical accessibility
violation on any of them, for a finance user and for the billing admin, forms with errors and
the key comparison's chart included; and the pages carry no script (they work without one)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlmodel import select

from billing.models import InvoiceRun, PriceElement, PriceModelVersion
from tests.billing import uiworld
from tests.billing.uiworld import Issued
from tests.e2e import conftest as e2e
from tests.support.servers import serve_app

issued = uiworld.issued  # the fixtures
chromium = e2e.chromium
axe_source = e2e.axe_source


def _scan(page: Any, source: str, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, path
    assert "<script" not in page.content().split("</head>")[1], f"{path} needs no script"
    e2e.assert_accessible(page, source)


def test_billing_pages_pass_axe(issued: Issued, app: Any, chromium: Any, axe_source: str) -> None:
    world = issued.world
    with world.session() as s:
        version = s.exec(select(PriceModelVersion)).one()
        run = s.exec(select(InvoiceRun)).one()
        element = s.exec(select(PriceElement).where(PriceElement.code == "brukerkonto")).one()
    with serve_app(app) as base:
        finance = e2e.sign_in(chromium, base, world.finance_a.username)
        for path in (
            "/fakturering",
            "/fakturering/fakturaer",
            f"/fakturering/fakturaer/{issued.invoice_a.id}",
            "/fakturering/hittil-i-ar?year=2026",
            "/fakturering/tjenester?month=2026-10",
            "/fakturering/priser",
            f"/fakturering/priser/{version.id}",
        ):
            _scan(finance, axe_source, path)
        admin = e2e.sign_in(chromium, base, world.admin.username)
        for path in (
            "/fakturering/kjoringer",
            f"/fakturering/kjoringer/{run.id}",
            f"/fakturering/fakturaer/{issued.invoice_b.id}/krediter",
            "/fakturering/priser/ny",
            f"/fakturering/priselementer/{element.id}",
            "/fakturering/tellinger?month=2026-10",
            "/fakturering/nokler?month=2026-10&pool=90000.00&a_kind=mix"
            "&a_spec=equal%3D1%2F3%2C+inhabitants%3D2%2F3&b_kind=fixed"
            "&b_spec=alfa%3D30%2C+beta%3D30%2C+gamma%3D40",
        ):
            _scan(admin, axe_source, path)
        # A form with errors: the summary links to the input, which says what is wrong.
        admin.goto(f"/fakturering/priselementer/{element.id}")
        admin.fill("#unit-price", "-5")
        admin.get_by_role("button", name="Lagre").click()
        expect(admin.locator("#unit-price")).to_have_attribute("aria-invalid", "true")
        expect(admin.locator(".alert.error a[href='#unit-price']")).to_be_visible()
        e2e.assert_accessible(admin, axe_source)
