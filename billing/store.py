"""Writing a run's invoices, lines and details (bulk statements)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from billing.choices import InvoiceKind
from billing.document import round_ore
from billing.drafts import LineDraft
from billing.inputs import Inputs
from billing.models import Invoice, InvoiceLine, InvoiceLineDetail, InvoiceRun
from billing.numbering import INVOICE_SERIES
from register.models import Kommune

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
        "order_reference": kommune.order_reference,
        "accounting_cost": kommune.accounting_cost,
        "currency": "NOK",
        "net_total": net,
        "vat_total": vat,
        "payable": net + vat,
        "note": "",
        "created_at": run.drafted_at,
    }


def _line_row(
    invoice_id: int, position: int, d: LineDraft, inputs: Inputs, kommune: Kommune
) -> dict:
    element = next((e for e in inputs.elements if e.id == d.element_id), None)
    return {
        "accounting_cost": (element.accounting_cost if element else "") or kommune.accounting_cost,
        "invoice_id": invoice_id,
        "position": position,
        "category": d.category,
        "service": d.service[:160],
        "description": d.description[:300],
        "element_id": d.element_id,
        "quantity": d.quantity,
        "unit_code": d.unit_code,
        "unit_price": d.unit_price,
        "base_quantity": d.base_quantity,
        "net_amount": d.net_amount,
        "vat_category": d.vat_category,
        "vat_percent": d.vat_percent,
        "period_start": inputs.month,
        "period_end": inputs.end,
        "pool_amount": d.pool_amount,
        "key_kind": d.key_kind,
        "key_weight": d.key_weight,
        "snapshot_id": d.snapshot_id,
        "original_line_id": None,
    }


DETAIL_COLUMNS = ("line_id", "position", "text", "quantity", "amount")


def write_invoice(
    session: Session, run: InvoiceRun, kommune: Kommune, inputs: Inputs, drafts: list[LineDraft]
) -> list[tuple[object, ...]]:
    """Insert the invoice and its lines; returns its detail rows for :func:`insert_details`."""
    invoice_id = session.execute(
        sa.insert(Invoice).returning(col(Invoice.id)), _invoice_row(run, kommune, inputs, drafts)
    ).scalar_one()
    line = InvoiceLine.__table__  # type: ignore[attr-defined]
    rows = [_line_row(invoice_id, n, d, inputs, kommune) for n, d in enumerate(drafts, start=1)]
    # One multi-row INSERT; the ids come back in the order of the rows.
    ids = (
        session.execute(line.insert().returning(line.c.id, sort_by_parameter_order=True), rows)
        .scalars()
        .all()
    )
    return [
        (line_id, n, x.text[:300], x.quantity, x.amount)
        for line_id, d in zip(ids, drafts, strict=True)
        for n, x in enumerate(d.details, start=1)
    ]


def insert_details(session: Session, rows: list[tuple[object, ...]]) -> None:
    """All the run's specification rows at once: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw: Any = connection.connection.driver_connection
        columns = ", ".join(DETAIL_COLUMNS)
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY invoice_line_detail ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    table = InvoiceLineDetail.__table__  # type: ignore[attr-defined]
    session.execute(table.insert(), [dict(zip(DETAIL_COLUMNS, r, strict=True)) for r in rows])
