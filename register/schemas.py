"""API input and output shapes. Input schemas carry the field rules shared by the API, the
pages and the importer, so a value is judged the same way wherever it comes in."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Generic, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from register.choices import (
    CIKind,
    Classification,
    ContactKind,
    Criticality,
    Lifecycle,
    ProbeKind,
    RelationKind,
    Responsibility,
    Role,
    SiteKind,
)
from register.identifiers import kommunenummer_problem, normalise_orgnr, orgnr_problem

T = TypeVar("T")


def _orgnr(value: str) -> str:
    value = normalise_orgnr(value)
    problem = orgnr_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _kommunenummer(value: str) -> str:
    value = value.strip()
    problem = kommunenummer_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _slug(value: str) -> str:
    import re

    value = value.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", value):
        raise ValueError(
            "may contain only a-z, 0-9, '.', '_' and '-' and must start with a letter or digit"
        )
    return value


def _one_line(value: str) -> str:
    """Refuse control characters (and line breaks) in one-line text: they end up in EHF
    invoices, export files and probe targets, whose formats cannot hold them."""
    import unicodedata

    bad = [c for c in value if unicodedata.category(c) == "Cc" or c in "\u2028\u2029"]
    if bad:
        raise ValueError(f"must be one line without control characters (found {bad[0]!r})")
    return value


#: One line of text without control characters (addresses, names, references).
OneLine = Annotated[str, AfterValidator(_one_line)]
Orgnr = Annotated[str, AfterValidator(_orgnr)]
Kommunenummer = Annotated[str, AfterValidator(_kommunenummer)]
Slug = Annotated[str, Field(min_length=1, max_length=80), AfterValidator(_slug)]
Name = Annotated[str, Field(min_length=1, max_length=160), AfterValidator(_one_line)]


def _window(value: str) -> str:
    from register import windows

    windows.parse(value)  # ValueError names the part that is wrong
    return value.strip()


#: Weekly maintenance windows of a system, e.g. "tue 20:00-24:00; sat 06:00-12:00".
MaintenanceWindow = Annotated[str, Field(max_length=200), AfterValidator(_window)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Patch(Strict):
    """A partial update: a field left out keeps its value, and ``null`` is accepted only for
    the fields in ``NULLABLE`` (those that may be empty); anywhere else it is a 422, not a
    database error."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _null_only_where_allowed(self) -> Self:
        for name in sorted(self.model_fields_set - self.NULLABLE):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: must not be null")
        return self


# ---- kommuner ----------------------------------------------------------------------------------


class KommuneFields(Strict):
    name: Name
    inhabitants: int | None = Field(default=None, ge=0)
    inhabitants_date: date | None = None
    address_line: OneLine = Field(default="", max_length=200)
    postcode: OneLine = Field(default="", max_length=10)
    city: OneLine = Field(default="", max_length=80)
    invoice_email: OneLine = Field(default="", max_length=200)
    buyer_reference: OneLine = Field(default="", max_length=120)
    accounting_cost: OneLine = Field(default="", max_length=100)
    order_reference: OneLine = Field(default="", max_length=60)

    @model_validator(mode="after")
    def _inhabitants_need_date(self) -> KommuneFields:
        if self.inhabitants is not None and self.inhabitants_date is None:
            raise ValueError("inhabitants_date: a reference date is required with inhabitants")
        return self


class KommuneCreate(KommuneFields):
    slug: Slug
    kommunenummer: Kommunenummer
    orgnr: Orgnr
    valid_from: date = date(2000, 1, 1)
    valid_to: date | None = None


class KommuneUpdate(Patch):
    NULLABLE = frozenset({"inhabitants", "inhabitants_date"})

    name: Name | None = None
    inhabitants: int | None = Field(default=None, ge=0)
    inhabitants_date: date | None = None
    address_line: OneLine | None = Field(default=None, max_length=200)
    postcode: OneLine | None = Field(default=None, max_length=10)
    city: OneLine | None = Field(default=None, max_length=80)
    invoice_email: OneLine | None = Field(default=None, max_length=200)
    buyer_reference: OneLine | None = Field(default=None, max_length=120)
    accounting_cost: OneLine | None = Field(default=None, max_length=100)
    order_reference: OneLine | None = Field(default=None, max_length=60)


class KommuneEnd(Strict):
    valid_to: date
    successor_id: int | None = None


class KommuneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    name: str
    kommunenummer: str
    orgnr: str
    inhabitants: int | None
    inhabitants_date: date | None
    address_line: str
    postcode: str
    city: str
    country: str
    invoice_email: str
    buyer_reference: str
    accounting_cost: str = ""
    order_reference: str = ""
    valid_from: date
    valid_to: date | None
    successor_id: int | None


class ContactIn(Strict):
    kind: ContactKind
    name: Name
    title: str = Field(default="", max_length=120)
    email: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)


class ContactOut(ContactIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: int
    kommune_id: int


class SiteIn(Strict):
    kommune_id: int
    code: Slug
    name: Name
    kind: SiteKind = SiteKind.SITE
    parent_id: int | None = None
    address: OneLine = Field(default="", max_length=200)


class SiteUpdate(Patch):
    NULLABLE = frozenset({"parent_id"})

    name: Name | None = None
    kind: SiteKind | None = None
    parent_id: int | None = None
    address: OneLine | None = Field(default=None, max_length=200)


class SiteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kommune_id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    address: str


# ---- people ------------------------------------------------------------------------------------


class UserCreate(Strict):
    username: Slug
    full_name: Name
    email: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)
    kommune_id: int | None = None
    site_id: int | None = None
    roles: list[Role] = Field(default_factory=lambda: [Role.END_USER])
    password: str | None = Field(default=None, min_length=12, max_length=200)
    language: str = Field(default="nb", pattern="^(nb|en)$")
    active: bool = True


class UserUpdate(Patch):
    NULLABLE = frozenset({"site_id"})

    full_name: Name | None = None
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    site_id: int | None = None
    roles: list[Role] | None = None
    language: str | None = Field(default=None, pattern="^(nb|en)$")
    active: bool | None = None


class PasswordChange(Strict):
    current_password: str
    new_password: str = Field(min_length=12, max_length=200)
    #: Keep one's API tokens working; by default they are revoked with the old password
    #: (and one's other sign-ins always end).
    keep_tokens: bool = False


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    full_name: str
    email: str
    phone: str
    kommune_id: int | None
    site_id: int | None
    active: bool
    language: str
    roles: list[str] = []
    last_login_at: datetime | None


class TokenCreate(Strict):
    name: Name
    scopes: list[str] = Field(min_length=1)
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    scopes: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The token itself; shown only once.")


# ---- systems register --------------------------------------------------------------------------


class CIFields(Strict):
    name: Name
    kind: CIKind
    classification: Classification | None = None
    criticality: Criticality = Criticality.MEDIUM
    life_and_health: bool = False
    finance_payroll: bool = False
    lifecycle: Lifecycle = Lifecycle.IN_PRODUCTION
    owner_kommune_id: int | None = None
    service: OneLine = Field(default="", max_length=120)
    description: str = Field(default="", max_length=4000)
    vendor: OneLine = Field(default="", max_length=120)
    version: OneLine = Field(default="", max_length=60)
    address: OneLine = Field(default="", max_length=255)
    maintenance_window: MaintenanceWindow = ""

    @model_validator(mode="after")
    def _fagsystem_needs_classification(self) -> CIFields:
        if self.kind == CIKind.FAGSYSTEM and self.classification is None:
            raise ValueError("classification: a fagsystem must be classified")
        return self


class CICreate(CIFields):
    key: Slug


class CIUpdate(Patch):
    NULLABLE = frozenset({"classification", "owner_kommune_id"})

    name: Name | None = None
    classification: Classification | None = None
    criticality: Criticality | None = None
    life_and_health: bool | None = None
    finance_payroll: bool | None = None
    lifecycle: Lifecycle | None = None
    owner_kommune_id: int | None = None
    service: OneLine | None = Field(default=None, max_length=120)
    description: str | None = Field(default=None, max_length=4000)
    vendor: OneLine | None = Field(default=None, max_length=120)
    version: OneLine | None = Field(default=None, max_length=60)
    address: OneLine | None = Field(default=None, max_length=255)
    maintenance_window: MaintenanceWindow | None = None


class CIOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    name: str
    kind: str
    classification: str | None
    criticality: str
    life_and_health: bool
    finance_payroll: bool
    lifecycle: str
    owner_kommune_id: int | None
    service: str
    description: str
    vendor: str
    version: str
    maintenance_window: str = ""
    address: str
    warnings: list[str] = []


class ResponsibilityIn(Strict):
    user_id: int
    kind: Responsibility


class ResponsibilityOut(BaseModel):
    id: int
    ci_id: int
    user_id: int
    kind: str
    name: str
    email: str


class RelationIn(Strict):
    target_id: int
    kind: RelationKind


class RelationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    source_id: int
    target_id: int
    kind: str


class UsageIn(Strict):
    kommune_id: int
    users_count: int = Field(ge=0)


class UsageOut(UsageIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: int
    ci_id: int


class TargetIn(Strict):
    probe: ProbeKind
    target: str = Field(min_length=1, max_length=255)
    interval_seconds: int = Field(default=60, ge=5, le=86400)
    timeout_seconds: int = Field(default=10, ge=1, le=300)
    enabled: bool = True

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> TargetIn:
        if self.timeout_seconds > self.interval_seconds:
            raise ValueError("timeout_seconds: must not exceed interval_seconds")
        return self


class TargetOut(TargetIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: int
    ci_id: int


class Page(BaseModel, Generic[T]):
    """A keyset page: pass ``next`` back as ``after`` for the following page."""

    items: list[T]
    next: str | None = None
