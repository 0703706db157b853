"""The billing admin's set-up: supplier, purchases, editing a stored version."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from billing import counts, pricemodel, run, setup
from billing.models import InvoiceLine, PriceElement, PriceRate, Supplier
from billing.schemas import PriceModelIn, PurchaseIn, SupplierIn
from fellesdrift.kernel.problems import Problem
from tests.billing.conftest import MONTH, BillingWorld, act

SUPPLIER = dict(name="Knutepunkt IKT", orgnr="998877660", bank_account="2801.10.00004")


def _elements(world: BillingWorld) -> list[tuple]:
    with world.session() as s:
        rows = s.exec(select(PriceElement).order_by(PriceElement.code)).all()
        rates = s.exec(select(PriceRate.work_type, PriceRate.rate)).all()
        return [
            (e.code, e.key_kind, e.key_spec, e.unit_price, e.owner_site_id) for e in rows
        ] + sorted(rates)


def test_a_stored_version_round_trips_through_its_input_shape(pg_world: BillingWorld) -> None:
    before = _elements(pg_world)
    with pg_world.session(pg_world.admin) as s:
        version_id = pricemodel.version_for(s, MONTH).id
        edited = setup.version_as_input(s, version_id)  # type: ignore[arg-type]
    act(pg_world, pg_world.admin, pricemodel.import_model, PriceModelIn(versions=[edited]))
    assert _elements(pg_world) == before
    cheaper = edited.model_copy(deep=True)
    cheaper.elements[3].unit_price = Decimal("39.00")
    act(pg_world, pg_world.admin, pricemodel.import_model, PriceModelIn(versions=[cheaper]))
    with pg_world.session() as s:
        element = s.exec(select(PriceElement).where(PriceElement.code == "brukerkonto")).one()
        assert element.unit_price == Decimal("39.0000")


def test_the_supplier_is_checked_like_ehf_needs(pg_world: BillingWorld) -> None:
    act(pg_world, pg_world.admin, setup.set_supplier, SupplierIn(**SUPPLIER, vat_registered=True))
    with pg_world.session() as s:
        supplier = s.exec(select(Supplier)).one()
        assert (supplier.bank_account, supplier.vat_registered) == ("28011000004", True)
    with pytest.raises(ValueError, match="MOD11"):
        SupplierIn(**SUPPLIER | {"bank_account": "28011000005"})
    with pytest.raises(ValueError, match="orgnr"):
        SupplierIn(**SUPPLIER | {"orgnr": "998877661"})
    with pytest.raises(Problem, match="only the billing admin"):
        act(pg_world, pg_world.finance_a, setup.set_supplier, SupplierIn(**SUPPLIER))


def _purchase(world: BillingWorld, **kw) -> PurchaseIn:  # type: ignore[no-untyped-def]
    data = {
        "kommune_id": world.a.id,
        "purchase_date": date(2026, 10, 15),
        "description": "Nettverkssvitsj",
        "quantity": "2",
        "unit_cost": "7450.00",
        "vat_category": "O",
    }
    return PurchaseIn.model_validate(data | kw)


def test_a_purchase_is_passed_through_at_cost_and_locked_with_its_month(
    pg_world: BillingWorld,
) -> None:
    w = pg_world
    act(w, w.admin, setup.add_purchase, _purchase(w))
    with pytest.raises(Problem, match="outside VAT, so purchases are category O"):
        act(w, w.admin, setup.add_purchase, _purchase(w, vat_category="S", vat_percent="25"))
    with pytest.raises(ValueError, match="does not fit VAT category S"):
        _purchase(w, vat_category="S")
    act(w, w.admin, counts.snapshot_registers, MONTH)
    for step in (run.draft, run.review, run.issue):
        act(w, w.admin, step, MONTH)
    with w.session() as s:
        line = s.exec(select(InvoiceLine).where(InvoiceLine.description == "Nettverkssvitsj")).one()
        assert (line.net_amount, line.vat_category, line.category) == (Decimal("14900.00"), "O", 4)
    with pytest.raises(Problem, match="2026-10 is invoiced"):
        act(w, w.admin, setup.add_purchase, _purchase(w))
