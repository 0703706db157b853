"""Who reaches which invoice: finance users see their own kommune's issued invoices only (not
even their own kommune's drafts), both ways round; the billing admin sees drafts too."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import select

from billing import run
from billing.models import Invoice
from tests.billing import uiworld
from tests.billing.conftest import act
from tests.billing.uiworld import Issued
from tests.support.fixtures import Browser

issued = uiworld.issued  # the fixture


def _november_draft_of(issued: Issued, kommune_id: int) -> int:
    """Draft November (counts as in October) and return the kommune's draft invoice."""
    from billing import counts
    from billing.inputs import parse_month

    month = parse_month("2026-11")
    act(issued.world, issued.world.admin, counts.snapshot_registers, month)
    act(issued.world, issued.world.admin, run.draft, month)
    with issued.world.session() as s:
        found = s.exec(
            select(Invoice.id).where(
                Invoice.kommune_id == kommune_id, Invoice.period_start == month
            )
        ).one()
    return int(found)


def test_finance_b_sees_b_and_never_a(
    issued: Issued, browser: Callable[..., Browser], api: Callable[..., TestClient]
) -> None:
    page, client = browser(issued.world.finance_b), api(issued.world.finance_b)
    own, other = issued.invoice_b.id, issued.invoice_a.id
    assert page.get(f"/fakturering/fakturaer/{own}").status_code == 200
    assert client.get(f"/api/v1/billing/invoices/{own}").status_code == 200
    for suffix in ("", "/pdf", "/csv", "/ehf"):
        assert page.get(f"/fakturering/fakturaer/{other}{suffix}").status_code == 404
        assert client.get(f"/api/v1/billing/invoices/{other}{suffix}").status_code == 404
    listed = client.get("/api/v1/billing/invoices").json()["items"]
    assert [i["id"] for i in listed] == [own]


def test_drafts_stay_inside_the_drift_unit(
    issued: Issued, browser: Callable[..., Browser], api: Callable[..., TestClient]
) -> None:
    draft_id = _november_draft_of(issued, issued.world.a.id)
    finance = api(issued.world.finance_a)
    assert finance.get(f"/api/v1/billing/invoices/{draft_id}").status_code == 404
    assert finance.get(f"/api/v1/billing/invoices/{draft_id}/pdf").status_code == 404
    wanting = finance.get("/api/v1/billing/invoices", params={"include_drafts": True})
    assert draft_id not in [i["id"] for i in wanting.json()["items"]]
    admin = api(issued.world.admin)
    drafts = admin.get("/api/v1/billing/invoices", params={"include_drafts": True}).json()
    assert draft_id in [i["id"] for i in drafts["items"]]
    preview = browser(issued.world.admin).get(f"/fakturering/fakturaer/{draft_id}")
    assert preview.status_code == 200 and f"UTKAST-{draft_id}" in preview.text
    assert (
        browser(issued.world.finance_a).get(f"/fakturering/fakturaer/{draft_id}").status_code == 404
    )
