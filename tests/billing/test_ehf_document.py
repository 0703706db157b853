"""The invoice document: refuses what cannot become valid EHF; its totals obey EN 16931."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.document import (
    DocumentError,
    DocumentLine,
    account_is_valid,
    kid_is_valid,
    make_kid,
    round_ore,
)
from billing.ehf import to_ehf
from billing.validate import validate_ehf
from tests.billing import documents

D = Decimal


def test_kid_and_account_check_digits() -> None:
    assert make_kid("0928000123") == "09280001232"
    assert kid_is_valid("09280001232")
    assert not kid_is_valid("09280001237")
    assert kid_is_valid("12345678937")  # MOD10
    assert kid_is_valid("12345678938")  # MOD11 is accepted too
    assert kid_is_valid("1234567892-")  # MOD11 where the rest is 10
    assert not kid_is_valid("12345678939")
    assert not kid_is_valid("12A4")
    assert account_is_valid("86011117947")
    assert not account_is_valid("86011117948")
    assert not account_is_valid("8601111794")


def test_round_ore_matches_the_validators_rounding() -> None:
    assert round_ore(D("0.125")) == D("0.13")
    assert round_ore(D("-0.125")) == D("-0.12")  # XPath round(): halves go towards +infinity
    assert round_ore(D("2.3749")) == D("2.37")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kid": "09280001237"}, "KID '09280001237'"),
        ({"number": " "}, "document number is empty"),
        ({"supplier_account": "86011117948"}, "bank account"),
        ({"buyer_reference": " "}, "buyer reference"),
        ({"currency": "SEK"}, "currency 'SEK'"),
        ({"due_date": date(2026, 11, 1)}, "due date"),
        ({"lines": ()}, "no lines"),
        ({"kind": "credit_note"}, "must name the invoice it corrects"),
    ],
)
def test_invalid_header_is_refused_naming_the_field(changes: dict, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        documents.invoice(**changes)


def test_line_errors_name_the_line() -> None:
    with pytest.raises(DocumentError, match=r"line 9 \(Brukerkonto\): unit price -1"):
        documents.line("9", 3, "Brukerkonto", "1", "-1")
    with pytest.raises(DocumentError, match=r"line 9 .*is not 2 x 10"):
        documents.line("9", 3, "Brukerkonto", "2", "10", net_amount=D("21.00"))
    with pytest.raises(DocumentError, match=r"line 9 .*category 5"):
        documents.line("9", 5, "Brukerkonto", "1", "1")
    with pytest.raises(DocumentError, match="VAT rate 25 % does not fit category O"):
        documents.line("9", 3, "Brukerkonto", "1", "1", vat_category="O")
    with pytest.raises(DocumentError, match=r"has >2 decimals"):
        documents.line("9", 3, "Brukerkonto", "1", "1.005", net_amount=D("1.005"))


def test_vat_and_out_of_scope_lines_never_share_an_invoice() -> None:
    lines = documents.vat_lines()
    mixed = (*lines[:-1], replace(lines[-1], vat_category="O"))
    with pytest.raises(DocumentError, match="VAT-registered supplier, category O line"):
        documents.invoice(lines=mixed)
    with pytest.raises(DocumentError, match="supplier outside VAT, lines must be O"):
        documents.invoice(supplier=documents.supplier(vat_registered=False))


def test_party_with_a_bad_orgnr_is_refused() -> None:
    with pytest.raises(DocumentError, match="Agder IKT IKS: organisation number '921635418'"):
        replace(documents.supplier(), orgnr="921635418")


RATES = st.sampled_from([("S", D(25)), ("S", D(15)), ("S", D(12)), ("Z", D(0)), ("E", D(0))])


@st.composite
def lines(draw: st.DrawFn) -> tuple[DocumentLine, ...]:
    count = draw(st.integers(min_value=1, max_value=8))
    result = []
    for index in range(count):
        quantity = D(draw(st.integers(min_value=-40, max_value=20000))) / 4
        price = D(draw(st.integers(min_value=0, max_value=5_000_000))) / 10_000
        category, percent = draw(RATES)
        result.append(
            documents.line(
                str(index + 1),
                draw(st.integers(1, 4)),
                f"Tjeneste {index}",
                str(quantity),
                str(price),
                net_amount=(quantity * price).quantize(D("0.01"), rounding=ROUND_HALF_UP),
                vat_category=category,
                vat_percent=percent,
            )
        )
    return tuple(result)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines())
def test_any_valid_month_passes_the_official_rules_exactly(drawn: tuple[DocumentLine, ...]) -> None:
    total = sum((x.net_amount for x in drawn), D(0))
    if total < 0:
        return  # refused by the document (a credit note is issued instead); tested above
    doc = documents.invoice(lines=drawn)
    assert sum(r.taxable_amount for r in doc.vat_breakdown) == doc.line_total  # BR-CO-10, -13
    assert doc.payable_amount == doc.line_total + doc.tax_total  # BR-CO-15, -16
    failures = validate_ehf(to_ehf(doc))
    assert failures == []
