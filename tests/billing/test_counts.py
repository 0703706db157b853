"""Count snapshots from the registers and from count files."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from billing import counts
from billing.choices import CountKind
from billing.models import CountItem, CountSnapshot
from fellesdrift.kernel.problems import Problem
from tests.billing.conftest import MONTH, BillingWorld, act


def _snapshots(world: BillingWorld) -> dict[tuple[str, str, str], int]:
    with world.session() as s:
        slugs = {world.a.id: "alfa", world.b.id: "beta", world.c.id: "gamma"}
        return {
            (slugs[x.kommune_id], x.kind, x.subject): x.quantity
            for x in s.exec(select(CountSnapshot))
        }


def test_registers_give_user_accounts_and_licences(world: BillingWorld) -> None:
    world.make.user(world.a, username="anne")
    act(world, world.admin, counts.snapshot_registers, MONTH)
    assert _snapshots(world) == {
        ("alfa", "user_accounts", ""): 2,
        ("beta", "user_accounts", ""): 1,
        ("alfa", "licences", "arkiv"): 40,
        ("beta", "licences", "arkiv"): 15,
    }
    # Taken again, the month's snapshot is replaced, not duplicated.
    act(world, world.admin, counts.snapshot_registers, MONTH)
    with world.session() as s:
        assert s.exec(select(func.count()).select_from(CountSnapshot)).one() == 4
        assert s.exec(select(func.count()).select_from(CountItem)).one() == 3


def test_a_count_file_with_one_row_per_item(world: BillingWorld) -> None:
    text = (
        "Kommune;Kind;DisplayName;sAMAccountName\n"
        "alfa;devices;PC-ALFA-001;1\n"
        f"{world.b.kommunenummer};devices;PC-BETA-001;2\n"
        "Beta;devices;PC-BETA-002;3\n"
        "alfa;mailboxes;post@alfa.no;4\n"
    )
    assert act(world, world.admin, counts.import_count_file, MONTH, text, "ad.csv") == 4
    assert _snapshots(world) == {
        ("alfa", "devices", ""): 1,
        ("beta", "devices", ""): 2,
        ("alfa", "mailboxes", ""): 1,
    }


def test_a_count_file_with_quantities_and_a_kind_for_the_file(world: BillingWorld) -> None:
    text = "kommune,quantity\nalfa,120\ngamma,7\n"
    act(world, world.admin, counts.import_count_file, MONTH, text, "pc.csv", CountKind.DEVICES)
    assert _snapshots(world) == {("alfa", "devices", ""): 120, ("gamma", "devices", ""): 7}


def test_an_unknown_kommune_names_the_line_and_nothing_is_stored(world: BillingWorld) -> None:
    text = "kommune,kind,label\nalfa,devices,PC-1\nomega,devices,PC-2\nalfa,printers,P-1\n"
    with pytest.raises(Problem) as caught:
        act(world, world.admin, counts.import_count_file, MONTH, text, "ad.csv")
    assert caught.value.status == 422
    messages = [str(e) for e in caught.value.errors]
    assert messages[0] == "ad.csv:3: kommune ('omega'): unknown kommune"
    assert messages[1].startswith("ad.csv:4: kind ('printers'): unknown kind")
    assert _snapshots(world) == {}


def test_a_file_without_a_kommune_column_is_refused(world: BillingWorld) -> None:
    with pytest.raises(Problem, match="no kommune column"):
        act(world, world.admin, counts.import_count_file, MONTH, "name,kind\nx,devices\n", "x.csv")
