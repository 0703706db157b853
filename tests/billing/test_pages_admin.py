"""Billing pages as the billing admin: a month drafted, reviewed and issued with confirmation,
a credit note, price model versions and elements with errors by field, the YAML and count-file
imports with their errors, and two keys compared with a chart."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlmodel import col, select

from billing.models import (
    InhabitantFigure,
    Invoice,
    InvoiceRun,
    PriceElement,
    PriceModelVersion,
)
from tests.billing import uiworld
from tests.billing.uiworld import Issued
from tests.support.fixtures import Browser

Open = Callable[..., Browser]
issued = uiworld.issued  # the fixture


def _run_id(location: str) -> int:
    match = re.search(r"/fakturering/kjoringer/(\d+)", location)
    assert match, location
    return int(match.group(1))


def test_a_month_is_drafted_reviewed_and_issued_after_confirmation(
    issued: Issued, browser: Open
) -> None:
    admin = browser(issued.world.admin)
    assert admin.get("/fakturering/kjoringer").status_code == 200
    missing = admin.submit("/fakturering/kjoringer", {"month": "2026-11"})
    assert missing.status_code == 422  # no counts for November yet: named, nothing drafted
    assert "element &#39;brukerkonto&#39;" in missing.text and 'href="#element' not in missing.text
    counted = admin.submit(
        "/fakturering/tellinger/registre", {"month": "2026-11"}, follow_redirects=False
    )
    assert counted.status_code == 303
    drafted = admin.submit("/fakturering/kjoringer", {"month": "2026-11"}, follow_redirects=False)
    assert drafted.status_code == 303
    run_id = _run_id(drafted.headers["location"])
    page = admin.get(f"/fakturering/kjoringer/{run_id}")
    assert page.status_code == 200 and "Alfa" in page.text and "Beta" in page.text
    again = admin.submit(f"/fakturering/kjoringer/{run_id}/utkast", follow_redirects=False)
    assert again.status_code == 303  # a re-run replaces the draft
    assert admin.submit(f"/fakturering/kjoringer/{run_id}/kontroller").status_code == 200
    confirm = admin.get(f"/fakturering/kjoringer/{run_id}/utsted")
    assert confirm.status_code == 200 and 'name="confirm"' in confirm.text
    unconfirmed = admin.submit(
        f"/fakturering/kjoringer/{run_id}/utsted", {"issue_date": "2026-12-01"}
    )
    assert unconfirmed.status_code == 422 and 'aria-invalid="true"' in unconfirmed.text
    with issued.world.session() as s:
        assert s.get(InvoiceRun, run_id).state == "reviewed"  # type: ignore[union-attr]
    done = admin.submit(
        f"/fakturering/kjoringer/{run_id}/utsted",
        {"issue_date": "2026-12-01", "confirm": "on"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with issued.world.session() as s:
        run = s.get(InvoiceRun, run_id)
        assert run is not None and run.state == "issued"
        numbers = s.exec(select(Invoice.number).where(Invoice.run_id == run_id)).all()
        assert all(n is not None for n in numbers) and len(numbers) == 3
    # An issued month cannot be drafted again: the error is shown, nothing changes.
    refused = admin.submit("/fakturering/kjoringer", {"month": "2026-11"})
    assert refused.status_code == 422 and "2026-11" in refused.text


def test_a_bad_month_is_named_by_the_form(issued: Issued, browser: Open) -> None:
    admin = browser(issued.world.admin)
    refused = admin.submit("/fakturering/kjoringer", {"month": "november"})
    assert refused.status_code == 422
    assert "er ikke en måned" in refused.text


def test_a_credit_note_needs_a_reason_and_references_the_invoice(
    issued: Issued, browser: Open
) -> None:
    admin = browser(issued.world.admin)
    path = f"/fakturering/fakturaer/{issued.invoice_a.id}/krediter"
    form = admin.get(path)
    assert form.status_code == 200 and 'name="line_ids"' in form.text
    assert admin.submit(path, {"reason": " "}).status_code == 422
    made = admin.submit(path, {"reason": "Feil antall timer"}, follow_redirects=False)
    assert made.status_code == 303
    note = admin.get(made.headers["location"])
    assert "Kreditnota" in note.text and issued.number_a in note.text
    twice = admin.submit(path, {"reason": "Igjen"})
    assert twice.status_code == 422  # every line is already credited


NEGATIVE = """
versions:
  - name: Prismodell 2030
    valid_from: 2030-01-01
    elements:
      - code: brukerkonto
        category: 3
        service: Brukerkonto
        count: user_accounts
        unit_price: "-1.00"
"""


def test_a_yaml_import_with_a_negative_price_names_the_element(
    issued: Issued, browser: Open
) -> None:
    admin = browser(issued.world.admin)
    files = {"file": ("priser.yaml", NEGATIVE.encode(), "application/yaml")}
    refused = admin.post("/fakturering/priser/import", data={"csrf_token": admin.csrf}, files=files)
    assert refused.status_code == 422
    assert "brukerkonto" in refused.text and "unit_price" in refused.text
    with issued.world.session() as s:
        names = s.exec(select(PriceModelVersion.name)).all()
    assert "Prismodell 2030" not in names
    good = NEGATIVE.replace('"-1.00"', '"40.00"')
    files = {"file": ("priser.yaml", good.encode(), "application/yaml")}
    stored = admin.post(
        "/fakturering/priser/import",
        data={"csrf_token": admin.csrf},
        files=files,
        follow_redirects=False,
    )
    assert stored.status_code == 303


def _new_version(admin: Browser, source_id: int) -> int:
    made = admin.submit(
        "/fakturering/priser/ny",
        {
            "name": "Prismodell 2027",
            "copy_from": str(source_id),
            "valid_from": "2027-01-01",
            "valid_to": "2027-12-31",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    return int(made.headers["location"].split("/")[3].split("?")[0])


def test_elements_are_edited_with_errors_by_field(issued: Issued, browser: Open) -> None:
    admin = browser(issued.world.admin)
    world = issued.world
    with world.session() as s:
        source = s.exec(select(PriceModelVersion)).one()
    no_figures = admin.submit(
        "/fakturering/priser/ny",
        {"name": "Prismodell 2027", "copy_from": str(source.id), "valid_from": "2027-01-01"},
    )
    assert no_figures.status_code == 422  # the inhabitants key needs 2027's figures
    assert "Gamma har ikke innbyggertall" in no_figures.text
    assert 'href="#versions' not in no_figures.text
    with world.session() as s:
        for kommune, count in ((world.a, 30100), (world.b, 12100), (world.c, 3100)):
            s.add(
                InhabitantFigure(
                    kommune_id=kommune.id, ref_date=date(2027, 1, 1), inhabitants=count
                )
            )
        s.commit()
    overlapping = admin.submit(
        "/fakturering/priser/ny",
        {"name": "Overlapp", "copy_from": str(source.id), "valid_from": "2026-06-01"},
    )
    assert overlapping.status_code == 422 and "Prismodell 2026" in overlapping.text
    version_id = _new_version(admin, source.id)  # type: ignore[arg-type]
    page = admin.get(f"/fakturering/priser/{version_id}")
    assert page.status_code == 200 and "Brukerkonto" in page.text
    with issued.world.session() as s:
        element = s.exec(
            select(PriceElement).where(
                PriceElement.version_id == version_id, PriceElement.code == "brukerkonto"
            )
        ).one()
    form = admin.get(f"/fakturering/priselementer/{element.id}")
    assert form.status_code == 200 and 'value="42.5"' in form.text
    values = {"code": "brukerkonto", "category": "3", "service": "Brukerkonto"}
    values |= {"count": "user_accounts", "rounding": "none"}
    refused = admin.submit(
        f"/fakturering/priselementer/{element.id}", values | {"unit_price": "-5"}
    )
    assert refused.status_code == 422
    assert re.search(r'id="unit-price"[^>]*aria-invalid="true"|aria-invalid="true"', refused.text)
    assert 'href="#unit-price"' in refused.text
    saved = admin.submit(
        f"/fakturering/priselementer/{element.id}",
        values | {"unit_price": "45.00"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with issued.world.session() as s:
        price = s.exec(
            select(col(PriceElement.unit_price))
            .join(PriceModelVersion)
            .where(PriceModelVersion.name == "Prismodell 2027", PriceElement.code == "brukerkonto")
        ).one()
    assert price == Decimal("45.0000")


def test_a_version_used_by_an_issued_run_cannot_be_changed(issued: Issued, browser: Open) -> None:
    admin = browser(issued.world.admin)
    with issued.world.session() as s:
        element = s.exec(select(PriceElement).where(PriceElement.code == "brukerkonto")).one()
    refused = admin.submit(f"/fakturering/priselementer/{element.id}/slett")
    assert refused.status_code == 422 and "oktober" not in refused.text.lower()
    assert "2026-10" in refused.text


def test_a_count_file_with_an_unknown_kommune_names_the_line(issued: Issued, browser: Open) -> None:
    admin = browser(issued.world.admin)
    bad = "kommune;kind;label\nalfa;devices;PC-1\nomega;devices;PC-2\n"
    refused = admin.post(
        "/fakturering/tellinger/import",
        data={"csrf_token": admin.csrf, "month": "2026-11"},
        files={"file": ("enheter.csv", bad.encode(), "text/csv")},
    )
    assert refused.status_code == 422
    assert "omega" in refused.text and "enheter.csv 3:" in refused.text
    good = bad.replace("omega", "beta")
    stored = admin.post(
        "/fakturering/tellinger/import",
        data={"csrf_token": admin.csrf, "month": "2026-11"},
        files={"file": ("enheter.csv", good.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert stored.status_code == 303
    page = admin.get("/fakturering/tellinger?month=2026-11")
    assert "enheter.csv" in page.text


def test_two_keys_side_by_side_with_an_accessible_chart(issued: Issued, browser: Open) -> None:
    admin = browser(issued.world.admin)
    blank = admin.get("/fakturering/nokler")
    assert blank.status_code == 200 and "<svg" not in blank.text
    query = {
        "month": "2026-10",
        "pool": "90000.00",
        "a_kind": "mix",
        "a_spec": "equal=1/3, inhabitants=2/3",
        "b_kind": "fixed",
        "b_spec": "alfa=30, beta=30, gamma=40",
    }
    page = admin.get("/fakturering/nokler", params=query)
    assert page.status_code == 200
    assert "<svg" in page.text and 'role="img"' in page.text and "<title>" in page.text
    assert page.text.count("<rect") == 6  # two bars for each of three kommuner
    assert "27\u00a0000,00\u00a0kr" in page.text  # alfa's 30 % of 90 000 under key B
    assert "<table>" in page.text and "Gamma" in page.text
    bad = admin.get("/fakturering/nokler", params=query | {"b_spec": "alfa=50"})
    assert bad.status_code == 422 and "prosentene må bli 100" in bad.text


def test_every_billing_page_renders_for_the_admin_and_for_finance(
    issued: Issued, browser: Open
) -> None:
    world = issued.world
    with world.session() as s:
        version = s.exec(select(PriceModelVersion)).one()
        run = s.exec(select(InvoiceRun)).one()
        element = s.exec(select(PriceElement).where(PriceElement.code == "infra")).one()
    common = [
        "/fakturering",
        "/fakturering/fakturaer?month=2026-10&kind=invoice",
        "/fakturering/fakturaer?drafts=on",
        f"/fakturering/fakturaer/{issued.invoice_a.id}",
        "/fakturering/hittil-i-ar",
        "/fakturering/tjenester?month=2026-10",
        "/fakturering/priser",
        f"/fakturering/priser/{version.id}",
        "/fakturering/tellinger?month=2026-10",
    ]
    admin_only = [
        f"/fakturering/hittil-i-ar?kommune={world.b.id}&year=2026",
        "/fakturering/kjoringer",
        f"/fakturering/kjoringer/{run.id}",
        f"/fakturering/kjoringer/{run.id}/utsted",
        f"/fakturering/fakturaer/{issued.invoice_b.id}/krediter",
        "/fakturering/priser/ny",
        f"/fakturering/priser/{version.id}/rediger",
        f"/fakturering/priser/{version.id}/elementer/ny",
        f"/fakturering/priselementer/{element.id}",
        "/fakturering/nokler",
    ]
    admin, finance = browser(world.admin), browser(world.finance_a)
    for path in common + admin_only:
        page = admin.get(path)
        assert page.status_code == 200, path
        assert "<h1>" in page.text and 'href="#main"' in page.text
    for path in common:
        page = finance.get(path)
        assert page.status_code == 200, path
        assert "Beta" not in page.text, path
    for path in admin_only:
        assert finance.get(path).status_code in (403, 404), path
    # The fixed key's percentages read back as the form writes them.
    form = admin.get(f"/fakturering/priselementer/{element.id}")
    assert 'value="equal=1/3, inhabitants=2/3"' in form.text
    sikkerhet = admin.get(f"/fakturering/priser/{version.id}")
    assert "alfa=50, beta=30, gamma=20" in sikkerhet.text
