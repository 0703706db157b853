"""Billing pages as a kommune's finance user: their own kommune's invoices, specification and
downloads, the year to date and the services; never another kommune's, through any page."""

from __future__ import annotations

from collections.abc import Callable

from billing.validate import validate_ehf
from tests.billing import uiworld
from tests.billing.uiworld import Issued
from tests.support.fixtures import Browser

Open = Callable[..., Browser]
issued = uiworld.issued  # the fixture


def test_finance_lists_only_their_own_invoices(issued: Issued, browser: Open) -> None:
    a = browser(issued.world.finance_a)
    page = a.get("/fakturering/fakturaer")
    assert page.status_code == 200
    assert issued.number_a in page.text
    assert issued.number_b not in page.text
    assert "Beta" not in page.text
    # Filtering by the other kommune shows nothing of it either.
    other = a.get(f"/fakturering/fakturaer?kommune={issued.world.b.id}")
    assert issued.number_b not in other.text


def test_an_invoice_is_specified_down_to_users_and_hours(issued: Issued, browser: Open) -> None:
    a = browser(issued.world.finance_a)
    page = a.get(f"/fakturering/fakturaer/{issued.invoice_a.id}")
    assert page.status_code == 200
    text = page.text
    for expected in ("Felles teknisk infrastruktur", "Brukerkonto", "Konsulenttimer"):
        assert expected in text
    assert issued.ticket_title in text  # the hours per ticket
    assert "aria-current" in text and 'lang="nb"' in text


def test_another_kommunes_invoice_is_not_found_on_any_page(issued: Issued, browser: Open) -> None:
    a = browser(issued.world.finance_a)
    b_id = issued.invoice_b.id
    for path in (
        f"/fakturering/fakturaer/{b_id}",
        f"/fakturering/fakturaer/{b_id}/pdf",
        f"/fakturering/fakturaer/{b_id}/csv",
        f"/fakturering/fakturaer/{b_id}/ehf",
    ):
        response = a.get(path)
        assert response.status_code == 404, path
        assert issued.number_b not in response.text
        assert "Beta" not in response.text
    assert a.get(f"/fakturering/hittil-i-ar?kommune={issued.world.b.id}").status_code == 404


def test_finance_downloads_pdf_csv_and_a_valid_ehf(issued: Issued, browser: Open) -> None:
    a = browser(issued.world.finance_a)
    base = f"/fakturering/fakturaer/{issued.invoice_a.id}"
    pdf = a.get(f"{base}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert issued.number_a in pdf.headers["content-disposition"]
    csv = a.get(f"{base}/csv")
    assert csv.status_code == 200 and issued.ticket_title in csv.content.decode("utf-8-sig")
    ehf = a.get(f"{base}/ehf")
    assert ehf.status_code == 200 and ehf.headers["content-type"] == "application/xml"
    assert validate_ehf(ehf.content) == []


def test_year_to_date_and_services_show_the_own_kommune(issued: Issued, browser: Open) -> None:
    a = browser(issued.world.finance_a)
    ytd = a.get("/fakturering/hittil-i-ar?year=2026")
    assert ytd.status_code == 200
    assert "2026-10" in ytd.text and "Alfa" in ytd.text
    services = a.get("/fakturering/tjenester?month=2026-10")
    assert services.status_code == 200
    assert "Felles teknisk infrastruktur" in services.text
    assert "alfa=50, beta=30, gamma=20" in services.text  # the fixed key with its percentages
    assert "Alfa" in services.text and "Beta" not in services.text
    assert a.get("/fakturering/tjenester?month=oktober").status_code == 200


def test_finance_reads_the_price_model_but_runs_nothing(issued: Issued, browser: Open) -> None:
    a = browser(issued.world.finance_a)
    prices = a.get("/fakturering/priser")
    assert prices.status_code == 200 and "Prismodell 2026" in prices.text
    assert "/fakturering/priser/import" not in prices.text
    for path in ("/fakturering/kjoringer", "/fakturering/nokler", "/fakturering/priser/ny"):
        assert a.get(path).status_code == 403, path
    refused = a.submit("/fakturering/kjoringer", {"month": "2026-11"})
    assert refused.status_code == 403
    credit = a.submit(f"/fakturering/fakturaer/{issued.invoice_a.id}/krediter", {"reason": "Feil"})
    assert credit.status_code == 403


def test_agents_and_end_users_are_refused(issued: Issued, browser: Open) -> None:
    for user in (issued.world.agent, issued.end_user_a):
        client = browser(user)
        for path in (
            "/fakturering",
            "/fakturering/fakturaer",
            f"/fakturering/fakturaer/{issued.invoice_a.id}",
            f"/fakturering/fakturaer/{issued.invoice_a.id}/pdf",
            "/fakturering/hittil-i-ar",
        ):
            assert client.get(path).status_code in (403, 404), (user.username, path)
        assert "/fakturering" not in client.get("/").text


def test_the_nav_offers_billing_to_finance(issued: Issued, browser: Open) -> None:
    a = browser(issued.world.finance_a)
    assert 'href="/fakturering"' in a.get("/").text


def test_english_pages(issued: Issued, browser: Open) -> None:
    a = browser(issued.world.finance_a)
    a.submit("/sprak", {"lang": "en", "next": "/fakturering"})
    page = a.get(f"/fakturering/fakturaer/{issued.invoice_a.id}")
    assert page.status_code == 200 and "Download" in page.text
