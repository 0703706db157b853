"""Rendering an invoice's documents (EHF, PDF, CSV), and storing them when it is issued."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from billing import archive
from billing.assemble import assemble
from billing.csvspec import to_csv
from billing.document import InvoiceDocument
from billing.ehf import Attachment, to_ehf
from billing.pdf import to_pdf

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
    """Make and store the issued invoice's documents (in the caller's issuing transaction):
    what was issued is what is served from then on."""
    doc = assemble(session, invoice_id)
    pdf = to_pdf(doc, RECORD_LANGUAGE)
    files = {
        archive.DOCUMENT: archive.encode(doc),
        "pdf": pdf,
        "csv": to_csv(doc, RECORD_LANGUAGE),
        "ehf": _ehf_with(doc, pdf),
    }
    for kind, content in files.items():
        session.add(archive.file_row(invoice_id, kind, content, RECORD_LANGUAGE))
    return doc
