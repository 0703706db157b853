"""Splitting a pool of money by weights, exactly to the øre.

Each share's exact quota (pool x weight / total, a rational number) is rounded down to the øre;
the øre left over (fewer than the number of shares) go one each to the largest remainders.
Ties are broken by the larger weight, then by the key's order, never by the order the weights
were given in: the same inputs always give the same shares, and the shares always sum to the
pool (Hamilton's method, "largest remainder").
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from billing.errors import CodedError

K = TypeVar("K", bound=Hashable)
ORE = Decimal("0.01")
Weight = int | Decimal | Fraction


class AllocationError(CodedError):
    """The pool or the weights cannot be allocated; the message says which."""


def to_ore(amount: Decimal) -> int:
    """An amount in whole øre; refuses fractions of an øre."""
    ore = amount * 100
    if ore != ore.to_integral_value():
        raise AllocationError("not_ore", "{amount} is not a whole number of øre", amount=amount)
    return int(ore)


def from_ore(ore: int) -> Decimal:
    return (Decimal(ore) / 100).quantize(ORE)


def _fractions(weights: Mapping[K, Weight]) -> dict[K, Fraction]:
    out: dict[K, Fraction] = {}
    for key, weight in weights.items():
        value = Fraction(weight)
        if value < 0:
            raise AllocationError(
                "negative_weight_for", "negative weight {weight} for {key}", weight=weight, key=key
            )
        out[key] = value
    return out


def _order(key: Any) -> tuple[str, Any]:
    # Keys of one call share a type in practice; the type name keeps mixed keys comparable.
    return (type(key).__name__, key)


def allocate(pool: Decimal, weights: Mapping[K, Weight]) -> dict[K, Decimal]:
    """Split ``pool`` (a non-negative amount in øre) over ``weights``; shares sum to ``pool``."""
    if pool < 0:
        raise AllocationError("negative_pool", "the pool {pool} is negative", pool=pool)
    ore = to_ore(pool)
    exact = _fractions(weights)
    total = sum(exact.values(), Fraction(0))
    if not exact:
        raise AllocationError("no_one", "there is no one to share the pool between")
    if total == 0:
        raise AllocationError(
            "zero_weights", "all weights are zero, so the pool cannot be split by them"
        )
    quotas = {key: ore * w / total for key, w in exact.items()}
    floors = {key: q.numerator // q.denominator for key, q in quotas.items()}
    left = ore - sum(floors.values())
    ranked = sorted(quotas, key=lambda k: (-(quotas[k] - floors[k]), -exact[k], _order(k)))
    for key in ranked[:left]:
        floors[key] += 1
    return {key: from_ore(floors[key]) for key in weights}


def mix(parts: Sequence[tuple[Weight, Mapping[K, Weight]]]) -> dict[K, Fraction]:
    """Combine keys, e.g. ``[(Fraction(1, 3), equal), (Fraction(2, 3), inhabitants)]``.

    Each part's weights are first turned into shares of one; the result is each key's exact
    combined share, to be allocated in one go (one rounding, so the pool is met exactly). The
    part weights must sum to one.
    """
    fractions = [Fraction(w) for w, _ in parts]
    if any(f < 0 for f in fractions) or sum(fractions, Fraction(0)) != 1:
        shown = " + ".join(str(f) for f in fractions)
        raise AllocationError(
            "mix_parts_sum", "the parts of a weighted key must sum to 1, not {shown}", shown=shown
        )
    combined: dict[K, Fraction] = {}
    for fraction, weights in zip(fractions, (p[1] for p in parts), strict=True):
        exact = _fractions(weights)
        total = sum(exact.values(), Fraction(0))
        if total == 0 and fraction != 0:
            raise AllocationError("mix_part_zero", "a part of a weighted key has only zero weights")
        for key, w in exact.items():
            share = fraction * w / total if total else Fraction(0)
            combined[key] = combined.get(key, Fraction(0)) + share
    return combined


def parse_fraction(text: str | int | float | Decimal) -> Fraction:
    """``"1/3"``, ``"0.3"``, ``"30%"`` or a number, as an exact fraction."""
    if isinstance(text, float):
        text = repr(text)
    value = str(text).strip()
    try:
        if value.endswith("%"):
            return Fraction(Decimal(value[:-1].strip())) / 100
        return Fraction(value)
    except (ValueError, ZeroDivisionError, ArithmeticError) as exc:
        raise AllocationError(
            "not_fraction", "{text!r} is not a fraction (e.g. 1/3, 0.3 or 30%)", text=text
        ) from exc


def month_of_budget(budget: Decimal, month: int) -> Decimal:
    """The part of an annual budget billed in ``month`` (1-12): the twelve parts sum to the
    budget exactly, the earlier months taking the leftover øre."""
    if not 1 <= month <= 12:
        raise AllocationError("bad_month", "month {month} is not 1-12", month=month)
    parts = allocate(budget, {m: 1 for m in range(1, 13)})
    return parts[month]
