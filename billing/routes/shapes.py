"""Output shapes of the billing API (money as decimal strings, exact to the øre)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InvoiceOut(Out):
    id: int
    run_id: int
    kommune_id: int
    kind: str
    vat_group: str
    series: str
    number: int | None
    document_number: str | None
    issue_date: date | None
    due_date: date | None
    period_start: date
    period_end: date
    buyer_reference: str
    kid: str | None
    currency: str
    net_total: Decimal
    vat_total: Decimal
    payable: Decimal
    original_id: int | None
    note: str


class DetailOut(BaseModel):
    text: str
    quantity: Decimal | None
    amount: Decimal | None


class LineOut(Out):
    id: int
    position: int
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
    pool_amount: Decimal | None
    key_kind: str | None
    key_weight: Decimal | None
    original_line_id: int | None
    details: list[DetailOut] = Field(default_factory=list)


class InvoiceDetailOut(InvoiceOut):
    lines: list[LineOut]


class RunOut(Out):
    id: int
    month: date
    state: str
    version_id: int
    drafted_at: datetime
    reviewed_at: datetime | None
    issued_at: datetime | None


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issue_date: date | None = None


class CreditIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=1, max_length=2000)
    line_ids: list[int] | None = None
    #: Line id -> the quantity of it to credit (a part); lines not named are credited whole.
    quantities: dict[int, Decimal] | None = None


class RateOut(BaseModel):
    work_type: str
    rate: Decimal


class ElementOut(Out):
    id: int
    code: str
    category: int
    service: str
    description: str
    monthly_amount: Decimal | None
    annual_budget: Decimal | None
    key_kind: str | None
    key_spec: Any = None
    inhabitants_date: date | None
    owner_kind: str | None
    owner_kommune_id: int | None
    owner_site_id: int | None
    count_kind: str | None
    ci_id: int | None
    unit_price: Decimal | None
    rounding: str | None
    rounding_minutes: int | None
    rates: list[RateOut] = Field(default_factory=list)


class VersionOut(Out):
    id: int
    name: str
    valid_from: date
    valid_to: date | None
    note: str


class VersionDetailOut(VersionOut):
    elements: list[ElementOut]


class ShareOut(BaseModel):
    kommune_id: int
    kommune: str
    amount: Decimal
    share: Decimal | None


class ServiceCostOut(BaseModel):
    category: int
    service: str
    key_kind: str | None
    pool: Decimal | None
    total: Decimal
    shares: list[ShareOut]


class MonthTotalsOut(BaseModel):
    month: date
    by_category: dict[int, Decimal]
    net: Decimal
    vat: Decimal
    payable: Decimal


class KeyComparisonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    pool: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    key_a: Any = Field(description="A key as in the price model, e.g. {mix: [...]} or 'equal'")
    key_b: Any
    inhabitants_date: date | None = None


class KeyComparisonOut(BaseModel):
    kommune_id: int
    kommune: str
    share_a: Decimal
    share_b: Decimal
    amount_a: Decimal
    amount_b: Decimal
    difference: Decimal
