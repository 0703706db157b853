"""Numbers, amounts, dates and labels on invoice documents, written the Norwegian way.

Finance staff read "1 234,50 kr"; spreadsheets in a Norwegian locale read "1234,50". Both come from
the same Decimal, so a krone shown on the PDF is the krone in the CSV and in the EHF.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from billing.document import ORE, InvoiceDocument
from fellesdrift.kernel.i18n import translate

NBSP = "\u00a0"  # keeps "1 234,50 kr" on one line


def decimal_comma(value: Decimal, places: int | None = None) -> str:
    """``1234.5`` -> ``1234,5`` (or ``1234,50`` with ``places=2``); no thousands separator."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    elif value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    else:
        value = value.normalize()
    return f"{value:f}".replace(".", ",")


def grouped(value: Decimal, places: int | None = None) -> str:
    """``1234.5`` -> ``1 234,5``: digits grouped by three with no-break spaces."""
    text = decimal_comma(value, places)
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(",")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    result = sign + NBSP.join(groups or ["0"])
    return f"{result},{fraction}" if fraction else result


def kroner(value: Decimal) -> str:
    """``1234.5`` -> ``1 234,50 kr``."""
    return f"{grouped(value.quantize(ORE), 2)}{NBSP}kr"


def unit_price(value: Decimal) -> str:
    """A unit price: two decimals, or all of them when the price is finer than an øre."""
    places = 2 if value == value.quantize(ORE) else None
    return f"{grouped(value, places)}{NBSP}kr"


def day(value: date) -> str:
    """``2026-10-31`` -> ``31.10.2026``, the date format Norwegians write."""
    return value.strftime("%d.%m.%Y")


def kind_label(doc: InvoiceDocument, lang: str) -> str:
    return translate(f"billing_docs.kind.{doc.kind}", lang)


def unit_label(code: str, lang: str, quantity: Decimal | None = None) -> str:
    """The unit's name, in the singular for a quantity of exactly one ("1 time", "2 timer")."""
    key = f"billing_docs.unit.{code}"
    if quantity is not None and quantity == 1:
        one = translate(f"{key}.one", lang)
        if one != f"{key}.one":
            return one
    text = translate(key, lang)
    return code if text == key else text


def vat_label(category: str, percent: Decimal, lang: str) -> str:
    if category == "S":
        return f"{grouped(percent)}{NBSP}%"
    return translate(f"billing_docs.vat.{category}", lang)
