"""Rendering an invoice's documents (EHF, PDF, CSV), and storing them when it is issued."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from billing import archive
from billing.assemble import assemble
from billing.csvspec import to_csv
from billing.document import InvoiceDocument
from billing.ehf import Attachment, to_ehf
from billing.models import InvoiceFile
from billing.pdf import to_pdf
from register.access import elevated

#: The language of the stored documents, the legal record.
RECORD_LANGUAGE = "nb"


def _ehf_with(doc: InvoiceDocument, pdf: bytes) -> bytes:
    """The EHF carries the PDF specification (BG-24), as Peppol receivers expect it."""
    attachment = Attachment(f"{doc.number}.pdf", "application/pdf", pdf, "Spesifikasjon")
    return to_ehf(doc, [attachment])


def _ehf(doc: InvoiceDocument, lang: str) -> bytes:
    return _ehf_with(doc, to_pdf(doc, lang))


RENDERERS: dict[str, Callable[[InvoiceDocument, str], bytes]] = {
    "pdf": to_pdf,
    "csv": to_csv,
    "ehf": _ehf,
}


def store_documents(session: Session, invoice_id: int) -> InvoiceDocument:
    """Freeze the issued invoice's document (in the caller's issuing transaction): its content
    as issued, the parties, lines and specification, stored as JSON. The EHF, PDF and CSV are
    made from that frozen document only, by :func:`render_files` (right after the issue, or at
    the first download), and stored in their turn: what was issued is what is served."""
    doc = assemble(session, invoice_id)
    session.add(archive.file_row(invoice_id, archive.DOCUMENT, archive.encode(doc)))
    return doc


def _render(doc: InvoiceDocument) -> dict[str, bytes]:
    pdf = to_pdf(doc, RECORD_LANGUAGE)
    return {"pdf": pdf, "csv": to_csv(doc, RECORD_LANGUAGE), "ehf": _ehf_with(doc, pdf)}


def render_files(session: Session, invoice_id: int) -> dict[str, bytes] | None:
    """The stored EHF, PDF and CSV of an issued invoice, made from its frozen document and
    stored the first time (idempotent: a concurrent render that stored first wins, and its
    bytes are returned). None for a draft or an invoice issued before documents were frozen."""
    files = {k: archive.stored(session, invoice_id, k) for k in ("pdf", "csv", "ehf")}
    if all(v is not None for v in files.values()):
        return files  # type: ignore[return-value]
    doc = archive.stored_document(session, invoice_id)
    if doc is None:
        return None
    made = _render(doc)
    with elevated(session, "billing: issued documents"):
        for kind, content in made.items():
            if files[kind] is not None:
                continue
            try:
                with session.begin_nested():
                    session.add(archive.file_row(invoice_id, kind, content, RECORD_LANGUAGE))
            except IntegrityError:
                pass  # stored by a concurrent render; served as stored below
    return {k: archive.stored(session, invoice_id, k) or b"" for k in made}


def render_missing(session: Session, progress: Any = None) -> int:
    """Render and store the files of every issued invoice that has none yet (re-runnable)."""
    have = select(InvoiceFile.invoice_id).where(InvoiceFile.kind == "ehf")
    ids = session.exec(
        select(InvoiceFile.invoice_id).where(
            InvoiceFile.kind == archive.DOCUMENT, col(InvoiceFile.invoice_id).not_in(have)
        )
    ).all()
    for n, invoice_id in enumerate(ids, start=1):
        render_files(session, invoice_id)
        session.commit()
        if progress is not None:
            progress("documents", n, len(ids))
    return len(ids)
