"""An invoice or credit note as a :class:`billing.document.InvoiceDocument`, the shape every
output (EHF, PDF, CSV) is made from.

Reads through the caller's session, so the access rules apply: a kommune's finance user can
assemble only their kommune's issued invoices. A draft assembles as a preview numbered
``UTKAST-<id>`` with a provisional KID.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from billing import archive
from billing.document import (
    DocumentError,
    DocumentLine,
    InvoiceDocument,
    LineDetail,
    Party,
    round_ore,
)
from billing.models import CountItem, Invoice, InvoiceLine, InvoiceLineDetail, Supplier
from billing.numbering import due_date, kid_for, supplier_of, today_in_oslo
from fellesdrift.kernel.problems import invalid, not_found
from register.models import Kommune, KommuneContact
from register.service import get_visible


def supplier_party(supplier: Supplier) -> Party:
    return Party(
        name=supplier.name,
        orgnr=supplier.orgnr,
        street=supplier.street,
        postal_code=supplier.postal_code,
        city=supplier.city,
        country_code=supplier.country_code,
        email=supplier.email or None,
        vat_registered=supplier.vat_registered,
        contact_name=supplier.contact_name or None,
        in_business_register=supplier.in_business_register,
    )


def customer_party(kommune: Kommune, contact: KommuneContact | None = None) -> Party:
    """The kommune as buyer; its finance contact (if any) as the buyer's contact (BG-9)."""
    return Party(
        name=kommune.name,
        orgnr=kommune.orgnr,
        street=kommune.address_line,
        postal_code=kommune.postcode,
        city=kommune.city,
        country_code=kommune.country or "NO",
        email=(contact.email if contact else "") or kommune.invoice_email or None,
        vat_registered=False,
        contact_name=contact.name if contact else None,
        contact_phone=(contact.phone or None) if contact else None,
    )


def finance_contact(session: Session, kommune_id: int) -> KommuneContact | None:
    return session.exec(
        select(KommuneContact)
        .where(KommuneContact.kommune_id == kommune_id, KommuneContact.kind == "finance")
        .order_by(col(KommuneContact.id))
    ).first()


def _details(session: Session, line_ids: list[int]) -> dict[int, list[LineDetail]]:
    out: dict[int, list[LineDetail]] = defaultdict(list)
    d = InvoiceLineDetail
    # Columns, not entities: a line can have thousands of rows (every counted user).
    stmt = (
        select(d.line_id, d.text, col(d.quantity), col(d.amount))
        .where(col(d.line_id).in_(line_ids))
        .order_by(col(d.line_id), col(d.position))
    )
    for line_id, text, quantity, amount in session.exec(stmt):
        out[line_id].append(LineDetail(text, quantity, amount))
    return out


def _counted(session: Session, lines: list[InvoiceLine]) -> dict[int, list[LineDetail]]:
    """Category 3: the counted items of each line's snapshot, one detail row each."""
    snapshots: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        if line.snapshot_id is not None:
            snapshots[line.snapshot_id].append(line)
    out: dict[int, list[LineDetail]] = defaultdict(list)
    if not snapshots:
        return out
    stmt = (
        select(CountItem.snapshot_id, CountItem.label)
        .where(col(CountItem.snapshot_id).in_(sorted(snapshots)))
        .order_by(col(CountItem.snapshot_id), col(CountItem.label), col(CountItem.id))
    )
    one = Decimal(1)
    for snapshot_id, label in session.exec(stmt):
        for line in snapshots[snapshot_id]:
            out[line.id or 0].append(LineDetail(label, one, round_ore(line.unit_price)))
    return out


def line_details(session: Session, lines: list[InvoiceLine]) -> dict[int, list[LineDetail]]:
    """The specification of each line (by line id): its own rows, then its counted items."""
    ids = [x.id for x in lines if x.id is not None]
    details = _details(session, ids)
    for line_id, rows in _counted(session, lines).items():
        details[line_id].extend(rows)
    return details


def document_lines(
    session: Session, invoice: Invoice, with_details: bool = True
) -> tuple[DocumentLine, ...]:
    lines = list(
        session.exec(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(col(InvoiceLine.position))
        )
    )
    details = line_details(session, lines) if with_details else {}
    return tuple(
        DocumentLine(
            line_id=str(x.position),
            category=x.category,
            service=x.service,
            description=x.description,
            quantity=x.quantity,
            unit_code=x.unit_code,
            unit_price=x.unit_price,
            base_quantity=x.base_quantity,
            accounting_cost=x.accounting_cost or None,
            net_amount=x.net_amount,
            vat_category=x.vat_category,
            vat_percent=x.vat_percent,
            period_start=x.period_start,
            period_end=x.period_end,
            details=tuple(details.get(x.id or 0, ())),
        )
        for x in lines
    )


def _original(session: Session, invoice: Invoice) -> tuple[str | None, date | None]:
    if invoice.original_id is None:
        return None, None
    original = session.get(Invoice, invoice.original_id)
    if original is None:
        raise not_found(f"invoice {invoice.original_id}")
    return original.document_number, original.issue_date


def assemble(
    session: Session,
    invoice_id: int,
    preview_date: date | None = None,
    with_details: bool = True,
) -> InvoiceDocument:
    """The document of one invoice or credit note; 404 if the session may not see it. An
    issued one is the stored document it was issued as (``billing.archive``).
    ``with_details=False`` leaves out the specification rows (EHF does not carry them)."""
    invoice = get_visible(session, Invoice, invoice_id)
    if invoice.number is not None:
        # Issued: the document as it was issued, never today's master data.
        issued_doc = archive.stored_document(session, invoice_id)
        if issued_doc is not None:
            return issued_doc
    kommune = session.get(Kommune, invoice.kommune_id)
    if kommune is None:
        raise not_found(f"kommune {invoice.kommune_id}")
    supplier = supplier_of(session)
    issued = invoice.issue_date or preview_date or today_in_oslo()
    original_number, original_date = _original(session, invoice)
    try:
        return InvoiceDocument(
            kind="credit_note" if invoice.kind == "credit_note" else "invoice",
            number=invoice.document_number or f"UTKAST-{invoice.id}",
            issue_date=issued,
            due_date=invoice.due_date or due_date(supplier, issued),
            supplier=supplier_party(supplier),
            customer=customer_party(kommune, finance_contact(session, kommune.id)),  # type: ignore[arg-type]
            buyer_reference=invoice.buyer_reference,
            kid=invoice.kid or kid_for(supplier, kommune.kommunenummer, 0, invoice.series),
            supplier_account=supplier.bank_account,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            lines=document_lines(session, invoice, with_details),
            note=invoice.note or None,
            original_number=original_number,
            original_issue_date=original_date,
            order_reference=invoice.order_reference or None,
            accounting_cost=invoice.accounting_cost or None,
        )
    except DocumentError as exc:
        raise invalid(exc.at(f"invoice {invoice.id} ({kommune.name})")) from None
