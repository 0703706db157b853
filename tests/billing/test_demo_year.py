"""A year of demo billing: twelve monthly runs for the five kommuner of the demo (Søgne and
Songdalen became part of Kristiansand on 1 January 2020), issued; in
every month each shared pool (category 1) is split to the øre, and every invoice makes an EHF
document that passes the Peppol BIS Billing 3.0 rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from billing import demo, reports
from billing.allocation import month_of_budget
from billing.assemble import assemble
from billing.ehf import to_ehf
from billing.models import Invoice, InvoiceLine, PriceElement, PriceModelVersion
from billing.schemas import KeyIn
from billing.validate import validate_ehf
from register import demo as register_demo
from register.access import Principal, bind
from register.models import Kommune
from servicedesk.tickets import demo as ticket_demo

TODAY = date(2026, 12, 6)


@pytest.fixture(scope="module")
def year(pg_server, pg_admin, pg_template):  # type: ignore[no-untyped-def]
    """The demo with a year of billing, built once for this module's tests (read-only)."""
    from fellesdrift.kernel.db import make_engine
    from tests.rig.postgres import fresh_database

    with fresh_database(pg_server, pg_admin, pg_template) as url:
        engine = make_engine(url)
        with bind(Session(engine), Principal.system("demo")) as s:
            register_demo.load(s)
            s.commit()
            ticket_demo.load(s)
            s.commit()
            months = demo.billing_months(TODAY)
            demo.load(s, months)
            demo.run_months(s, months)
            s.commit()
        yield engine, months
        engine.dispose()


def _session(engine: Engine) -> Session:
    return bind(Session(engine), Principal.system("test"))


def _expected_pool(element: PriceElement, month: date) -> Decimal:
    if element.monthly_amount is not None:
        return element.monthly_amount
    return month_of_budget(element.annual_budget, month.month)  # type: ignore[arg-type]


def test_twelve_months_issued_for_five_kommuner(year) -> None:  # type: ignore[no-untyped-def]
    engine, months = year
    assert months == [date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 12)]
    with _session(engine) as s:
        invoices = s.exec(select(Invoice).where(Invoice.kind == "invoice")).all()
        assert len(invoices) == 12 * 5
        assert sorted(i.number or 0 for i in invoices) == list(range(1, 61))  # gapless
        merged = s.exec(select(Kommune.id).where(col(Kommune.valid_to).is_not(None))).all()
        assert len(merged) == 2 and not {i.kommune_id for i in invoices} & set(merged)
        assert {i.period_start for i in invoices} == set(months)


def test_category_one_shares_sum_to_each_months_pool_to_the_ore(year) -> None:  # type: ignore[no-untyped-def]
    engine, months = year
    with _session(engine) as s:
        rows = s.exec(
            select(InvoiceLine, Invoice, PriceElement)
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .join(PriceElement, col(PriceElement.id) == col(InvoiceLine.element_id))
            .where(InvoiceLine.category == 1)
        ).all()
        sums: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
        pools: dict[tuple[date, str], Decimal] = {}
        kommuner: dict[tuple[date, str], int] = defaultdict(int)
        for line, invoice, element in rows:
            key = (invoice.period_start, element.code)
            sums[key] += line.net_amount
            kommuner[key] += 1
            pools[key] = _expected_pool(element, invoice.period_start)
            assert line.pool_amount == pools[key]
    assert {m for m, _ in sums} == set(months)
    assert {code for _, code in sums} == {"infrastruktur", "fellessystemer", "sikkerhet"}
    for key, total in sums.items():
        assert total == pools[key], key
        assert kommuner[key] == 5, key
    # The 2026 infrastructure budget: January to November take their twelfths exactly.
    year_2026 = sum(
        v for (m, code), v in sums.items() if code == "infrastruktur" and m.year == 2026
    )
    assert year_2026 == Decimal("14400000.00") - Decimal("1200000.00")


def test_the_month_is_billed_with_the_version_valid_then(year) -> None:  # type: ignore[no-untyped-def]
    engine, _ = year
    with _session(engine) as s:
        prices = {
            (inv.period_start.year, line.unit_price)
            for line, inv in s.exec(
                select(InvoiceLine, Invoice)
                .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
                .where(InvoiceLine.service == "Brukerkonto")
            )
        }
        assert prices == {(2025, Decimal("40.0000")), (2026, Decimal("42.0000"))}
        assert len(s.exec(select(PriceModelVersion)).all()) == 2


def test_every_invoice_of_the_year_passes_the_peppol_rules(year) -> None:  # type: ignore[no-untyped-def]
    engine, _ = year
    with _session(engine) as s:
        ids = s.exec(select(Invoice.id).order_by(col(Invoice.id))).all()
        failures = {}
        for invoice_id in ids:
            doc = assemble(s, invoice_id, with_details=False)  # type: ignore[arg-type]
            problems = validate_ehf(to_ehf(doc))
            if problems:
                failures[doc.number] = problems[:3]
        assert failures == {}


def test_transparency_queries_over_the_year(year) -> None:  # type: ignore[no-untyped-def]
    engine, months = year
    with _session(engine) as s:
        costs = reports.service_costs(s, months[-1])
        infra = next(c for c in costs if c.service == "Felles teknisk infrastruktur")
        assert infra.key_kind == "mix" and infra.total == infra.pool == Decimal("1200000.00")
        assert sum(w for _, w in infra.shares.values() if w is not None) == pytest.approx(
            1, abs=1e-5
        )
        kristiansand = s.exec(
            select(Invoice.kommune_id).where(Invoice.buyer_reference == "1001-IKT")
        ).first()
        ytd = reports.year_to_date(s, kristiansand, 2026)  # type: ignore[arg-type]
        assert [m.month for m in ytd] == months[1:]
        assert all(m.payable == sum(m.by_category.values()) for m in ytd)  # outside VAT
        split = reports.compare_keys(
            s,
            months[-1],
            Decimal("1000000.00"),
            KeyIn.model_validate(
                {
                    "mix": [
                        {"key": "equal", "weight": "1/3"},
                        {"key": "inhabitants", "weight": "2/3"},
                    ]
                }
            ),
            KeyIn.model_validate(
                {
                    "mix": [
                        {"key": "equal", "weight": "30%"},
                        {"key": "inhabitants", "weight": "70%"},
                    ]
                }
            ),
        )
        assert len(split) == 5
        assert (
            sum(r.amount_a for r in split)
            == sum(r.amount_b for r in split)
            == Decimal("1000000.00")
        )
        big = next(r for r in split if r.kommune.startswith("Kristiansand"))
        assert big.amount_b > big.amount_a  # more weight on inhabitants favours the small ones
