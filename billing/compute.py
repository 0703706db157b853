"""A month's invoice lines per kommune, computed from the gathered inputs (no database).

Pure functions: the same inputs give the same lines, to the øre, in the same order. Problems
with the inputs are collected (each naming its item) and raised together, so one run shows
the billing admin everything that must be fixed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from billing.allocation import AllocationError, allocate, mix, month_of_budget, parse_fraction
from billing.choices import COUNTED_KEYS, KeyKind
from billing.document import round_ore
from billing.drafts import KEY_LABELS, SHARE, Context, DetailDraft, LineDraft, nok
from billing.hours import purchase_lines, time_lines
from billing.models import PriceElement
from billing.pricemodel import reference_date
from fellesdrift.kernel.problems import invalid

# Re-exported: the run and the reports build these.
__all__ = ["Context", "DetailDraft", "LineDraft", "compute", "key_text", "key_weights"]

# ---- category 1 ------------------------------------------------------------------------------


def _plain_weights(ctx: Context, e: PriceElement, kind: KeyKind) -> dict[int, Fraction]:
    ids = sorted(ctx.inputs.kommune_ids)
    if kind == KeyKind.EQUAL:
        return dict.fromkeys(ids, Fraction(1))
    if kind == KeyKind.INHABITANTS:
        day = reference_date(e, ctx.inputs.version.valid_from)
        figures = ctx.inhabitants.get(day, {})
        for k in ctx.inputs.kommuner:
            if k.id not in figures:
                ctx.error(
                    f"element {e.code!r}",
                    "no_inhabitants",
                    "{kommune} has no inhabitants figure for {day}",
                    kommune=k.name,
                    day=day,
                )
        return {k: Fraction(figures.get(k, 0)) for k in ids}
    count_kind = COUNTED_KEYS[kind].value
    counts, moved = ctx.inputs.counts, ctx.inputs.moved_counts
    for k in ctx.inputs.kommuner:
        if (k.id, count_kind, "") not in counts and (k.id, count_kind, "") not in moved:
            month = f"{ctx.inputs.month:%Y-%m}"
            ctx.error(
                f"element {e.code!r}",
                "no_count",
                "{kommune} has no {kind} count for {month}",
                kommune=k.name,
                kind=count_kind,
                month=month,
            )
    return {k: Fraction(ctx.inputs.count_of(k, count_kind, "")) for k in ids}


def _fixed_weights(ctx: Context, e: PriceElement) -> dict[int, Fraction]:
    slugs = {k.slug: k.id for k in ctx.inputs.kommuner}
    weights = dict.fromkeys(sorted(ctx.inputs.kommune_ids), Fraction(0))
    for slug, share in (e.key_spec or {}).items():
        if slug not in slugs:
            ctx.error(
                f"element {e.code!r}",
                "fixed_inactive",
                "a fixed share names a kommune not active",
                slug,
            )
            continue
        weights[slugs[slug]] = parse_fraction(share)  # type: ignore[index]
    return weights


def key_weights(ctx: Context, e: PriceElement) -> dict[int, Fraction]:
    kind = KeyKind(e.key_kind or KeyKind.EQUAL)
    if kind == KeyKind.FIXED:
        return _fixed_weights(ctx, e)
    if kind == KeyKind.MIX:
        parts = [
            (parse_fraction(p["weight"]), _plain_weights(ctx, e, KeyKind(p["key"])))
            for p in e.key_spec or []
        ]
        return mix(parts)
    return _plain_weights(ctx, e, kind)


def key_text(e: PriceElement) -> str:
    kind = KeyKind(e.key_kind or KeyKind.EQUAL)
    if kind == KeyKind.MIX:
        return " + ".join(
            f"{p['weight']} {KEY_LABELS[KeyKind(p['key'])]}" for p in e.key_spec or []
        )
    return KEY_LABELS[kind]


def pool_of(e: PriceElement, month: date) -> Decimal:
    if e.monthly_amount is not None:
        return e.monthly_amount
    return month_of_budget(e.annual_budget or Decimal("0.00"), month.month)


def _shared(ctx: Context, e: PriceElement) -> list[LineDraft]:
    pool = pool_of(e, ctx.inputs.month)
    weights = key_weights(ctx, e)
    try:
        shares = allocate(pool, weights)
    except AllocationError as exc:
        ctx.errors.append(exc.at(f"element {e.code!r}"))
        return []
    total = sum(weights.values(), Fraction(0)) or Fraction(1)
    cat, pct = ctx.vat
    lines = []
    for kommune_id, share in shares.items():
        part = weights[kommune_id] / total
        fraction = Decimal(part.numerator) / Decimal(part.denominator)
        percent = f"{fraction * 100:.4f}".replace(".", ",")
        text = f"Pott {nok(pool)} kr fordelt etter {key_text(e)}; andel {percent} %"
        lines.append(
            LineDraft(
                kommune_id,
                1,
                e.service,
                e.description or e.service,
                e.id,
                Decimal(1),
                "MON",
                share,
                share,
                cat,
                pct,
                pool,
                e.key_kind,
                fraction.quantize(SHARE, ROUND_HALF_UP),
                [DetailDraft(text)],
            )
        )
    return lines


# ---- categories 2 and 3 ------------------------------------------------------------------------


def _owned(ctx: Context, e: PriceElement) -> list[LineDraft]:
    if e.owner_kommune_id not in ctx.inputs.kommune_ids:
        ctx.error(
            f"element {e.code!r}",
            "owner_inactive",
            "its owner kommune is not active this month",
            e.owner_kommune_id,
        )
        return []
    amount = e.monthly_amount or Decimal("0.00")
    cat, pct = ctx.vat
    return [
        LineDraft(
            e.owner_kommune_id,
            2,
            e.service,
            e.description or e.service,
            e.id,
            Decimal(1),
            "MON",
            amount,
            amount,
            cat,
            pct,
        )
    ]


def _per_unit(ctx: Context, e: PriceElement) -> list[LineDraft]:
    subject = ctx.systems.get(e.ci_id, "") if e.ci_id is not None else ""
    kind = e.count_kind or ""
    counts = ctx.inputs.counts
    if not any(k[1] == kind and k[2] == subject for k in (*counts, *ctx.inputs.moved_counts)):
        month = f"{ctx.inputs.month:%Y-%m}"
        what = "{kind} of {system}" if subject else "{kind}"
        ctx.error(
            f"element {e.code!r}",
            "no_licence_count" if subject else "no_unit_count",
            f"there is no count of {what} for {{month}}; snapshot the registers or import a "
            "count file",
            kind=kind,
            system=subject,
            month=month,
        )
        return []
    price = e.unit_price or Decimal("0")
    cat, pct = ctx.vat
    unit = "EA"
    lines = []
    for kommune_id in sorted(ctx.inputs.kommune_ids):
        key = (kommune_id, kind, subject)
        own = [("", *counts.get(key, (0, 0)))]
        # A merged kommune's counts: a line of their own, specified by their snapshot.
        for name, quantity, snapshot_id in own + ctx.inputs.moved_counts.get(key, []):
            if quantity == 0:
                continue
            text = e.description or e.service
            lines.append(
                LineDraft(
                    kommune_id,
                    3,
                    e.service,
                    f"{text} ({name})" if name else text,
                    e.id,
                    Decimal(quantity),
                    unit,
                    price,
                    round_ore(Decimal(quantity) * price),
                    cat,
                    pct,
                    snapshot_id=snapshot_id or None,
                )
            )
    return lines


# ---- the month --------------------------------------------------------------------------------


def _unbilled_counts(ctx: Context) -> None:
    """Counts of a kommune neither billed this month nor merged into one that is are named,
    never dropped without a word."""
    for (kommune_id, kind, _), (quantity, _) in sorted(ctx.inputs.counts.items()):
        if quantity and kommune_id not in ctx.inputs.kommune_ids:
            ctx.error(
                "counts",
                "count_not_billed",
                "{kommune} has a {kind} count of {quantity} for {month} but is not billed that "
                "month and has no successor that is; end it with its successor, or replace the "
                "count",
                kommune=ctx.name(kommune_id),
                kind=kind,
                quantity=quantity,
                month=f"{ctx.inputs.month:%Y-%m}",
            )


def compute(ctx: Context) -> dict[int, list[LineDraft]]:
    """The month's lines per kommune id, in a fixed order; raises 422 listing every problem."""
    lines: list[LineDraft] = []
    for e in ctx.inputs.elements:
        if e.category == 1:
            lines += _shared(ctx, e)
        elif e.category == 2:
            lines += _owned(ctx, e)
        elif e.category == 3:
            lines += _per_unit(ctx, e)
    lines += time_lines(ctx)
    lines += purchase_lines(ctx)
    _unbilled_counts(ctx)
    billed = {line.kommune_id for line in lines}
    for k in ctx.inputs.kommuner:
        if k.id in billed and not k.buyer_reference.strip():
            ctx.error(
                f"kommune {k.name}",
                "no_buyer_reference",
                "has no buyer reference (Deres ref.), which EHF "
                "invoices must carry; set it in the register",
            )
    if ctx.errors:
        raise invalid(ctx.errors[:100], f"nothing was drafted: {ctx.errors[0]}")
    per_kommune: dict[int, list[LineDraft]] = defaultdict(list)
    for line in lines:
        per_kommune[line.kommune_id].append(line)
    return dict(sorted(per_kommune.items()))
