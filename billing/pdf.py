"""The invoice PDF: jinja2 renders HTML, WeasyPrint lays it out as PDF.

The first page is the invoice a finance officer files (parties, dates, payment details, the lines
grouped by price-model category, the VAT breakdown and the amount due); the pages after it are the
specification that lets them check every krone: for each line, the users counted, the hours on
each ticket, the shares of a pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from billing import docformat
from billing.document import DocumentLine, InvoiceDocument
from fellesdrift.kernel.i18n import translate

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class CategoryGroup:
    """The lines of one price-model category, in invoice order, with their net sum."""

    number: int
    lines: tuple[DocumentLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.net_amount for line in self.lines), Decimal("0.00"))


def categories(doc: InvoiceDocument) -> list[CategoryGroup]:
    numbers = sorted({line.category for line in doc.lines})
    return [
        CategoryGroup(n, tuple(line for line in doc.lines if line.category == n)) for n in numbers
    ]


def title(doc: InvoiceDocument, lang: str) -> str:
    """ "Faktura 2026-000123" or "Kreditnota K2026-000007"."""
    return translate(f"billing_docs.pdf.title_{doc.kind}", lang, number=doc.number)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        kroner=docformat.kroner,
        unit_price=docformat.unit_price,
        number=docformat.grouped,
        day=docformat.day,
    )
    return env


def render_html(doc: InvoiceDocument, lang: str = "nb") -> str:
    """The HTML the PDF is made from (also useful as a preview page)."""

    def _(key: str, **values: Any) -> str:
        return translate(key, lang, **values)

    template = _environment().get_template("billing_docs/invoice.html")
    return template.render(
        doc=doc,
        title=title(doc, lang),
        lang=lang,
        _=_,
        categories=categories(doc),
        unit=lambda code, quantity=None: docformat.unit_label(code, lang, quantity),
        vat=lambda category, percent: docformat.vat_label(category, percent, lang),
        stylesheet=(TEMPLATES / "billing_docs" / "invoice.css").read_text(encoding="utf-8"),
    )


def to_pdf(doc: InvoiceDocument, lang: str = "nb") -> bytes:
    """The invoice or credit note as a PDF with its specification pages."""
    # Imported here: WeasyPrint loads pango at import, which only PDF rendering needs.
    from weasyprint import HTML

    html = HTML(string=render_html(doc, lang), base_url=str(TEMPLATES))
    document = html.render()
    document.metadata.title = title(doc, lang)
    document.metadata.authors = [doc.supplier.name]
    document.metadata.lang = lang
    # PDF/UA: a tagged PDF that screen readers can follow (headings, tables, reading order).
    pdf = document.write_pdf(pdf_variant="pdf/ua-1")
    if pdf is None:  # only when a target file is given, which we never do
        raise RuntimeError(f"WeasyPrint produced no PDF for {doc.number}")
    return bytes(pdf)
