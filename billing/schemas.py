"""Input shapes of billing: the price model (YAML import and the UI share them).

Field rules live here so the API, the pages and the YAML import judge input alike; rules that
need the database (kommuner, sites, systems, inhabitants, overlapping versions) are checked in
``billing.pricemodel``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from billing.allocation import AllocationError, parse_fraction
from billing.choices import CountKind, KeyKind, OwnerKind, Rounding
from billing.errors import rule
from servicedesk.tickets.choices import WorkType

Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
UnitPrice = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
Code = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class KeyPart(Strict):
    key: KeyKind
    weight: str

    @field_validator("weight", mode="before")
    @classmethod
    def _fraction(cls, value: Any) -> str:
        try:
            fraction = parse_fraction(value)
        except AllocationError as exc:
            raise exc.as_rule() from None
        if fraction < 0:
            raise rule("negative_weight", "weight {value} is negative", value=value)
        return str(fraction)

    @field_validator("key")
    @classmethod
    def _simple(cls, value: KeyKind) -> KeyKind:
        if value in (KeyKind.MIX, KeyKind.FIXED):
            raise rule(
                "mix_part_kind",
                "a part of a weighted key is equal, inhabitants, user_accounts or devices",
            )
        return value


class KeyIn(Strict):
    """A category 1 key: ``equal``, ``inhabitants``, ``user_accounts``, ``devices``,
    ``{fixed: {<kommune>: <percent>}}`` or ``{mix: [{key, weight}, ...]}``."""

    kind: KeyKind
    fixed: dict[str, str] | None = None
    mix: list[KeyPart] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": value}
        if isinstance(value, dict) and "kind" not in value and len(value) == 1:
            ((kind, spec),) = value.items()
            return {"kind": kind, kind: spec}
        return value

    @field_validator("fixed", mode="before")
    @classmethod
    def _percentages(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise rule("fixed_shape", "fixed: give each kommune's percentage, e.g. {{arendal: 40}}")
        out = {}
        for kommune, pct in value.items():
            try:
                fraction = parse_fraction(f"{pct}%" if not str(pct).endswith("%") else pct)
            except AllocationError:
                raise rule(
                    "fixed_not_percent",
                    "fixed: {kommune}: {pct!r} is not a percentage",
                    kommune=kommune,
                    pct=pct,
                ) from None
            if fraction < 0:
                raise rule(
                    "fixed_negative",
                    "fixed: {kommune}: the percentage {pct} is negative",
                    kommune=kommune,
                    pct=pct,
                )
            out[str(kommune)] = str(fraction)
        return out

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == KeyKind.FIXED:
            if not self.fixed:
                raise rule("fixed_missing", "fixed: a fixed key needs each kommune's percentage")
            if sum(parse_fraction(v) for v in self.fixed.values()) != 1:
                raise rule("fixed_sum", "fixed: the percentages must sum to 100")
        if self.kind == KeyKind.MIX:
            if not self.mix:
                raise rule("mix_missing", "mix: a weighted key needs its parts")
            if sum(parse_fraction(p.weight) for p in self.mix) != 1:
                raise rule("mix_sum", "mix: the weights of the parts must sum to 1")
        return self

    def spec(self) -> Any:
        if self.kind == KeyKind.FIXED:
            return self.fixed
        if self.kind == KeyKind.MIX:
            return [{"key": p.key.value, "weight": p.weight} for p in self.mix or []]
        return None

    def kinds(self) -> set[KeyKind]:
        """The plain keys this key uses."""
        if self.kind == KeyKind.MIX:
            return {p.key for p in self.mix or []}
        return {self.kind}


class OwnerIn(Strict):
    kind: OwnerKind = OwnerKind.KOMMUNE
    kommune: str
    site: str | None = None

    @model_validator(mode="after")
    def _site_for_site(self) -> Self:
        if self.kind != OwnerKind.KOMMUNE and not self.site:
            raise rule(
                "owner_site_missing",
                "site: a cost tied to a {kind} names its code",
                kind=self.kind.value,
            )
        return self


class ElementIn(Strict):
    code: Code
    category: int = Field(ge=1, le=4)
    service: str = Field(min_length=1, max_length=160)
    description: str = Field(default="", max_length=2000)
    accounting_cost: str = Field(default="", max_length=100)
    monthly_amount: Amount | None = None
    annual_budget: Amount | None = None
    key: KeyIn | None = None
    inhabitants_date: date | None = None
    owner: OwnerIn | None = None
    count: CountKind | None = None
    system: str | None = None
    unit_price: UnitPrice | None = None
    rates: dict[WorkType, Amount] | None = None
    rounding: Rounding = Rounding.NONE
    rounding_minutes: int | None = Field(default=None, ge=1, le=240)

    @model_validator(mode="after")
    def _fields_of_the_category(self) -> Self:
        need = {
            1: ("key",),
            2: ("owner", "monthly_amount"),
            3: ("count", "unit_price"),
            4: ("rates",),
        }[self.category]
        for name in need:
            if getattr(self, name) in (None, {}):
                raise rule(
                    "required",
                    "{name}: required for a category {category} element",
                    name=name,
                    category=self.category,
                )
        if self.category == 1 and (self.monthly_amount is None) == (self.annual_budget is None):
            raise rule(
                "amount_or_budget", "monthly_amount: give either monthly_amount or annual_budget"
            )
        if self.count == CountKind.LICENCES and not self.system:
            raise rule(
                "licence_system", "system: licences are counted per system; name its register key"
            )
        if self.category == 4 and self.rounding != Rounding.NONE and not self.rounding_minutes:
            raise rule("rounding_block", "rounding_minutes: the rounding needs its block, e.g. 15")
        return self


class InhabitantsIn(Strict):
    date: date
    figures: dict[str, Annotated[int, Field(ge=0)]]
    source: str = Field(default="SSB", max_length=60)


class VersionIn(Strict):
    name: str = Field(min_length=1, max_length=120)
    valid_from: date
    valid_to: date | None = None
    note: str = Field(default="", max_length=2000)
    inhabitants: list[InhabitantsIn] = Field(default_factory=list)
    elements: list[ElementIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise rule("to_before_from", "valid_to: is before valid_from")
        seen: set[str] = set()
        for element in self.elements:
            if element.code in seen:
                raise rule(
                    "code_twice", "elements: the code {code!r} is used twice", code=element.code
                )
            seen.add(element.code)
        return self


class PriceModelIn(Strict):
    versions: list[VersionIn] = Field(min_length=1)


class SupplierIn(Strict):
    """The drift unit as seller; checked as EHF needs it (organisation number and account)."""

    name: str = Field(min_length=1, max_length=160)
    orgnr: str
    street: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=10)
    city: str = Field(default="", max_length=80)
    country_code: str = Field(default="NO", pattern=r"^[A-Z]{2}$")
    email: str = Field(default="", max_length=200)
    contact_name: str = Field(default="", max_length=120)
    vat_registered: bool = False
    in_business_register: bool = True
    bank_account: str
    payment_days: int = Field(default=30, ge=0, le=120)

    @field_validator("orgnr")
    @classmethod
    def _orgnr(cls, value: str) -> str:
        from register.identifiers import orgnr_problem

        problem = orgnr_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("bank_account")
    @classmethod
    def _account(cls, value: str) -> str:
        from billing.document import account_is_valid

        value = value.replace(".", "").replace(" ", "")
        if not account_is_valid(value):
            raise ValueError("a Norwegian bank account is 11 digits with a MOD11 check digit")
        return value


class PurchaseIn(Strict):
    """A one-off purchase passed through at cost to one kommune (category 4)."""

    kommune_id: int
    purchase_date: date
    service: str = Field(default="Innkjøp", min_length=1, max_length=160)
    description: str = Field(min_length=1, max_length=300)
    quantity: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=4)]
    unit_cost: UnitPrice
    vat_category: str = Field(pattern=r"^(S|Z|E|O)$")
    vat_percent: Amount = Decimal("0.00")
    ticket_id: int | None = None

    @model_validator(mode="after")
    def _rate_fits_category(self) -> Self:
        if (self.vat_category == "S") != (self.vat_percent > 0):
            raise ValueError(
                f"vat_percent: {self.vat_percent} % does not fit VAT category {self.vat_category}"
            )
        return self
