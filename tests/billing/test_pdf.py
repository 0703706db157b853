"""Invoice PDF: the totals, the payment details and every specification row can be read back."""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from decimal import Decimal

import pytest
from lxml import etree
from pypdf import PdfReader

from billing import docformat
from billing.document import InvoiceDocument
from billing.ehf import Attachment, to_ehf
from billing.pdf import render_html, to_pdf
from billing.validate import validate_ehf
from fellesdrift.kernel.i18n import LANGUAGES, catalogue
from tests.billing import documents


def pages(doc: InvoiceDocument, lang: str = "nb") -> list[str]:
    pdf = to_pdf(doc, lang)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    # Amounts are set with no-break spaces; compare them as ordinary spaces.
    return [(p.extract_text() or "").replace("\u00a0", " ") for p in reader.pages]


@pytest.fixture(scope="module")
def invoice_pages() -> list[str]:
    return pages(documents.invoice())


def test_first_page_has_parties_payment_details_and_totals(invoice_pages: list[str]) -> None:
    first = invoice_pages[0]
    for text in [
        "Faktura 2026-000123",
        "Agder IKT IKS",
        "Birkenes kommune",
        "Org.nr. 964965137",
        "Deres ref.",
        "Birkenes IT 4021",
        "09280001232",  # KID
        "86011117947",  # account
        "02.12.2026",  # due date
        "01.10.2026–31.10.2026",
        "Sum eks. mva. 49 944,67 kr",
        "Merverdiavgift 25 % (Grunnlag 48 046,67 kr) 12 011,67 kr",
        "Merverdiavgift 15 % (Grunnlag 698,00 kr) 104,70 kr",
        "Sum mva. 12 116,37 kr",
        "Å betale 62 061,04 kr",
        "Org.nr. 921635419 MVA",
        "Foretaksregisteret",
        "Unntatt fra merverdiavgift",
    ]:
        assert text in first, text


def test_lines_are_grouped_by_category_with_subtotals(invoice_pages: list[str]) -> None:
    first = invoice_pages[0]
    for text in [
        "1 Felles teknisk infrastruktur",
        "41 666,6667 kr",  # a unit price finer than an øre keeps its digits
        "Sum kategori 1 41 666,67 kr",
        "3 Brukerrelaterte kostnader",
        "Brukerkonto 14 stk. 95,00 kr 25 % 1 330,00 kr",
        "Sum kategori 4 4 498,00 kr",
    ]:
        assert text in first, text
    assert (
        first.index("Sum kategori 1")
        < first.index("Sum kategori 2")
        < first.index("Sum kategori 4")
    )


def test_specification_lists_every_user_and_every_ticket(invoice_pages: list[str]) -> None:
    assert "Spesifikasjon" not in invoice_pages[0]
    rest = "\n".join(invoice_pages[1:])
    assert "Spesifikasjon av Brukerkonto (Linje 3)" in rest
    for n in range(1, 15):
        assert f"bruker{n:02d} Ola Nordmann {n}" in rest
    assert "INC-000123 Skriver virker ikke: 1,25 t 1,25 812,50 kr" in rest
    assert "INC-000131 Ny bruker i Visma: 0,75 t 0,75 487,50 kr" in rest
    assert "REQ-000140 Flytting av kontor: 2,00 t" in rest
    assert "Konsulenttimer kontortid 4 timer 2 600,00 kr" in rest
    assert "Innbyggere 5 200 av 236 010 (2/3) 21 825,40 kr" in rest


def test_pages_are_numbered(invoice_pages: list[str]) -> None:
    count = len(invoice_pages)
    assert count >= 2
    assert all(f"Side {n} / {count}" in text for n, text in enumerate(invoice_pages, 1))


def test_credit_note_names_the_invoice_it_credits() -> None:
    text = "\n".join(pages(documents.credit_note()))
    assert "Kreditnota K2026-000007" in text
    assert "Krediterer faktura 2026-000123 av 02.11.2026" in text
    assert "Kreditert beløp 1 015,63 kr" in text
    assert "KID" not in text and "Forfallsdato" not in text


def test_outside_vat_invoice_shows_no_mva_number() -> None:
    text = pages(documents.outside_vat_invoice())[0]
    assert "MVA" not in text
    assert "Org.nr. 921635419" in text
    assert "Utenfor mva. (Grunnlag 49 944,67 kr) 0,00 kr" in text
    assert "Å betale 49 944,67 kr" in text


def test_english_invoice() -> None:
    text = pages(documents.invoice(), "en")[0]
    assert "Invoice 2026-000123" in text
    assert "Amount due 62 061,04 kr" in text
    assert "Your ref." in text


def test_pdf_is_tagged_and_names_the_document() -> None:
    reader = PdfReader(io.BytesIO(to_pdf(documents.credit_note())))
    assert reader.metadata is not None
    assert reader.metadata.title == "Kreditnota K2026-000007"
    catalog = reader.root_object
    assert catalog["/Lang"] == "nb"
    mark_info = catalog["/MarkInfo"].get_object()
    assert isinstance(mark_info, dict)
    assert bool(mark_info["/Marked"])  # PDF/UA: structure for screen readers
    assert "/StructTreeRoot" in catalog


def test_text_from_the_registers_is_escaped() -> None:
    lines = documents.invoice().lines
    doc = documents.invoice(lines=(replace(lines[0], service="<b>Nett & drift</b>"), *lines[1:]))
    html = render_html(doc)
    assert "&lt;b&gt;Nett &amp; drift&lt;/b&gt;" in html
    assert "<b>Nett" not in html


def test_norwegian_number_formats() -> None:
    nbsp = "\u00a0"
    assert docformat.kroner(Decimal("1234.5")) == f"1{nbsp}234,50{nbsp}kr"
    assert docformat.kroner(Decimal("-1234567.891")) == f"-1{nbsp}234{nbsp}567,89{nbsp}kr"
    assert docformat.kroner(Decimal("0")) == f"0,00{nbsp}kr"
    assert docformat.grouped(Decimal("236010")) == f"236{nbsp}010"
    assert docformat.unit_price(Decimal("0.1234")) == f"0,1234{nbsp}kr"
    assert docformat.decimal_comma(Decimal("1.2500")) == "1,25"
    assert docformat.decimal_comma(Decimal("14")) == "14"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_keys_built_at_run_time_exist(lang: str) -> None:
    strings = catalogue(lang)
    wanted = [f"billing_docs.category.{n}" for n in (1, 2, 3, 4)]
    wanted += [f"billing_docs.kind.{k}" for k in ("invoice", "credit_note")]
    wanted += [f"billing_docs.pdf.title_{k}" for k in ("invoice", "credit_note")]
    wanted += [f"billing_docs.vat.{c}" for c in ("Z", "E", "O")]
    wanted += [f"billing_docs.unit.{u}" for u in ("EA", "C62", "HUR", "MON")]
    assert [k for k in wanted if k not in strings] == []


def test_the_pdf_travels_inside_the_ehf_and_stays_valid() -> None:
    doc = documents.invoice()
    pdf = to_pdf(doc)
    attachment = Attachment(
        f"{doc.number}.pdf", "application/pdf", pdf, "Faktura med spesifikasjon"
    )
    xml = to_ehf(doc, attachments=[attachment])
    assert validate_ehf(xml) == []
    embedded = etree.fromstring(xml).find(".//{*}EmbeddedDocumentBinaryObject")
    assert embedded is not None and embedded.text is not None
    assert base64.b64decode(embedded.text) == pdf
