"""Category 4: billable hours at the rate of their work type, rounded by the model's rule, and
one-off purchases passed through at cost with their own VAT."""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from billing.choices import Rounding
from billing.document import round_ore
from billing.drafts import HOURS, Context, DetailDraft, LineDraft, hours_text
from billing.inputs import TimeRow
from billing.models import PriceElement
from fellesdrift.kernel.i18n import translate


def _billed(e: PriceElement, rows: list[TimeRow]) -> int:
    if e.rounding == Rounding.UP_PER_MONTH and e.rounding_minutes:
        block = e.rounding_minutes
        raw = sum(r.minutes for r in rows)
        return -(-raw // block) * block
    return sum(r.billed_minutes for r in rows)


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(HOURS, ROUND_HALF_UP)


def _ticket_text(row: TimeRow) -> str:
    """The ticket's title, or only that it is confidential (see ``TimeRow.shown_title``)."""
    title = row.shown_title()
    return title if title is not None else f"Fortrolig sak (TLP:{row.tlp.upper()})"


def time_lines(ctx: Context) -> list[LineDraft]:
    rows = ctx.inputs.time
    if not rows:
        return []
    e = ctx.inputs.time_element()
    if e is None:
        entries = sum(r.entries for r in rows)
        ctx.error(
            "time entries",
            "no_rates",
            "{entries} billable entries, but the price model has no hourly rates",
            entries=entries,
        )
        return []
    groups: dict[tuple[int, str], list[TimeRow]] = defaultdict(list)
    for r in rows:
        groups[(r.kommune_id, r.work_type)].append(r)
    lines = []
    for (kommune_id, work_type), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])
    ):
        line = _time_line(ctx, e, kommune_id, work_type, group)
        if line is not None:
            lines.append(line)
    return lines


def _time_line(
    ctx: Context, e: PriceElement, kommune_id: int | None, work_type: str, rows: list[TimeRow]
) -> LineDraft | None:
    entries = sum(r.entries for r in rows)
    tickets = ", ".join(f"#{r.ticket_id}" for r in rows[:5])
    if kommune_id not in ctx.inputs.kommune_ids:
        charged = "{kommune}" if kommune_id else "no kommune"
        ctx.error(
            "time entries",
            "time_not_billed" if kommune_id else "time_no_kommune",
            "{entries} billable entries (tickets {tickets}) are charged "
            f"to {charged}, not billed this month",
            entries=entries,
            tickets=tickets,
            kommune=ctx.name(kommune_id) if kommune_id else "",
        )
        return None
    rate = ctx.inputs.rates.get(e.id or 0, {}).get(work_type)
    if rate is None:
        ctx.error(
            "time entries",
            "no_rate",
            "{entries} billable entries of {kommune} have "
            "work type {work_type!r}, which element {element!r} has no rate for",
            entries=entries,
            kommune=ctx.name(kommune_id),
            work_type=work_type,
            element=e.code,
        )
        return None
    minutes = _billed(e, rows)
    hours = _hours(minutes)
    quantity, unit, base, net = hours, "HUR", Decimal(1), round_ore(hours * rate)
    if hours * 60 != minutes:
        # Minutes that make no whole number of ten-thousandths of an hour (58 min): billed as
        # minutes at the hourly rate per 60 minutes, exact to the øre (628.33, not 628.36).
        quantity, unit, base = Decimal(minutes), "MIN", Decimal(60)
        net = round_ore(Decimal(minutes) * rate / 60)
    cat, pct = ctx.vat
    details = [
        DetailDraft(
            f"#{r.ticket_id} {_ticket_text(r)}: {hours_text(_hours(r.billed_minutes))}",
            _hours(r.billed_minutes),
        )
        for r in rows
    ]
    # The invoice names the work type in Norwegian (the legal record's language), never its code.
    label = translate(f"choice.WorkType.{work_type}", "nb")
    description = f"{e.service} ({work_type if label.startswith('choice.') else label.lower()})"
    return LineDraft(
        kommune_id,
        4,
        e.service,
        description,
        e.id,
        quantity,
        unit,
        rate,
        net,
        cat,
        pct,
        details=details,
        base_quantity=base,
    )


def purchase_lines(ctx: Context) -> list[LineDraft]:
    registered = ctx.vat[0] != "O"
    lines = []
    for p in ctx.inputs.purchases:
        if p.kommune_id not in ctx.inputs.kommune_ids:
            ctx.error(
                f"purchase {p.id}",
                "purchase_not_billed",
                "{kommune} is not billed this month",
                kommune=ctx.name(p.kommune_id),
            )
            continue
        if (p.vat_category == "O") == registered:
            code, why = (
                (
                    "purchase_o",
                    "a VAT-registered supplier cannot pass on an out-of-scope (O) purchase",
                )
                if registered
                else (
                    "purchase_not_o",
                    "the supplier invoices outside VAT, so purchases must be category O",
                )
            )
            ctx.error(f"purchase {p.id} {p.description!r}", code, why, p.vat_category)
            continue
        net = round_ore(p.quantity * p.unit_cost)
        lines.append(
            LineDraft(
                p.kommune_id,
                4,
                p.service,
                p.description,
                None,
                p.quantity,
                "EA",
                p.unit_cost,
                net,
                p.vat_category,
                p.vat_percent,
                details=[DetailDraft(f"Innkjøp {p.purchase_date:%d.%m.%Y}", p.quantity, net)],
            )
        )
    return lines
