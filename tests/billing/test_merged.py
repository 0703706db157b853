"""A merged kommune: after its end, its counts and hours belong to its successor (DOMAIN.md,
"Kommuner change over time"), one rule for both; nothing is dropped without a word."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import col, select

from billing import counts, run
from billing.assemble import line_details
from billing.models import Invoice, InvoiceLine
from fellesdrift.kernel.problems import Problem
from register.models import Kommune
from tests.billing.conftest import MONTH, BillingWorld, act


def _merge_into_alfa(world: BillingWorld, name: str = "Delta") -> Kommune:
    delta = world.make.kommune(name, buyer_reference="DELTA-IT")
    with world.make.session() as s:
        row = s.get(Kommune, delta.id)
        assert row is not None
        row.valid_to, row.successor_id = date(2026, 9, 30), world.a.id
        s.add(row)
        s.commit()
    return delta


def _alfa_lines(world: BillingWorld) -> list[InvoiceLine]:
    with world.session() as s:
        return list(
            s.exec(
                select(InvoiceLine)
                .join(Invoice)
                .where(Invoice.kommune_id == world.a.id)
                .order_by(col(InvoiceLine.position))
            )
        )


def test_counts_and_hours_of_a_merged_kommune_go_to_its_successor(world: BillingWorld) -> None:
    delta = _merge_into_alfa(world)
    act(world, world.admin, counts.snapshot_registers, MONTH)
    accounts = "kommune,kind,label\n" + "".join(
        f"delta,user_accounts,Bruker {i}\n" for i in range(3)
    )
    act(world, world.admin, counts.import_count_file, MONTH, accounts, "delta.csv")
    world.log(world.ticket(delta, "Skriver i Delta"), delta, 60)
    act(world, world.admin, run.draft, MONTH)
    lines = _alfa_lines(world)
    with world.session() as s:
        details = line_details(s, lines)
    accounts_lines = [x for x in lines if x.service == "Brukerkonto"]
    assert sum(x.quantity for x in accounts_lines) == Decimal(4)  # Alfa's 1 and Delta's 3
    assert sum(x.net_amount for x in accounts_lines) == Decimal("170.00")
    delta_line = next(x for x in accounts_lines if "Delta" in x.description)
    assert [d.text for d in details[delta_line.id or 0]] == [f"Bruker {i}" for i in range(3)]
    hours = [d.text for x in lines if x.category == 4 for d in details[x.id or 0]]
    assert any("Skriver i Delta: 1 t" in t for t in hours)
    with world.session() as s:
        assert not s.exec(select(Invoice).where(Invoice.kommune_id == delta.id)).all()


def test_counts_of_an_ended_kommune_without_successor_are_named(world: BillingWorld) -> None:
    ended = world.make.kommune("Epsilon", buyer_reference="E", valid_to=date(2026, 9, 30))
    act(world, world.admin, counts.snapshot_registers, MONTH)
    act(
        world,
        world.admin,
        counts.import_count_file,
        MONTH,
        "kommune,kind,label\nepsilon,user_accounts,Ola\n",
        "e.csv",
    )
    with pytest.raises(Problem) as caught:
        act(world, world.admin, run.draft, MONTH)
    assert "Epsilon" in str(caught.value.detail)
    assert ended.id is not None
