"""The stored documents of issued invoices and credit notes (table ``invoice_file``).

An issued document never changes: the EHF, PDF and CSV are made once, in the issuing
transaction, from the document as it was then, and served from here ever after, whatever
happens to the register or the supplier later. The document itself is stored too (as JSON),
so the invoice page shows what was issued, not today's master data.

Reads go through the caller's session: the access rules of ``billing.rules`` apply.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from billing.document import DocumentLine, InvoiceDocument, LineDetail, Party
from billing.models import InvoiceFile

DOCUMENT = "document"
_TYPES: dict[str, type] = {
    t.__name__: t for t in (InvoiceDocument, Party, DocumentLine, LineDetail)
}


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
        return {"$type": type(value).__name__, **fields}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "$decimal" in value:
        return Decimal(value["$decimal"])
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    kind = _TYPES[value["$type"]]
    return kind(**{k: _decode(v) for k, v in value.items() if k != "$type"})


def encode(doc: InvoiceDocument) -> bytes:
    return json.dumps(_encode(doc), ensure_ascii=False, sort_keys=True).encode()


def decode(data: bytes) -> InvoiceDocument:
    doc = _decode(json.loads(data))
    assert isinstance(doc, InvoiceDocument)
    return doc


def file_row(invoice_id: int, kind: str, content: bytes, language: str = "nb") -> InvoiceFile:
    return InvoiceFile(
        invoice_id=invoice_id,
        kind=kind,
        language=language,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def stored(session: Session, invoice_id: int, kind: str) -> bytes | None:
    """The stored bytes of one of an invoice's documents, or None (a draft, or an invoice
    issued before documents were stored)."""
    stmt = select(InvoiceFile.content).where(
        InvoiceFile.invoice_id == invoice_id, InvoiceFile.kind == kind
    )
    content = session.exec(stmt).first()
    return bytes(content) if content is not None else None


def stored_document(session: Session, invoice_id: int) -> InvoiceDocument | None:
    data = stored(session, invoice_id, DOCUMENT)
    return decode(data) if data is not None else None
