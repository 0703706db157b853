"""CSV specification: one row per detail, Excel-ready, and the kroner add up to the invoice."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal

from billing.csvspec import COLUMNS, to_csv
from billing.document import InvoiceDocument, LineDetail
from tests.billing import documents


def read(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 byte order mark"
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def amount(text: str) -> Decimal:
    assert "." not in text, f"decimal comma expected: {text}"
    return Decimal(text.replace(",", "."))


def test_one_row_per_detail_and_one_for_a_line_without_details() -> None:
    doc = documents.invoice()
    rows = read(to_csv(doc))
    assert len(rows) == sum(max(1, len(line.details)) for line in doc.lines) == 22
    users = [r for r in rows if r["Tjeneste"] == "Brukerkonto"]
    assert [r["Spesifikasjon"] for r in users][:2] == [
        "bruker01 Ola Nordmann 1",
        "bruker02 Ola Nordmann 2",
    ]
    assert {r["Antall"] for r in users} == {"14"}
    line_2 = [r for r in rows if r["Linje"] == "2"]
    assert len(line_2) == 1 and line_2[0]["Spesifikasjon"] == ""


def test_header_and_values_in_bokmal_with_decimal_comma() -> None:
    rows = read(to_csv(documents.invoice()))
    assert list(rows[0]) == [
        "Fakturanummer",
        "Dokumenttype",
        "Kunde",
        "Kundens organisasjonsnummer",
        "Periode fra",
        "Periode til",
        "Kategori",
        "Tjeneste",
        "Linje",
        "Beskrivelse",
        "Antall",
        "Enhet",
        "Enhetspris",
        "Mva.",
        "Spesifikasjon",
        "Spesifikasjon antall",
        "Beløp eks. mva.",
    ]
    assert len(COLUMNS) == len(rows[0])
    hours = next(r for r in rows if r["Spesifikasjon"].startswith("INC-000131"))
    assert hours["Fakturanummer"] == "2026-000123"
    assert hours["Dokumenttype"] == "Faktura"
    assert hours["Kundens organisasjonsnummer"] == "964965137"
    assert hours["Enhet"] == "timer"
    assert hours["Enhetspris"] == "650,00"
    assert hours["Antall"] == "4"
    assert hours["Spesifikasjon antall"] == "0,75"
    assert hours["Beløp eks. mva."] == "487,50"
    assert hours["Mva."] == "25 %"
    pool = next(r for r in rows if r["Linje"] == "1")
    assert pool["Enhetspris"] == "41666,6667"
    assert next(r for r in rows if r["Linje"] == "6")["Mva."] == "E"


def test_the_one_amount_column_sums_to_the_invoice_total() -> None:
    doc = documents.invoice()
    rows = read(to_csv(doc))
    assert [c for c in rows[0] if "eløp" in c] == ["Beløp eks. mva."]
    column = [amount(r["Beløp eks. mva."]) for r in rows if r["Beløp eks. mva."]]
    assert sum(column) == doc.line_total == Decimal("49944.67")
    details = [amount(r["Beløp eks. mva."]) for r in rows if r["Linje"] == "4"]
    assert len(details) > 1 and sum(details) == Decimal("2600.00")  # each ticket its amount
    users = [r["Beløp eks. mva."] for r in rows if r["Tjeneste"] == "Brukerkonto"]
    assert users[0] != "" and set(users[1:]) <= {users[0], ""}


def test_text_that_spreadsheets_would_run_is_defused() -> None:
    lines = documents.invoice().lines
    evil = replace(
        lines[1],
        service='=HYPERLINK("http://x";"klikk")',
        details=(LineDetail("@SUM(A1:A9); -1", None, Decimal("-1.00")),),
    )
    rows = read(to_csv(documents.invoice(lines=(lines[0], evil, *lines[2:]))))
    row = next(r for r in rows if r["Linje"] == "2")
    assert row["Tjeneste"] == '\'=HYPERLINK("http://x";"klikk")'
    assert row["Spesifikasjon"] == "'@SUM(A1:A9); -1"
    # Its detail does not add up to the line: the line's amount, once, a number.
    assert row["Beløp eks. mva."] == str(evil.net_amount).replace(".", ",")


def test_credit_note_and_english_headers() -> None:
    doc: InvoiceDocument = documents.credit_note()
    rows = read(to_csv(doc, "en"))
    assert rows[0]["Document type"] == "Credit note"
    assert rows[0]["Invoice number"] == "K2026-000007"
    assert rows[0]["Amount excl. VAT"] == "812,50"
    assert rows[0]["Unit"] == "hours"
