"""Price model import: a clear error naming the item for every bad input, and nothing stored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import func, select

from billing import pricemodel
from billing.models import InhabitantFigure, PriceElement, PriceModelVersion, PriceRate
from fellesdrift.kernel.problems import Problem
from tests.billing.conftest import PRICE_MODEL, BillingWorld, act

NEXT = (
    PRICE_MODEL.replace("Prismodell 2026", "Prismodell 2027")
    .replace("valid_from: 2026-01-01", "valid_from: 2027-01-01")
    .replace("valid_to: 2026-12-31", "valid_to: 2027-12-31")
    .replace("date: 2026-01-01", "date: 2027-01-01")
)


def _stored(world: BillingWorld) -> tuple[int, int, int]:
    with world.session() as s:
        return (
            s.exec(select(func.count()).select_from(PriceModelVersion)).one(),
            s.exec(select(func.count()).select_from(PriceElement)).one(),
            s.exec(select(func.count()).select_from(PriceRate)).one(),
        )


def test_the_model_is_stored_with_its_elements_rates_and_figures(pg_world: BillingWorld) -> None:
    assert _stored(pg_world) == (1, 6, 2)
    with pg_world.session() as s:
        infra = s.exec(select(PriceElement).where(PriceElement.code == "infra")).one()
        assert infra.key_spec == [
            {"key": "equal", "weight": "1/3"},
            {"key": "inhabitants", "weight": "2/3"},
        ]
        assert infra.monthly_amount == Decimal("100000.00")
        figures = s.exec(select(InhabitantFigure)).all()
        assert {f.inhabitants for f in figures} == {30000, 12000, 3000}
        assert pricemodel.version_for(s, date(2026, 5, 1)).name == "Prismodell 2026"
        with pytest.raises(Problem, match="no price model version is valid on 2025-12-01"):
            pricemodel.version_for(s, date(2025, 12, 1))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'unit_price: "42.50"',
            'unit_price: "-42.50"',
            "elements\\[3\\] 'brukerkonto' unit_price.*greater than or equal to 0",
        ),
        (
            "valid_from: 2027-01-01",
            "valid_from: 2026-06-01",
            "'Prismodell 2027'.*overlaps the version 'Prismodell 2026'",
        ),
        (
            "kommune: alfa, site: radhus",
            "kommune: omega, site: radhus",
            "elements\\[2\\] 'linje-alfa' owner.kommune \\('omega'\\): unknown kommune",
        ),
        ("system: arkiv", "system: ukjent", "'lisens-arkiv' system \\('ukjent'\\): unknown system"),
        (
            "{alfa: 50, beta: 30, gamma: 20}",
            "{alfa: 50, beta: 30, gamma: 10}",
            "percentages must sum to 100",
        ),
        (
            "figures: {alfa: 30000, beta: 12000, gamma: 3000}",
            "figures: {alfa: 30000, beta: 12000}",
            "'infra' key \\('gamma'\\): splits by inhabitants on 2027-01-01, but Gamma has no",
        ),
        ("weight: 2/3", "weight: 1/2", "weights of the parts must sum to 1"),
        ('rates: {office_hours: "650.00"', 'rates: {office_hours: "-1"', "rates.office_hours"),
    ],
)
def test_bad_input_is_refused_naming_the_item(
    pg_world: BillingWorld, old: str, new: str, message: str
) -> None:
    assert old in NEXT
    before = _stored(pg_world)
    with pytest.raises(Problem, match=message) as caught:
        act(pg_world, pg_world.admin, pricemodel.import_yaml, NEXT.replace(old, new))
    assert caught.value.status == 422
    assert _stored(pg_world) == before


def test_broken_yaml_names_the_line(pg_world: BillingWorld) -> None:
    with pytest.raises(Problem) as caught:
        act(pg_world, pg_world.admin, pricemodel.import_yaml, "versions:\n  - name: [x\n", "p.yaml")
    assert caught.value.errors[0].file == "p.yaml" and caught.value.errors[0].line is not None


def test_a_new_version_and_a_replaced_draft_version(pg_world: BillingWorld) -> None:
    act(pg_world, pg_world.admin, pricemodel.import_yaml, NEXT)
    assert _stored(pg_world)[0] == 2
    cheaper = NEXT.replace('unit_price: "42.50"', 'unit_price: "40.00"')
    act(pg_world, pg_world.admin, pricemodel.import_yaml, cheaper)
    with pg_world.session() as s:
        rows = s.exec(select(PriceElement).where(PriceElement.code == "brukerkonto")).all()
        assert sorted(e.unit_price or 0 for e in rows) == [Decimal("40.0000"), Decimal("42.5000")]


def test_only_the_billing_admin_imports(pg_world: BillingWorld) -> None:
    with pytest.raises(Problem, match="only the billing admin"):
        act(pg_world, pg_world.finance_a, pricemodel.import_yaml, NEXT)
