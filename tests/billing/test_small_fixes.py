"""Issue 16, item 7: a count for an issued month is refused; VAT categories named by
merverdiavgiftsloven's terms; work types by their Norwegian label, never the raw code; plurals;
"Foretaksregisteret" as a supplier setting; hours priced from the minutes when not rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree
from sqlmodel import col, select

from billing import counts, run
from billing.docformat import unit_label, vat_label
from billing.models import Invoice, InvoiceLine, PriceElement, Supplier
from billing.outputs import render_files
from billing.validate import validate_ehf
from fellesdrift.kernel.problems import Problem
from tests.billing import uiworld
from tests.billing.conftest import MONTH, BillingWorld, act
from tests.billing.uiworld import Issued

issued = uiworld.issued  # the fixture


def test_a_count_for_an_issued_month_is_refused(issued: Issued) -> None:
    world = issued.world
    new_kind = "kommune,kind,label\nalfa,devices,PC-1\n"  # a kind not counted before
    with pytest.raises(Problem) as caught:
        act(world, world.admin, counts.import_count_file, MONTH, new_kind, "pc.csv")
    assert caught.value.status == 409 and caught.value.code == "billing_err.count_month_issued"
    with pytest.raises(Problem):
        act(world, world.admin, counts.snapshot_registers, MONTH)
    with world.session() as s:
        assert "devices" not in {k for _, k, _ in counts.counts_of(s, MONTH)}


def test_vat_categories_use_the_terms_of_the_vat_act() -> None:
    assert vat_label("E", Decimal(0), "nb") == "Unntatt"  # mval. kapittel 3: unntak
    assert vat_label("Z", Decimal(0), "nb") == "Fritatt"  # mval. kapittel 6: fritak (nullsats)
    assert vat_label("O", Decimal(0), "nb") == "Utenfor mva."


def test_units_agree_with_their_number() -> None:
    assert unit_label("MON", "en", Decimal(1)) == "month"
    assert unit_label("MON", "en", Decimal(2)) == "months"
    assert unit_label("HUR", "nb", Decimal(1)) == "time"
    assert unit_label("HUR", "nb", Decimal("1.5")) == "timer"


def test_work_types_are_named_in_norwegian_everywhere(issued: Issued, browser) -> None:  # type: ignore[no-untyped-def]
    world = issued.world
    with world.session() as s:
        lines = s.exec(select(InvoiceLine).where(InvoiceLine.category == 4)).all()
        ehf = (render_files(s, issued.invoice_a.id or 0) or {}).get("ehf", b"")
    assert [x.description for x in lines] == ["Konsulenttimer (kontortid)"]
    assert b"office_hours" not in ehf and b"Konsulenttimer (kontortid)" in ehf
    page = browser(world.finance_a).get(f"/fakturering/fakturaer/{issued.invoice_a.id}")
    assert "office_hours" not in page.text and "Konsulenttimer (kontortid)" in page.text
    assert "1 rader" not in page.text and "(1 rad)" in page.text


def test_the_business_register_statement_is_a_supplier_setting(world: BillingWorld) -> None:
    with world.session() as s:
        supplier = s.exec(select(Supplier)).one()
        supplier.in_business_register = False  # e.g. a vertskommune: not in the register
        s.add(supplier)
        s.commit()
    act(world, world.admin, counts.snapshot_registers, MONTH)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)
    with world.session() as s:
        invoice = s.exec(select(Invoice).order_by(col(Invoice.id))).first()
        assert invoice is not None
        ehf = (render_files(s, invoice.id or 0) or {}).get("ehf", b"")
    ids = etree.fromstring(ehf).xpath(
        "//*[local-name()='PartyTaxScheme']/*[local-name()='CompanyID']/text()"
    )
    assert "Foretaksregisteret" not in ids


def test_unrounded_hours_are_priced_from_the_minutes(world: BillingWorld) -> None:
    with world.session() as s:
        element = s.exec(select(PriceElement).where(PriceElement.code == "konsulent")).one()
        element.rounding, element.rounding_minutes = "none", None
        s.add(element)
        s.commit()
    act(world, world.admin, counts.snapshot_registers, MONTH)
    world.log(world.ticket(world.a), world.a, 58)
    act(world, world.admin, run.draft, MONTH)
    with world.session() as s:
        line = s.exec(select(InvoiceLine).where(InvoiceLine.category == 4)).one()
    assert line.net_amount == Decimal("628.33")  # 58/60 x 650 = 628.333..., not 0.9667 x 650
    for step in (run.review, run.issue):
        act(world, world.admin, step, MONTH)
    with world.session() as s:
        ehf = (render_files(s, line.invoice_id) or {}).get("ehf", b"")
    assert validate_ehf(ehf) == []  # BT-149: 650 kr per 60 minutes, 58 minutes
