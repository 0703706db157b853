"""Writing a run's invoices, lines and details (bulk statements) and clearing drafts."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col

from billing.choices import InvoiceKind
from billing.compute import LineDraft
from billing.document import round_ore
from billing.inputs import Inputs
from billing.models import CountItem, Invoice, InvoiceLine, InvoiceLineDetail, InvoiceRun
from billing.numbering import INVOICE_SERIES
from billing.types import Money
from servicedesk.models import Kommune

ZERO = Decimal("0.00")
#: Bulk statements: the session holds none of these rows, so there is nothing to synchronise.
BULK = {"synchronize_session": False}


def totals(lines: list[tuple[str, Decimal, Decimal]]) -> tuple[Decimal, Decimal]:
    """(net, VAT) of (category, percent, net) lines: VAT per category and rate, rounded once
    per group (EN 16931 BR-CO-17), as the EHF breakdown does."""
    groups: dict[tuple[str, Decimal], Decimal] = defaultdict(lambda: ZERO)
    for category, percent, net in lines:
        groups[(category, percent.normalize())] += net
    net_total = sum(groups.values(), ZERO)
    vat = sum((round_ore(net * pct / 100) for (_, pct), net in groups.items()), ZERO)
    return net_total, vat


def _invoice_row(
    run: InvoiceRun, kommune: Kommune, inputs: Inputs, drafts: list[LineDraft]
) -> dict:
    net, vat = totals([(d.vat_category, d.vat_percent, d.net_amount) for d in drafts])
    return {
        "run_id": run.id,
        "kommune_id": kommune.id,
        "kind": InvoiceKind.INVOICE.value,
        "vat_group": "outside" if drafts[0].vat_category == "O" else "standard",
        "series": INVOICE_SERIES,
        "period_start": inputs.month,
        "period_end": inputs.end,
        "buyer_reference": kommune.buyer_reference,
        "currency": "NOK",
        "net_total": net,
        "vat_total": vat,
        "payable": net + vat,
        "note": "",
        "created_at": run.drafted_at,
    }


def _line_row(invoice_id: int, position: int, d: LineDraft, inputs: Inputs) -> dict:
    return {
        "invoice_id": invoice_id,
        "position": position,
        "category": d.category,
        "service": d.service[:160],
        "description": d.description[:300],
        "element_id": d.element_id,
        "quantity": d.quantity,
        "unit_code": d.unit_code,
        "unit_price": d.unit_price,
        "net_amount": d.net_amount,
        "vat_category": d.vat_category,
        "vat_percent": d.vat_percent,
        "period_start": inputs.month,
        "period_end": inputs.end,
        "pool_amount": d.pool_amount,
        "key_kind": d.key_kind,
        "key_weight": d.key_weight,
    }


def write_invoice(
    session: Session, run: InvoiceRun, kommune: Kommune, inputs: Inputs, drafts: list[LineDraft]
) -> int:
    invoice_id = session.execute(
        sa.insert(Invoice).returning(col(Invoice.id)), _invoice_row(run, kommune, inputs, drafts)
    ).scalar_one()
    details: list[dict] = []
    for position, d in enumerate(drafts, start=1):
        line_id = session.execute(
            sa.insert(InvoiceLine).returning(col(InvoiceLine.id)),
            _line_row(invoice_id, position, d, inputs),
        ).scalar_one()
        details += [
            {
                "line_id": line_id,
                "position": n,
                "text": x.text[:300],
                "quantity": x.quantity,
                "amount": x.amount,
            }
            for n, x in enumerate(d.details, start=1)
        ]
        if d.snapshot_id is not None:
            _counted_items(session, line_id, d)
    if details:
        # The table, not the entity: a plain executemany, batched into multi-row INSERTs.
        session.execute(InvoiceLineDetail.__table__.insert(), details)  # type: ignore[attr-defined]
    return int(invoice_id)


def _counted_items(session: Session, line_id: int, d: LineDraft) -> None:
    """The counted items become the line's specification, copied inside the database."""
    item = CountItem.__table__.c  # type: ignore[attr-defined]
    position = sa.func.row_number().over(order_by=(item.label, item.id))
    select = sa.select(
        sa.literal(line_id, sa.Integer),
        position,
        sa.func.substr(item.label, 1, 300),
        sa.literal(Decimal(1), Money(14, 4)),
        sa.literal(round_ore(d.unit_price), Money(14, 2)),
    ).where(item.snapshot_id == d.snapshot_id)
    detail = InvoiceLineDetail.__table__  # type: ignore[attr-defined]
    session.execute(
        detail.insert().from_select(["line_id", "position", "text", "quantity", "amount"], select)
    )


def clear_drafts(session: Session, run: InvoiceRun) -> None:
    """Remove the run's unissued invoices with their lines and details."""
    invoices = sa.select(col(Invoice.id)).where(
        col(Invoice.run_id) == run.id, col(Invoice.number).is_(None)
    )
    lines = sa.select(col(InvoiceLine.id)).where(col(InvoiceLine.invoice_id).in_(invoices))
    session.execute(
        sa.delete(InvoiceLineDetail).where(col(InvoiceLineDetail.line_id).in_(lines)),
        execution_options=BULK,
    )
    session.execute(
        sa.delete(InvoiceLine).where(col(InvoiceLine.invoice_id).in_(invoices)),
        execution_options=BULK,
    )
    session.execute(sa.delete(Invoice).where(col(Invoice.id).in_(invoices)), execution_options=BULK)
