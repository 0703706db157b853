"""Transparency: what each service costs, by which key it is split and each kommune's share;
the year to date per kommune; two keys side by side. And small look-ups for the CLI and UI.

Every query reads through the caller's session, so the access rules decide what it contains:
a kommune's finance user sees their own kommune's issued invoices (with each pool and key),
the billing admin sees every kommune and the drafts too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlmodel import Session, col, select

from billing.allocation import allocate
from billing.choices import InvoiceKind
from billing.compute import Context, key_text, key_weights
from billing.counts import first_of_month
from billing.inputs import Inputs, _counts, month_end
from billing.models import Invoice, InvoiceLine, PriceElement
from billing.permissions import require_billing_admin
from billing.pricemodel import inhabitants_on, kommuner_in, version_for
from billing.schemas import KeyIn
from fellesdrift.kernel.problems import not_found
from register.models import Kommune

ZERO = Decimal("0.00")


def _sign(invoice: Invoice) -> int:
    return -1 if invoice.kind == InvoiceKind.CREDIT_NOTE else 1


def run_summary(session: Session, month: date) -> list[dict[str, Any]]:
    """The month's invoices (not credit notes): number, kommune, totals."""
    rows = session.exec(
        select(Invoice, Kommune)
        .join(Kommune, col(Kommune.id) == col(Invoice.kommune_id))
        .where(Invoice.period_start == first_of_month(month), Invoice.kind == "invoice")
        .order_by(col(Kommune.kommunenummer))
    )
    return [
        {
            "invoice_id": i.id,
            "number": i.document_number,
            "kommune": k.name,
            "kommune_id": k.id,
            "net": i.net_total,
            "vat": i.vat_total,
            "payable": i.payable,
        }
        for i, k in rows
    ]


def credit_by_number(
    session: Session, number: str, reason: str, positions: list[int] | None = None
) -> Invoice:
    """Credit an invoice named by its document number, optionally only some line positions."""
    from billing.credit import credit

    invoice = session.exec(select(Invoice).where(Invoice.document_number == number)).first()
    if invoice is None:
        raise not_found(f"invoice {number}")
    line_ids = None
    if positions:
        lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
        by_position = {x.position: x.id for x in lines}
        line_ids = [by_position.get(p, -p) for p in positions]
    return credit(session, invoice.id, reason, line_ids)  # type: ignore[arg-type]


# ---- per service ---------------------------------------------------------------------------


@dataclass
class ServiceCost:
    """One service of a month: its category, key, pool (category 1) and each kommune's part."""

    category: int
    service: str
    key_kind: str | None
    pool: Decimal | None
    total: Decimal = ZERO
    #: kommune id -> (amount, share of the pool as a fraction 0..1 for category 1)
    shares: dict[int, tuple[Decimal, Decimal | None]] = field(default_factory=dict)


def service_costs(session: Session, month: date) -> list[ServiceCost]:
    """Per service its cost, key and each visible kommune's share, from the month's invoices
    (credit notes deducted)."""
    stmt = (
        select(InvoiceLine, Invoice)
        .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
        .where(Invoice.period_start == first_of_month(month))
        .order_by(col(InvoiceLine.category), col(InvoiceLine.service))
    )
    out: dict[tuple[int, str], ServiceCost] = {}
    for line, invoice in session.exec(stmt):
        cost = out.setdefault(
            (line.category, line.service),
            ServiceCost(line.category, line.service, line.key_kind, line.pool_amount),
        )
        amount = _sign(invoice) * line.net_amount
        cost.total += amount
        before, weight = cost.shares.get(invoice.kommune_id, (ZERO, line.key_weight))
        cost.shares[invoice.kommune_id] = (before + amount, weight)
    return list(out.values())


# ---- year to date ----------------------------------------------------------------------------


@dataclass
class MonthTotals:
    month: date
    by_category: dict[int, Decimal]
    net: Decimal
    vat: Decimal
    payable: Decimal


def year_to_date(
    session: Session, kommune_id: int, year: int, through: date | None = None
) -> list[MonthTotals]:
    """A kommune's issued invoices and credit notes per month of ``year`` (through a month)."""
    last = through or date(year, 12, 1)
    invoices = session.exec(
        select(Invoice).where(
            Invoice.kommune_id == kommune_id,
            col(Invoice.number).is_not(None),
            col(Invoice.period_start) >= date(year, 1, 1),
            col(Invoice.period_start) <= first_of_month(last),
        )
    ).all()
    ids = [i.id for i in invoices]
    lines = session.exec(select(InvoiceLine).where(col(InvoiceLine.invoice_id).in_(ids))).all()
    by_invoice = {i.id: i for i in invoices}
    months: dict[date, MonthTotals] = {}
    for i in invoices:
        m = months.setdefault(
            i.period_start, MonthTotals(i.period_start, defaultdict(lambda: ZERO), ZERO, ZERO, ZERO)
        )
        s = _sign(i)
        m.net, m.vat, m.payable = (
            m.net + s * i.net_total,
            m.vat + s * i.vat_total,
            m.payable + s * i.payable,
        )
    for line in lines:
        i = by_invoice[line.invoice_id]
        months[i.period_start].by_category[line.category] += _sign(i) * line.net_amount
    return [months[k] for k in sorted(months)]


# ---- two keys side by side ---------------------------------------------------------------------


@dataclass
class KeyComparison:
    kommune_id: int
    kommune: str
    share_a: Decimal
    share_b: Decimal
    amount_a: Decimal
    amount_b: Decimal

    @property
    def difference(self) -> Decimal:
        return self.amount_b - self.amount_a


def _light_inputs(session: Session, month: date) -> Inputs:
    version = version_for(session, month)
    return Inputs(
        month=month,
        end=month_end(month),
        version=version,
        kommuner=kommuner_in(session, month, month_end(month)),
        elements=[],
        rates={},
        counts=_counts(session, month),
        time=[],
        purchases=[],
    )


def _weights(ctx: Context, key: KeyIn, inhabitants_date: date | None) -> dict[int, Fraction]:
    element = PriceElement(
        version_id=0,
        code="comparison",
        category=1,
        service=key_text_of(key),
        key_kind=key.kind.value,
        key_spec=key.spec(),
        inhabitants_date=inhabitants_date,
    )
    return key_weights(ctx, element)


def key_text_of(key: KeyIn) -> str:
    return key_text(
        PriceElement(
            version_id=0,
            code="k",
            category=1,
            service="",
            key_kind=key.kind.value,
            key_spec=key.spec(),
        )
    )


def compare_keys(
    session: Session,
    month: date,
    pool: Decimal,
    key_a: KeyIn,
    key_b: KeyIn,
    inhabitants_date: date | None = None,
) -> list[KeyComparison]:
    """``pool`` split by two keys for the month's kommuner, side by side (for the board).
    Slugs in a fixed key are the kommuner's slugs; raises 422 if a key lacks its figures."""
    from fellesdrift.kernel.problems import invalid

    require_billing_admin(session)
    month = first_of_month(month)
    inputs = _light_inputs(session, month)
    day = inhabitants_date or date(inputs.version.valid_from.year, 1, 1)
    ctx = Context(inputs, ("O", ZERO), {day: inhabitants_on(session, day)}, {})
    weights_a, weights_b = _weights(ctx, key_a, day), _weights(ctx, key_b, day)
    if ctx.errors:
        raise invalid(ctx.errors)
    a, b = allocate(pool, weights_a), allocate(pool, weights_b)
    total_a, total_b = sum(weights_a.values()), sum(weights_b.values())
    rows = []
    for k in inputs.kommuner:
        kid = k.id or 0
        share_a = _fraction(weights_a[kid] / total_a)
        share_b = _fraction(weights_b[kid] / total_b)
        rows.append(KeyComparison(kid, k.name, share_a, share_b, a[kid], b[kid]))
    return rows


def _fraction(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.000001"))
