"""The shapes a month's run is computed into (no database): lines, details, the context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from billing.choices import KeyKind
from billing.errors import fault
from billing.inputs import Inputs
from fellesdrift.kernel.problems import FieldError

HOURS = Decimal("0.0001")
SHARE = Decimal("0.000001")
KEY_LABELS = {
    KeyKind.EQUAL: "likt",
    KeyKind.INHABITANTS: "innbyggere",
    KeyKind.USER_ACCOUNTS: "brukerkontoer",
    KeyKind.DEVICES: "enheter",
    KeyKind.FIXED: "faste prosenter",
}


def nok(amount: Decimal) -> str:
    """Norwegian notation: 12 345,60."""
    whole, _, cents = f"{amount:,.2f}".partition(".")
    return whole.replace(",", "\u00a0") + "," + cents


def hours_text(hours: Decimal) -> str:
    return f"{hours.normalize():f}".replace(".", ",") + " t"


@dataclass
class DetailDraft:
    text: str
    quantity: Decimal | None = None
    amount: Decimal | None = None


@dataclass
class LineDraft:
    kommune_id: int
    category: int
    service: str
    description: str
    element_id: int | None
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    net_amount: Decimal
    vat_category: str
    vat_percent: Decimal
    pool_amount: Decimal | None = None
    key_kind: str | None = None
    key_weight: Decimal | None = None
    details: list[DetailDraft] = field(default_factory=list)
    #: Category 3: the count snapshot whose items become the specification.
    snapshot_id: int | None = None
    #: The quantity the unit price is for (BT-149): 60 minutes for an hourly rate on minutes.
    base_quantity: Decimal = Decimal(1)

    def key(self) -> tuple[Any, ...]:
        return (self.category, self.service, self.description, self.element_id or 0)


@dataclass
class Context:
    inputs: Inputs
    vat: tuple[str, Decimal]
    inhabitants: dict[date, dict[int, int]]
    systems: dict[int, str]
    errors: list[FieldError] = field(default_factory=list)

    def error(
        self, item: str, code: str, template: str, value: Any = None, /, **params: Any
    ) -> None:
        """An error naming its item; see ``billing.errors.fault``."""
        self.errors.append(fault(item, code, template, value, **params))

    def name(self, kommune_id: int | None) -> str:
        for k in self.inputs.kommuner:
            if k.id == kommune_id:
                return k.name
        return self.inputs.names.get(kommune_id or 0, f"kommune {kommune_id}")
