"""Allocation of a pool by weights: property tests (hypothesis) and the worked examples."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.allocation import (
    AllocationError,
    allocate,
    mix,
    month_of_budget,
    parse_fraction,
)

pools = st.integers(min_value=0, max_value=10**11).map(lambda ore: Decimal(ore) / 100)
weight_maps = st.dictionaries(
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=0, max_value=10**6),
    min_size=1,
    max_size=60,
).filter(lambda w: sum(w.values()) > 0)


@settings(max_examples=300, deadline=None)
@given(pools, weight_maps)
def test_shares_sum_exactly_to_the_pool_and_are_never_negative(pool, weights):
    shares = allocate(pool, weights)
    assert sum(shares.values()) == pool
    assert all(s >= 0 for s in shares.values())
    assert all(s == s.quantize(Decimal("0.01")) for s in shares.values())
    assert set(shares) == set(weights)


@settings(max_examples=300, deadline=None)
@given(pools, weight_maps, st.randoms(use_true_random=False))
def test_shares_do_not_depend_on_the_order_of_the_weights(pool, weights, rnd):
    items = list(weights.items())
    rnd.shuffle(items)
    assert allocate(pool, dict(items)) == allocate(pool, weights)


@settings(max_examples=300, deadline=None)
@given(pools, weight_maps)
def test_each_share_is_within_one_ore_of_its_exact_quota(pool, weights):
    total = sum(weights.values())
    for key, share in allocate(pool, weights).items():
        exact = Fraction(pool) * weights[key] / total
        assert abs(Fraction(share) - exact) < Fraction(1, 100)


@settings(max_examples=200, deadline=None)
@given(pools, weight_maps)
def test_a_zero_weight_gets_nothing_and_equal_weights_differ_by_at_most_one_ore(pool, weights):
    shares = allocate(pool, weights)
    for key, w in weights.items():
        if w == 0:
            assert shares[key] == 0
    by_weight: dict[int, list[Decimal]] = {}
    for key, w in weights.items():
        by_weight.setdefault(w, []).append(shares[key])
    for same in by_weight.values():
        assert max(same) - min(same) <= Decimal("0.01")


@settings(max_examples=200, deadline=None)
@given(
    pools,
    weight_maps,
    st.fractions(min_value=0, max_value=1),
)
def test_a_weighted_mix_also_sums_to_the_pool(pool, inhabitants, equal_part):
    equal = dict.fromkeys(inhabitants, 1)
    combined = mix([(equal_part, equal), (1 - equal_part, inhabitants)])
    assert sum(combined.values()) == 1
    shares = allocate(pool, combined)
    assert sum(shares.values()) == pool
    assert all(s >= 0 for s in shares.values())


def test_the_tie_break_is_by_weight_then_key() -> None:
    # 0.02 over three equal weights: two keys get an øre; the lowest keys, whatever the order.
    assert allocate(Decimal("0.02"), {3: 1, 1: 1, 2: 1}) == {
        3: Decimal("0.00"),
        1: Decimal("0.01"),
        2: Decimal("0.01"),
    }
    # Equal remainders: the larger weight wins before the key order.
    shares = allocate(Decimal("0.01"), {"a": 1, "b": 1, "c": 2, "d": 2})
    assert shares["c"] == Decimal("0.01") and sum(shares.values()) == Decimal("0.01")


def test_one_third_equal_and_two_thirds_by_inhabitants() -> None:
    inhabitants = {"arendal": 45_000, "grimstad": 24_000, "froland": 6_000}
    weights = mix([(Fraction(1, 3), dict.fromkeys(inhabitants, 1)), (Fraction(2, 3), inhabitants)])
    shares = allocate(Decimal("100000.00"), weights)
    # arendal: 1/3 x 1/3 + 2/3 x 45/75 = 1/9 + 2/5 = 23/45 of the pool
    assert shares["arendal"] == Decimal("51111.11")
    assert shares["grimstad"] == Decimal("32444.44") + Decimal("0.01")  # the largest remainder
    assert sum(shares.values()) == Decimal("100000.00")


@pytest.mark.parametrize(
    ("pool", "weights", "message"),
    [
        (Decimal("-1.00"), {1: 1}, "negative"),
        (Decimal("1.001"), {1: 1}, "øre"),
        (Decimal("1.00"), {}, "no one"),
        (Decimal("1.00"), {1: 0, 2: 0}, "zero"),
        (Decimal("1.00"), {1: -1, 2: 3}, "negative weight -1 for 1"),
    ],
)
def test_bad_pools_and_weights_are_refused_with_a_reason(pool, weights, message) -> None:
    with pytest.raises(AllocationError, match=message):
        allocate(pool, weights)


def test_mix_parts_must_sum_to_one() -> None:
    with pytest.raises(AllocationError, match="sum to 1"):
        mix([(Fraction(1, 2), {1: 1}), (Fraction(1, 3), {1: 1})])


@pytest.mark.parametrize(
    ("text", "value"),
    [("1/3", Fraction(1, 3)), ("0.3", Fraction(3, 10)), ("30%", Fraction(3, 10)), (1, Fraction(1))],
)
def test_fractions_are_parsed_exactly(text, value) -> None:
    assert parse_fraction(text) == value


def test_a_bad_fraction_is_named() -> None:
    with pytest.raises(AllocationError, match="'a third'"):
        parse_fraction("a third")


@settings(max_examples=100, deadline=None)
@given(pools)
def test_an_annual_budget_spreads_over_twelve_months_exactly(budget):
    months = [month_of_budget(budget, m) for m in range(1, 13)]
    assert sum(months) == budget
    assert max(months) - min(months) <= Decimal("0.01")
    assert months == sorted(months, reverse=True)
