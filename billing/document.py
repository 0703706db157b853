"""The invoice document: what every billing output (EHF, PDF, CSV) is made from.

This is the agreed interface between the invoice run (which maps its drafts and issued invoices
onto it in ``billing/assemble.py``) and the outputs (``billing/ehf.py``, ``billing/pdf.py``,
``billing/csvspec.py``). Plain frozen dataclasses, no ORM, all money ``Decimal``.

The constructors refuse a document that could not become a valid EHF (Peppol BIS Billing 3.0):
the error names the field and the value, so a bad price model or register entry is caught when
the run assembles the document, not when the kommune's access point rejects the file.

Amounts on a credit note are positive: the credit note as a whole credits them (UBL CreditNote).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from billing.errors import CodedError
from register.identifiers import orgnr_problem

DocumentKind = Literal["invoice", "credit_note"]
VAT_CATEGORIES = ("S", "Z", "E", "O")
ORE = Decimal("0.01")

# Wording on the invoice for exempt and out-of-scope supplies (BR-E-10, BR-O-10). The VATEX code
# is given only for "O": the EU codes for exemptions cite the EU VAT directive, which is not the
# Norwegian law an exempt supply falls under.
EXEMPTION_REASONS: dict[str, tuple[str | None, str]] = {
    "E": (None, "Unntatt fra merverdiavgift etter merverdiavgiftsloven kapittel 3"),
    "O": ("VATEX-EU-O", "Utenfor merverdiavgiftsområdet"),
}


class DocumentError(CodedError):
    """A document that cannot be issued; the message names the field and value."""


def round_ore(value: Decimal) -> Decimal:
    """Round to øre the way the EN 16931 schematron does (XPath ``round``: half towards +inf).

    BR-CO-17 recomputes each VAT amount with XPath ``round``; rounding the same way here means
    the validator and the invoice can never disagree by an øre on a negative half.
    """
    return (value + Decimal("0.005")).quantize(ORE, rounding=ROUND_FLOOR)


def mod10_check_digit(digits: str) -> int:
    """Luhn (MOD10) check digit, as Norwegian KID and bank systems use it."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def mod11_check_digit(digits: str) -> int | None:
    """MOD11 check digit with weights 2..7 from the right; None where the rest is 10 ('-')."""
    total = sum(int(ch) * (2 + i % 6) for i, ch in enumerate(reversed(digits)))
    rest = 11 - total % 11
    return 0 if rest == 11 else None if rest == 10 else rest


def kid_is_valid(kid: str) -> bool:
    """A KID of 2..25 digits whose last digit is a MOD10 or a MOD11 check digit ('-' for 10)."""
    if not re.fullmatch(r"\d{1,24}[\d-]", kid):
        return False
    body, check = kid[:-1], kid[-1]
    if check == "-":
        return mod11_check_digit(body) is None
    return int(check) in (mod10_check_digit(body), mod11_check_digit(body))


def make_kid(base: str) -> str:
    """A MOD10 KID for a digit string (e.g. customer number + invoice number)."""
    if not re.fullmatch(r"\d{1,24}", base):
        raise DocumentError("kid_base", "KID base {base!r} must be 1 to 24 digits", base=base)
    return base + str(mod10_check_digit(base))


def account_is_valid(account: str) -> bool:
    """A Norwegian bank account: 11 digits, the last a MOD11 check digit of the first ten."""
    if not re.fullmatch(r"\d{11}", account):
        return False
    return mod11_check_digit(account[:10]) == int(account[10])


def _require(condition: bool, message: str) -> None:
    if not condition:
        # The rules of EN 16931 are named in English (as the standard names them).
        raise DocumentError("document_rule", "{rule}", rule=message)


def _is_amount(value: Decimal) -> bool:
    """Two decimals at most, as BR-DEC-* require of every amount."""
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -2


@dataclass(frozen=True)
class Party:
    name: str
    orgnr: str
    street: str
    postal_code: str
    city: str
    country_code: str = "NO"
    email: str | None = None
    vat_registered: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    # Aksjeselskap, IKS and the like must print "Foretaksregisteret" (NO-R-002); a kommune is not
    # in that register, so only the supplier's flag matters.
    in_business_register: bool = True

    def __post_init__(self) -> None:
        problem = orgnr_problem(self.orgnr)
        _require(problem is None, f"{self.name}: organisation number {self.orgnr!r} {problem}")
        _require(bool(self.name.strip()), f"party {self.orgnr}: the name is empty")
        _require(
            re.fullmatch(r"[A-Z]{2}", self.country_code) is not None,
            f"{self.name}: country code {self.country_code!r} is not ISO 3166 alpha-2",
        )

    @property
    def vat_number(self) -> str | None:
        """The VAT identifier ``NO{orgnr}MVA`` of a VAT-registered Norwegian party (NO-R-001)."""
        return f"NO{self.orgnr}MVA" if self.vat_registered else None


@dataclass(frozen=True)
class LineDetail:
    """One specification row under a line: a counted user, a ticket's hours, a purchase."""

    text: str
    quantity: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True)
class DocumentLine:
    line_id: str
    category: int
    service: str
    description: str
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    net_amount: Decimal
    vat_category: str
    vat_percent: Decimal
    period_start: date
    period_end: date
    details: tuple[LineDetail, ...] = ()
    #: BT-149: the quantity the unit price is for (60 minutes of an hourly rate).
    base_quantity: Decimal = Decimal(1)
    #: BT-133: the buyer's kontostreng for this line.
    accounting_cost: str | None = None

    def __post_init__(self) -> None:
        where = f"line {self.line_id} ({self.service})"
        _require(self.base_quantity > 0, f"{where}: base quantity {self.base_quantity} is not > 0")
        _require(bool(self.line_id.strip()), f"{where}: the line id is empty")
        _require(self.category in (1, 2, 3, 4), f"{where}: category {self.category} is not 1..4")
        _require(_is_amount(self.net_amount), f"{where}: amount {self.net_amount} has >2 decimals")
        _require(self.unit_price >= 0, f"{where}: unit price {self.unit_price} is negative")
        _require(
            abs(self.quantity * self.unit_price / self.base_quantity - self.net_amount) <= ORE,
            f"{where}: amount {self.net_amount} is not {self.quantity} x {self.unit_price}",
        )
        _require(self.vat_category in VAT_CATEGORIES, f"{where}: VAT {self.vat_category!r}")
        zero_rate = self.vat_category != "S"
        _require(
            (self.vat_percent == 0) == zero_rate and self.vat_percent >= 0,
            f"{where}: VAT rate {self.vat_percent} % does not fit category {self.vat_category}",
        )
        _require(
            self.period_start <= self.period_end,
            f"{where}: period {self.period_start}..{self.period_end} ends before it starts",
        )


@dataclass(frozen=True)
class VatSubtotal:
    """One row of the VAT breakdown (BG-23): a category and rate with its sums."""

    category: str
    percent: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal

    @property
    def exemption(self) -> tuple[str | None, str] | None:
        """(VATEX code, reason text) for exempt and out-of-scope supplies."""
        return EXEMPTION_REASONS.get(self.category)


@dataclass(frozen=True)
class InvoiceDocument:
    kind: DocumentKind
    number: str
    issue_date: date
    due_date: date
    supplier: Party
    customer: Party
    buyer_reference: str
    kid: str
    supplier_account: str
    period_start: date
    period_end: date
    lines: tuple[DocumentLine, ...]
    currency: str = "NOK"
    note: str | None = None
    original_number: str | None = None
    original_issue_date: date | None = None
    #: BT-13: the buyer's order or agreement; BT-19: the buyer's kontostreng.
    order_reference: str | None = None
    accounting_cost: str | None = None
    _breakdown: tuple[VatSubtotal, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check_header()
        self._check_lines()
        object.__setattr__(self, "_breakdown", _breakdown(self.lines))

    def _check_header(self) -> None:
        where = f"{'credit note' if self.kind == 'credit_note' else 'invoice'} {self.number}"
        _require(self.kind in ("invoice", "credit_note"), f"{where}: kind {self.kind!r}")
        _require(bool(self.number.strip()), "document number is empty")
        _require(self.currency == "NOK", f"{where}: currency {self.currency!r} is not NOK")
        _require(bool(self.buyer_reference.strip()), f"{where}: the buyer reference is empty")
        _require(kid_is_valid(self.kid), f"{where}: KID {self.kid!r} fails its MOD10/MOD11 check")
        _require(
            account_is_valid(self.supplier_account),
            f"{where}: bank account {self.supplier_account!r} is not 11 digits with MOD11",
        )
        _require(self.due_date >= self.issue_date, f"{where}: due date before issue date")
        _require(self.period_start <= self.period_end, f"{where}: period ends before it starts")
        if self.kind == "credit_note":
            _require(
                self.original_number is not None and self.original_issue_date is not None,
                f"{where}: a credit note must name the invoice it corrects and its date",
            )

    def _check_lines(self) -> None:
        where = f"document {self.number}"
        _require(bool(self.lines), f"{where}: no lines")
        ids = [line.line_id for line in self.lines]
        _require(len(set(ids)) == len(ids), f"{where}: line ids repeat")
        categories = {line.vat_category for line in self.lines}
        if self.supplier.vat_registered:
            # BR-O-11..14: out-of-scope lines never share an invoice with VAT lines.
            _require("O" not in categories, f"{where}: VAT-registered supplier, category O line")
        else:
            _require(categories == {"O"}, f"{where}: supplier outside VAT, lines must be O")
        if self.total_lines() < 0:
            raise DocumentError(
                "negative_total",
                "{where}: the lines sum to a negative amount; issue a credit note",
                where=where,
            )

    def total_lines(self) -> Decimal:
        return sum((line.net_amount for line in self.lines), Decimal("0.00"))

    @property
    def is_credit_note(self) -> bool:
        return self.kind == "credit_note"

    @property
    def line_total(self) -> Decimal:
        """BT-106: the sum of the line net amounts (BR-CO-10)."""
        return self.total_lines()

    @property
    def vat_breakdown(self) -> tuple[VatSubtotal, ...]:
        """BG-23 per VAT category and rate, in a stable order (S first, by falling rate)."""
        return self._breakdown

    @property
    def tax_total(self) -> Decimal:
        """BT-110: the sum of the breakdown's VAT amounts (BR-CO-14)."""
        return sum((row.tax_amount for row in self._breakdown), Decimal("0.00"))

    @property
    def tax_exclusive_amount(self) -> Decimal:
        """BT-109: no document-level allowances or charges, so the line total (BR-CO-13)."""
        return self.line_total

    @property
    def tax_inclusive_amount(self) -> Decimal:
        """BT-112 (BR-CO-15)."""
        return self.tax_exclusive_amount + self.tax_total

    @property
    def payable_amount(self) -> Decimal:
        """BT-115: nothing is prepaid and nothing rounded off (BR-CO-16)."""
        return self.tax_inclusive_amount


def _breakdown(lines: Iterable[DocumentLine]) -> tuple[VatSubtotal, ...]:
    sums: dict[tuple[str, Decimal], Decimal] = {}
    for line in lines:
        key = (line.vat_category, line.vat_percent.normalize())
        sums[key] = sums.get(key, Decimal("0.00")) + line.net_amount
    order = sorted(sums, key=lambda k: (VAT_CATEGORIES.index(k[0]), -k[1]))
    return tuple(
        VatSubtotal(
            category=category,
            percent=percent,
            taxable_amount=sums[(category, percent)],
            # BR-CO-17: the VAT of a category is its taxable sum x rate, rounded once.
            tax_amount=round_ore(sums[(category, percent)] * percent / 100),
        )
        for category, percent in order
    )
