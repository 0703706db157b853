"""Rounding of time (category 4) and of money to the øre: hypothesis property tests, with the
per-entry rounding evaluated by the database exactly as the run's aggregate query does it."""

from __future__ import annotations

import math
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.choices import Rounding
from billing.document import round_ore
from billing.hours import _billed, _hours
from billing.inputs import TimeRow, _billed_minutes
from billing.models import PriceElement
from servicedesk.tickets.models import TimeEntry

minutes_lists = st.lists(st.integers(min_value=1, max_value=24 * 60), min_size=1, max_size=40)
blocks = st.sampled_from([1, 5, 6, 10, 15, 30, 60])
ENGINE = sa.create_engine("sqlite://")


def _element(rounding: Rounding, block: int) -> PriceElement:
    return PriceElement(
        version_id=1,
        code="timer",
        category=4,
        service="Timer",
        rounding=rounding.value,
        rounding_minutes=block,
    )


def _sql_rounded(minutes: int, element: PriceElement) -> int:
    """The run's SQL expression for one entry, evaluated by SQLite on a one-row table."""
    table = TimeEntry.__table__  # type: ignore[attr-defined]
    with ENGINE.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS time_entry (minutes INTEGER)")
        connection.exec_driver_sql("DELETE FROM time_entry")
        connection.execute(
            sa.insert(sa.table("time_entry", sa.column("minutes"))), {"minutes": minutes}
        )
        return int(
            connection.execute(sa.select(_billed_minutes(element)).select_from(table)).scalar_one()
        )


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=24 * 60), blocks)
def test_sql_rounds_each_entry_up_to_a_started_block(minutes: int, block: int) -> None:
    billed = _sql_rounded(minutes, _element(Rounding.UP_PER_ENTRY, block))
    assert billed == math.ceil(minutes / block) * block
    assert billed % block == 0 and minutes <= billed < minutes + block


def _rows(minutes: list[int], block: int) -> list[TimeRow]:
    return [
        TimeRow(1, "office_hours", i, "t", 1, m, math.ceil(m / block) * block)
        for i, m in enumerate(minutes)
    ]


@settings(max_examples=200, deadline=None)
@given(minutes_lists, blocks)
def test_per_entry_rounding_never_bills_less_than_per_month(minutes: list[int], block: int) -> None:
    rows = _rows(minutes, block)
    per_entry = _billed(_element(Rounding.UP_PER_ENTRY, block), rows)
    per_month = _billed(_element(Rounding.UP_PER_MONTH, block), rows)
    raw = _billed(
        _element(Rounding.NONE, block), [TimeRow(1, "o", 1, "t", 1, m, m) for m in minutes]
    )
    assert raw == sum(minutes)
    assert per_month == math.ceil(raw / block) * block
    assert raw <= per_month <= per_entry < raw + len(minutes) * block


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_hours_of_quarter_blocks_are_exact_and_priced_to_the_ore(
    quarters: int, rate_ore: int
) -> None:
    hours = _hours(quarters * 15)
    assert hours * 4 == quarters  # quarter hours have an exact 4-decimal form
    rate = Decimal(rate_ore) / 100
    net = round_ore(hours * rate)
    assert net == net.quantize(Decimal("0.01"))
    assert abs(net - hours * rate) <= Decimal("0.005")
