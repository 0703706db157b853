"""Gapless invoice numbers, the supplier, VAT and KID.

Numbers are taken inside the issuing transaction with the series row locked (``FOR UPDATE``
on PostgreSQL; SQLite serialises writers), so a failed issue takes no number and two
concurrent issues never share or skip one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from billing.document import make_kid
from billing.errors import refusal
from billing.models import NumberSeries, Supplier

INVOICE_SERIES = "F"
CREDIT_SERIES = "K"
DEFAULT_PREFIX = {INVOICE_SERIES: "F-", CREDIT_SERIES: "K-"}
STANDARD_VAT = Decimal("25.00")


def supplier_of(session: Session) -> Supplier:
    supplier = session.exec(select(Supplier).order_by(col(Supplier.id))).first()
    if supplier is None:
        raise refusal(
            422,
            "No supplier",
            "no_supplier",
            "the supplier (name, organisation number, bank account, VAT registration) is not "
            "configured; set it before running billing",
        )
    return supplier


def vat_of(supplier: Supplier) -> tuple[str, Decimal]:
    """The VAT category and rate of the unit's own services."""
    return ("S", STANDARD_VAT) if supplier.vat_registered else ("O", Decimal("0.00"))


def take_numbers(session: Session, series: str, count: int) -> list[int]:
    """``count`` consecutive numbers of ``series``; the caller's transaction holds the row."""
    table = NumberSeries.__table__  # type: ignore[attr-defined]
    stmt = sa.select(table.c.next_number).where(table.c.key == series)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    first = session.execute(stmt).scalar()
    if first is None:
        session.execute(
            sa.insert(table).values(
                key=series, prefix=DEFAULT_PREFIX.get(series, ""), next_number=1
            )
        )
        return take_numbers(session, series, count)
    session.execute(sa.update(table).where(table.c.key == series).values(next_number=first + count))
    return list(range(first, first + count))


def prefix_of(session: Session, series: str) -> str:
    row = session.get(NumberSeries, series)
    return row.prefix if row is not None else DEFAULT_PREFIX.get(series, "")


def document_number(prefix: str, number: int) -> str:
    return f"{prefix}{number:06d}"


#: A digit per number series in the KID, so invoice F-000005 and credit note K-000005 of one
#: kommune never share a KID (a payment is matched to one document by it).
SERIES_DIGITS = {INVOICE_SERIES: "1", CREDIT_SERIES: "2"}


def kid_for(
    supplier: Supplier, kommunenummer: str, number: int, series: str = INVOICE_SERIES
) -> str:
    """MOD10 KID: the kommunenummer, the series digit, the number zero-padded, a check digit.
    Unique over all series: the kommunenummer has a fixed width and each series its digit."""
    width = supplier.kid_length - 2 - len(kommunenummer)
    return make_kid(f"{kommunenummer}{SERIES_DIGITS[series]}{number:0{width}d}")


def due_date(supplier: Supplier, issued: date) -> date:
    return issued + timedelta(days=supplier.payment_days)


OSLO = ZoneInfo("Europe/Oslo")


def today_in_oslo() -> date:
    """Invoice dates are the business day in Norway, whatever the server's clock zone."""
    return datetime.now(OSLO).date()
