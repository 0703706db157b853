"""The invoice specification as CSV: one row per specification detail, ready for Excel.

Semicolon-separated with decimal comma, as Excel in a Norwegian locale expects, UTF-8 with a byte
order mark so Excel reads "Søgne" and not "SÃ¸gne". A line without details gets one row of its
own. There is one amount column, and summing it gives the invoice's net total: each detail row
carries its own amount where a line's details add up to the line, otherwise the line's first row
carries the line's amount and the rest none.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from billing.docformat import decimal_comma, unit_label
from billing.document import ORE, DocumentLine, InvoiceDocument, LineDetail
from fellesdrift.kernel.i18n import translate

COLUMNS = (
    "number",
    "kind",
    "customer",
    "customer_orgnr",
    "period_start",
    "period_end",
    "category",
    "service",
    "line",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "vat",
    "detail",
    "detail_quantity",
    "amount",
)
# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _vat(line: DocumentLine) -> str:
    if line.vat_category == "S":
        return f"{decimal_comma(line.vat_percent)} %"
    return line.vat_category


def _rows(doc: InvoiceDocument, lang: str) -> Iterator[list[str]]:
    head = [
        _text(doc.number),
        translate(f"billing_docs.kind.{doc.kind}", lang),
        _text(doc.customer.name),
        doc.customer.orgnr,
    ]
    for line in doc.lines:
        common = [
            line.period_start.isoformat(),
            line.period_end.isoformat(),
            str(line.category),
            _text(line.service),
            _text(line.line_id),
            _text(line.description),
            decimal_comma(line.quantity),
            unit_label(line.unit_code, lang, line.quantity),
            decimal_comma(
                line.unit_price, 2 if line.unit_price == line.unit_price.quantize(ORE) else None
            ),
            _vat(line),
        ]
        details: tuple[LineDetail | None, ...] = line.details or (None,)
        for amount, detail in zip(_amounts(line), details, strict=True):
            yield [*head, *common, *_detail(detail), amount]


def _amounts(line: DocumentLine) -> list[str]:
    """The amount column of the line's rows: they add up to the line's net amount."""
    amounts = [d.amount for d in line.details if d.amount is not None]
    if line.details and len(amounts) == len(line.details) and sum(amounts) == line.net_amount:
        return [decimal_comma(a, 2) for a in amounts]
    rest = [""] * (max(1, len(line.details)) - 1)
    return [decimal_comma(line.net_amount, 2), *rest]


def _detail(detail: LineDetail | None) -> list[str]:
    if detail is None:
        return ["", ""]
    return [
        _text(detail.text),
        "" if detail.quantity is None else decimal_comma(detail.quantity),
    ]


def to_csv(doc: InvoiceDocument, lang: str = "nb") -> bytes:
    """The specification of ``doc`` as CSV bytes (UTF-8 with BOM, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([translate(f"billing_docs.csv.{name}", lang) for name in COLUMNS])
    writer.writerows(_rows(doc, lang))
    return buffer.getvalue().encode("utf-8-sig")
