"""Tables of billing: the price model, monthly counts, invoice runs, invoices and credit notes.

Money columns are :class:`billing.types.Money` (exact ``Decimal`` on both backends). Access rules
for every table are registered in ``billing.rules``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, true
from sqlmodel import Field, SQLModel

from billing.types import Money
from fellesdrift.kernel.types import UTCDateTime, utcnow


def _ts(nullable: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable)


def _money(nullable: bool = False, scale: int = 2) -> Any:
    return Column(Money(14, scale), nullable=nullable)


class Supplier(SQLModel, table=True):
    """The drift unit as the seller on every invoice (one row, id 1)."""

    __tablename__ = "billing_supplier"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=160)
    orgnr: str = Field(max_length=9)
    street: str = Field(default="", max_length=200)
    postal_code: str = Field(default="", max_length=10)
    city: str = Field(default="", max_length=80)
    country_code: str = Field(default="NO", max_length=2)
    email: str = Field(default="", max_length=200)
    contact_name: str = Field(default="", max_length=120)
    #: True: 25 % MVA (category S, NO{orgnr}MVA); False: invoices outside VAT (category O).
    vat_registered: bool = False
    #: Registered in Foretaksregisteret (an IKS, an AS): the invoice must say so (NO-R-002);
    #: a vertskommune or a kommunalt oppgavefellesskap may not be.
    in_business_register: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    bank_account: str = Field(max_length=11)
    payment_days: int = Field(default=30, ge=0, le=120)
    #: Prefix of the KID: the customer part is the kommunenummer, then the invoice number.
    kid_length: int = Field(default=15, ge=8, le=25)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class NumberSeries(SQLModel, table=True):
    """A gapless number series; the next number is taken in the issuing transaction."""

    __tablename__ = "invoice_series"

    key: str = Field(primary_key=True, max_length=20)
    prefix: str = Field(default="", max_length=20)
    next_number: int = Field(default=1, ge=1)


class PriceModelVersion(SQLModel, table=True):
    """The prices valid for a period; a month is billed with the version valid on its first day."""

    __tablename__ = "price_model_version"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    valid_from: date = Field(unique=True)
    #: Inclusive; None: open-ended.
    valid_to: date | None = None
    note: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class PriceElement(SQLModel, table=True):
    """One priced service of a version, in one of the four categories."""

    __tablename__ = "price_element"
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="price_model_version.id", index=True)
    code: str = Field(max_length=60)
    category: int = Field(ge=1, le=4)
    service: str = Field(max_length=160)
    description: str = Field(default="", max_length=2000)
    #: The kontostreng of this service on every kommune's invoice line (BT-133); empty: the
    #: kommune's own.
    accounting_cost: str = Field(
        default="", max_length=100, sa_column_kwargs={"server_default": ""}
    )
    # Category 1: a pool per month (or an annual budget spread over the months) and its key.
    monthly_amount: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    annual_budget: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    key_kind: str | None = Field(default=None, max_length=20)
    #: fixed: {"<kommune slug>": "<percent>"}; mix: [{"key": "<kind>", "weight": "<fraction>"}]
    key_spec: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    inhabitants_date: date | None = None
    # Category 2: a fixed monthly amount charged to its owner.
    owner_kind: str | None = Field(default=None, max_length=20)
    owner_kommune_id: int | None = Field(default=None, foreign_key="kommune.id", index=True)
    owner_site_id: int | None = Field(default=None, foreign_key="site.id")
    # Category 3: unit price x the month's count of a kind (licences: of one system).
    count_kind: str | None = Field(default=None, max_length=20)
    ci_id: int | None = Field(default=None, foreign_key="config_item.id")
    unit_price: Decimal | None = Field(default=None, sa_column=_money(nullable=True, scale=4))
    # Category 4: rates per work type (table price_rate) and the rounding of time.
    rounding: str | None = Field(default=None, max_length=20)
    rounding_minutes: int | None = Field(default=None, ge=1, le=240)


class PriceRate(SQLModel, table=True):
    """Hourly rate of a category 4 element for one work type."""

    __tablename__ = "price_rate"
    __table_args__ = (UniqueConstraint("element_id", "work_type"),)

    id: int | None = Field(default=None, primary_key=True)
    element_id: int = Field(foreign_key="price_element.id", index=True)
    work_type: str = Field(max_length=20)
    rate: Decimal = Field(sa_column=_money())


class InhabitantFigure(SQLModel, table=True):
    """A kommune's inhabitants at a reference date (Statistics Norway, 1 January)."""

    __tablename__ = "inhabitant_figure"
    __table_args__ = (UniqueConstraint("kommune_id", "ref_date"),)

    id: int | None = Field(default=None, primary_key=True)
    kommune_id: int = Field(foreign_key="kommune.id", index=True)
    ref_date: date
    inhabitants: int = Field(ge=0)
    source: str = Field(default="SSB", max_length=60)


class CountSnapshot(SQLModel, table=True):
    """How many of a kind a kommune had in a month; locked once invoiced."""

    __tablename__ = "count_snapshot"
    __table_args__ = (UniqueConstraint("month", "kommune_id", "kind", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    month: date = Field(index=True)
    kommune_id: int = Field(foreign_key="kommune.id", index=True)
    kind: str = Field(max_length=20)
    #: For licences: the system's key in the register; "" for the other kinds.
    subject: str = Field(default="", max_length=80)
    quantity: int = Field(ge=0)
    source: str = Field(max_length=10)
    source_name: str = Field(default="", max_length=200)
    taken_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    #: The invoice run that billed it; the snapshot is then locked.
    locked_run_id: int | None = Field(default=None, foreign_key="invoice_run.id")


class CountItem(SQLModel, table=True):
    """One counted thing (a user account, a PC) behind a snapshot, for the specification."""

    __tablename__ = "count_item"
    __table_args__ = (Index("ix_count_item_snapshot", "snapshot_id", "label"),)

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="count_snapshot.id")
    label: str = Field(max_length=200)
    external_id: str = Field(default="", max_length=120)


class Purchase(SQLModel, table=True):
    """A one-off purchase passed through at cost (category 4) with its own VAT rate."""

    __tablename__ = "one_off_purchase"
    __table_args__ = (Index("ix_one_off_purchase_kommune_date", "kommune_id", "purchase_date"),)

    id: int | None = Field(default=None, primary_key=True)
    kommune_id: int = Field(foreign_key="kommune.id")
    purchase_date: date
    service: str = Field(default="Innkjøp", max_length=160)
    description: str = Field(max_length=300)
    quantity: Decimal = Field(sa_column=_money(scale=4))
    unit_cost: Decimal = Field(sa_column=_money(scale=4))
    vat_category: str = Field(default="S", max_length=2)
    vat_percent: Decimal = Field(sa_column=_money())
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    #: A credited line billed again (its credit note's line): at most once.
    rebills_line_id: int | None = Field(
        default=None, foreign_key="invoice_line.id", sa_column_kwargs={"unique": True}
    )
    #: The invoice that billed it; the purchase is then locked.
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class InvoiceRun(SQLModel, table=True):
    """The month's run: draft -> reviewed -> issued."""

    __tablename__ = "invoice_run"

    id: int | None = Field(default=None, primary_key=True)
    month: date = Field(unique=True)
    state: str = Field(default="draft", max_length=20)
    version_id: int = Field(foreign_key="price_model_version.id")
    #: SHA-256 of the inputs the draft was computed from; issuing recomputes and compares it.
    input_digest: str = Field(max_length=64)
    drafted_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    drafted_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    reviewed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    reviewed_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    issued_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    issued_by_id: int | None = Field(default=None, foreign_key="app_user.id")


class Invoice(SQLModel, table=True):
    """An invoice or credit note to one kommune. Immutable once issued (``number`` set)."""

    __table_args__ = (
        UniqueConstraint("series", "number"),
        Index("ix_invoice_kommune_period", "kommune_id", "period_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="invoice_run.id", index=True)
    kommune_id: int = Field(foreign_key="kommune.id")
    kind: str = Field(default="invoice", max_length=20)
    #: "standard" (categories S/Z/E) or "outside" (O): never mixed on one invoice (BR-O-*).
    vat_group: str = Field(default="standard", max_length=10)
    series: str = Field(max_length=20)
    number: int | None = None
    document_number: str | None = Field(default=None, max_length=40)
    issue_date: date | None = None
    due_date: date | None = None
    period_start: date
    period_end: date
    buyer_reference: str = Field(default="", max_length=120)
    #: BT-13 and BT-19, from the kommune's settings when drafted.
    order_reference: str = Field(default="", max_length=60, sa_column_kwargs={"server_default": ""})
    accounting_cost: str = Field(
        default="", max_length=100, sa_column_kwargs={"server_default": ""}
    )
    kid: str | None = Field(default=None, max_length=25)
    currency: str = Field(default="NOK", max_length=3)
    net_total: Decimal = Field(sa_column=_money())
    vat_total: Decimal = Field(sa_column=_money())
    payable: Decimal = Field(sa_column=_money())
    original_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    note: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id")
    position: int
    category: int = Field(ge=1, le=4)
    service: str = Field(max_length=160)
    description: str = Field(max_length=300)
    element_id: int | None = Field(default=None, foreign_key="price_element.id")
    quantity: Decimal = Field(sa_column=_money(scale=4))
    unit_code: str = Field(max_length=3)
    unit_price: Decimal = Field(sa_column=_money(scale=4))
    #: BT-133: the price element's kontostreng, else the kommune's.
    accounting_cost: str = Field(
        default="", max_length=100, sa_column_kwargs={"server_default": ""}
    )
    #: The quantity the unit price is for (BT-149), e.g. 60 minutes for an hourly rate.
    base_quantity: Decimal = Field(
        default=Decimal(1),
        sa_column=Column(Money(14, 4), nullable=False, server_default="1"),
    )
    net_amount: Decimal = Field(sa_column=_money())
    vat_category: str = Field(max_length=2)
    vat_percent: Decimal = Field(sa_column=_money())
    period_start: date
    period_end: date
    # Category 1 transparency: the pool, the key and this kommune's weight of the total.
    pool_amount: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    key_kind: str | None = Field(default=None, max_length=20)
    key_weight: Decimal | None = Field(default=None, sa_column=_money(nullable=True, scale=6))
    #: The credited line of the original invoice (credit notes only).
    original_line_id: int | None = Field(default=None, foreign_key="invoice_line.id")
    #: Category 3: the count snapshot billed; its items (locked once invoiced) are the
    #: line's specification, read from there rather than copied.
    snapshot_id: int | None = Field(default=None, foreign_key="count_snapshot.id")


class InvoiceLineDetail(SQLModel, table=True):
    """A specification row under a line: a counted user, the hours on one ticket."""

    __tablename__ = "invoice_line_detail"
    __table_args__ = (Index("ix_invoice_line_detail_line", "line_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="invoice_line.id")
    position: int
    text: str = Field(max_length=300)
    quantity: Decimal | None = Field(default=None, sa_column=_money(nullable=True, scale=4))
    amount: Decimal | None = Field(default=None, sa_column=_money(nullable=True))


class InvoiceFile(SQLModel, table=True):
    """An issued invoice's or credit note's documents as issued: the EHF, PDF and CSV bytes
    and the document they were made from (JSON), written in the issuing transaction and served
    from here ever after. The legal record (bokføringsloven): rows are only ever inserted; the
    migration installs triggers that refuse UPDATE and DELETE."""

    __tablename__ = "invoice_file"
    __table_args__ = (UniqueConstraint("invoice_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    #: "document" (the JSON the others were made from), "ehf", "pdf" or "csv".
    kind: str = Field(max_length=10)
    language: str = Field(default="nb", max_length=5)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
