"""Credit notes: the only way to correct an issued invoice.

A credit note copies the credited lines (all, or those named) with their specification,
references the original invoice and its lines, and is numbered in its own gapless series when
it is made. A line can also be credited in part (a quantity of it, without its specification
rows), in one or more credit notes, never beyond its quantity; the last part takes what is left
of its amount, so the parts add up to the line exactly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from billing.choices import InvoiceKind
from billing.document import round_ore
from billing.errors import conflict, fault
from billing.models import Invoice, InvoiceLine, InvoiceLineDetail, Purchase
from billing.numbering import (
    CREDIT_SERIES,
    document_number,
    due_date,
    kid_for,
    prefix_of,
    supplier_of,
    take_numbers,
    today_in_oslo,
)
from billing.outputs import store_documents
from billing.permissions import require_billing_admin
from billing.store import totals
from fellesdrift.kernel.problems import invalid, not_found
from register.access import elevated
from register.models import Kommune
from register.service.audit import record


def credited_parts(session: Session, invoice_id: int) -> dict[int, tuple[Decimal, Decimal]]:
    """(quantity, amount) credited so far of each line of the invoice, by line id."""
    notes = select(Invoice.id).where(Invoice.original_id == invoice_id)
    rows = session.exec(
        select(
            col(InvoiceLine.original_line_id),
            col(InvoiceLine.quantity),
            col(InvoiceLine.net_amount),
        ).where(col(InvoiceLine.invoice_id).in_(notes))
    )
    out: dict[int, tuple[Decimal, Decimal]] = {}
    for line_id, quantity, amount in rows:
        if line_id is not None:
            q, a = out.get(line_id, (Decimal(0), Decimal("0.00")))
            out[line_id] = (q + quantity, a + amount)
    return out


def credited_line_ids(session: Session, invoice_id: int) -> set[int]:
    """The lines credited in full."""
    parts = credited_parts(session, invoice_id)
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id))
    return {x.id for x in lines if x.id in parts and parts[x.id][0] >= x.quantity}


def _original(session: Session, invoice_id: int) -> Invoice:
    original = session.get(Invoice, invoice_id)
    if original is None:
        raise not_found(f"invoice {invoice_id}")
    if original.kind != InvoiceKind.INVOICE or original.number is None:
        raise conflict(
            "not_issued_invoice",
            "invoice {invoice} is not an issued invoice; only those are credited",
            invoice=invoice_id,
        )
    return original


def _chosen_lines(
    session: Session, original: Invoice, line_ids: list[int] | None
) -> list[InvoiceLine]:
    lines = session.exec(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == original.id)
        .order_by(col(InvoiceLine.position))
    ).all()
    if line_ids is not None:
        known = {line.id for line in lines}
        unknown = [i for i in line_ids if i not in known]
        if unknown:
            raise invalid(
                fault(
                    "line_ids",
                    "not_lines_of",
                    "not lines of {number}",
                    unknown,
                    number=original.document_number,
                )
            )
        lines = [line for line in lines if line.id in set(line_ids)]
    done = credited_line_ids(session, original.id)  # type: ignore[arg-type]
    twice = [line.position for line in lines if line.id in done]
    if twice:
        raise conflict(
            "already_credited",
            "line(s) {lines} of {number} are already credited",
            lines=twice,
            number=original.document_number,
        )
    if not lines:
        raise invalid(fault("line_ids", "no_lines", "name at least one line to credit"))
    return list(lines)


def _parts(
    session: Session,
    original: Invoice,
    lines: list[InvoiceLine],
    quantities: dict[int, Decimal] | None,
) -> list[tuple[InvoiceLine, Decimal, Decimal]]:
    """(line, quantity, amount) to credit of each chosen line: what is left of it, or the
    quantity asked for; the part that leaves nothing takes what is left of the amount."""
    done = credited_parts(session, original.id)  # type: ignore[arg-type]
    out = []
    for line in lines:
        q_done, a_done = done.get(line.id or 0, (Decimal(0), Decimal("0.00")))
        left = line.quantity - q_done
        asked = (quantities or {}).get(line.id or 0, left)
        if asked <= 0 or asked > left:
            raise invalid(
                fault(
                    f"quantities.{line.id}",
                    "credit_quantity",
                    "line {position}: credit more than 0 and at most the {left} not yet credited",
                    str(asked),
                    position=line.position,
                    left=f"{left.normalize():f}",
                )
            )
        whole = asked == left
        amount = (
            line.net_amount - a_done
            if whole
            else round_ore(asked * line.unit_price / line.base_quantity)
        )
        out.append((line, asked, amount))
    return out


def credit(
    session: Session,
    invoice_id: int,
    reason: str,
    line_ids: list[int] | None = None,
    issue_date: date | None = None,
    quantities: dict[int, Decimal] | None = None,
) -> Invoice:
    """Issue a credit note for an issued invoice (all its lines, or ``line_ids``; of a line in
    ``quantities``, that quantity only)."""
    require_billing_admin(session)
    if not reason.strip():
        raise invalid(fault("reason", "no_reason", "say why the invoice is credited"))
    with elevated(session, "billing: credit note"):
        original = _original(session, invoice_id)
        if quantities and line_ids is None:
            line_ids = list(quantities)
        lines = _chosen_lines(session, original, line_ids)
        parts = _parts(session, original, lines, quantities)
        note = _note(session, original, parts, reason.strip(), issue_date or today_in_oslo())
        _copy_lines(session, note, parts)
        session.flush()
        store_documents(session, note.id)  # type: ignore[arg-type]
    record(
        session,
        "credit",
        "invoice",
        original.id,
        original.kommune_id,
        f"{note.document_number} credits {original.document_number}: {reason.strip()}",
    )
    return note


def _note(
    session: Session,
    original: Invoice,
    parts: list[tuple[InvoiceLine, Decimal, Decimal]],
    reason: str,
    issued: date,
) -> Invoice:
    supplier = supplier_of(session)
    kommune = session.get(Kommune, original.kommune_id)
    assert kommune is not None
    (number,) = take_numbers(session, CREDIT_SERIES, 1)
    net, vat = totals([(x.vat_category, x.vat_percent, amount) for x, _, amount in parts])
    note = Invoice(
        run_id=original.run_id,
        kommune_id=original.kommune_id,
        kind=InvoiceKind.CREDIT_NOTE.value,
        vat_group=original.vat_group,
        series=CREDIT_SERIES,
        number=number,
        document_number=document_number(prefix_of(session, CREDIT_SERIES), number),
        issue_date=issued,
        due_date=due_date(supplier, issued),
        period_start=original.period_start,
        period_end=original.period_end,
        buyer_reference=original.buyer_reference,
        order_reference=original.order_reference,
        accounting_cost=original.accounting_cost,
        kid=kid_for(supplier, kommune.kommunenummer, number, CREDIT_SERIES),
        net_total=net,
        vat_total=vat,
        payable=net + vat,
        original_id=original.id,
        note=reason[:2000],
    )
    session.add(note)
    session.flush()
    return note


def _copy_lines(
    session: Session, note: Invoice, parts: list[tuple[InvoiceLine, Decimal, Decimal]]
) -> None:
    detail = InvoiceLineDetail.__table__  # type: ignore[attr-defined]
    for position, (line, quantity, amount) in enumerate(parts, start=1):
        copy = InvoiceLine.model_validate(
            line.model_dump(exclude={"id", "invoice_id", "position", "original_line_id"})
            | {"invoice_id": note.id, "position": position, "original_line_id": line.id}
            | {"quantity": quantity, "net_amount": amount}
        )
        if quantity != line.quantity:
            # A part: its specification rows are the original's, which it does not credit all of.
            copy.snapshot_id = None
            session.add(copy)
            session.flush()
            session.add(
                InvoiceLineDetail(
                    line_id=copy.id,  # type: ignore[arg-type]
                    position=1,
                    text=f"Delvis kreditert: {quantity.normalize():f} av "
                    f"{line.quantity.normalize():f}".replace(".", ","),
                    quantity=quantity,
                    amount=amount,
                )
            )
            continue
        session.add(copy)
        session.flush()
        rows = sa.select(
            sa.literal(copy.id, sa.Integer),
            detail.c.position,
            detail.c.text,
            detail.c.quantity,
            detail.c.amount,
        ).where(detail.c.line_id == line.id)
        session.execute(
            detail.insert().from_select(["line_id", "position", "text", "quantity", "amount"], rows)
        )


def _rebilled_text(line: InvoiceLine, number: str) -> str:
    quantity = f"{line.quantity.normalize():f}".replace(".", ",")
    return f"{line.description} ({quantity}), kreditert med {number}, fakturert på nytt"[:300]


def rebill(session: Session, credit_line_id: int, day: date) -> Purchase:
    """Bill a credited line (a line of a credit note) again, on ``day``: the next draft of that
    month bills it to the same kommune at the same price and VAT, so what was credited (a
    pool's share) is not lost. At most once per credited line."""
    require_billing_admin(session)
    with elevated(session, "billing: bill a credited line again"):
        line = session.get(InvoiceLine, credit_line_id)
        note = session.get(Invoice, line.invoice_id) if line is not None else None
        if line is None or note is None or note.kind != InvoiceKind.CREDIT_NOTE:
            raise not_found(f"credited line {credit_line_id}")
        done = session.exec(select(Purchase).where(Purchase.rebills_line_id == line.id)).first()
        if done is not None:
            raise conflict(
                "already_rebilled",
                "line {position} of {number} is already billed again",
                position=line.position,
                number=note.document_number,
            )
        purchase = Purchase(
            kommune_id=note.kommune_id,
            purchase_date=day,
            service=line.service,
            description=_rebilled_text(line, note.document_number or ""),
            # One unit at the credited amount: exactly what was credited, to the øre.
            quantity=Decimal(1),
            unit_cost=line.net_amount,
            vat_category=line.vat_category,
            vat_percent=line.vat_percent,
            rebills_line_id=line.id,
        )
        session.add(purchase)
        session.flush()
    record(session, "rebill", "invoice_line", line.id, note.kommune_id, note.document_number or "")
    return purchase
