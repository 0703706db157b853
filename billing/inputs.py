"""What a month's run is computed from, gathered with aggregate queries.

Time entries are summed in the database (GROUP BY kommune, work type and ticket, with the
per-entry rounding done in SQL), so a month with a million entries returns a few thousand rows.
Every input that would make an invoice wrong is reported here, naming the item, before
anything is written.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from billing.choices import Rounding
from billing.errors import fault
from billing.models import (
    CountSnapshot,
    InhabitantFigure,
    PriceElement,
    PriceModelVersion,
    PriceRate,
    Purchase,
)
from billing.pricemodel import kommuner_in, version_for
from fellesdrift.kernel.problems import FieldError, invalid
from register.models import Kommune
from servicedesk.tickets.models import Ticket, TimeEntry


def parse_month(text: str) -> date:
    """``2026-10`` -> 2026-10-01; a clear error for anything else."""
    try:
        year, month = (int(p) for p in text.strip().split("-"))
        return date(year, month, 1)
    except ValueError:
        raise invalid(fault("month", "month_format", "expected a month as YYYY-MM", text)) from None


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


@dataclass(frozen=True)
class TimeRow:
    kommune_id: int
    work_type: str
    ticket_id: int
    title: str
    entries: int
    minutes: int
    billed_minutes: int
    id_sum: int = 0
    id_max: int = 0
    tlp: str = "amber"
    #: The ticket's own kommune (None: the drift unit's own or a shared ticket).
    ticket_kommune_id: int | None = None

    def shown_title(self) -> str | None:
        """The title as the invoice may show it, or None when TLP forbids it. The invoice is
        read by the billed kommune's finance staff, who are no participants of any ticket:
        RED (named participants only) never shows; AMBER (the organisations involved) shows
        only on the invoice of the ticket's own kommune; CLEAR and GREEN always."""
        if self.tlp in ("clear", "green"):
            return self.title
        if self.tlp == "amber" and self.ticket_kommune_id == self.kommune_id:
            return self.title
        return None


@dataclass
class Inputs:
    month: date
    end: date
    version: PriceModelVersion
    kommuner: list[Kommune]
    elements: list[PriceElement]
    rates: dict[int, dict[str, Decimal]]
    #: (kommune id, kind, subject) -> (quantity, snapshot id)
    counts: dict[tuple[int, str, str], tuple[int, int]]
    time: list[TimeRow]
    purchases: list[Purchase]
    errors: list[FieldError] = field(default_factory=list)
    #: Kommuner ended before the month whose records belong to a successor billed this
    #: month: ended kommune id -> (successor id, ended kommune's name).
    moved: dict[int, tuple[int, str]] = field(default_factory=dict)
    #: The counts of those kommuner: (successor id, kind, subject) -> [(name, qty, snapshot)].
    moved_counts: dict[tuple[int, str, str], list[tuple[str, int, int]]] = field(
        default_factory=dict
    )
    #: The time rows as read, before any moved to a successor (the fingerprint's sums).
    raw_time: list[TimeRow] = field(default_factory=list)
    #: Every kommune's name by id, billed or not (errors name them).
    names: dict[int, str] = field(default_factory=dict)

    @property
    def kommune_ids(self) -> set[int]:
        return {k.id for k in self.kommuner if k.id is not None}

    def count_of(self, kommune_id: int, kind: str, subject: str) -> int:
        """The kommune's count of a kind with those of kommuner merged into it."""
        key = (kommune_id, kind, subject)
        moved = sum(q for _, q, _ in self.moved_counts.get(key, []))
        return self.counts.get(key, (0, 0))[0] + moved

    def time_element(self) -> PriceElement | None:
        hourly = [e for e in self.elements if e.category == 4 and e.id in self.rates]
        return hourly[0] if hourly else None


def _elements(session: Session, version: PriceModelVersion) -> list[PriceElement]:
    stmt = (
        select(PriceElement)
        .where(PriceElement.version_id == version.id)
        .order_by(col(PriceElement.category), col(PriceElement.code))
    )
    return list(session.exec(stmt))


def _rates(session: Session, elements: list[PriceElement]) -> dict[int, dict[str, Decimal]]:
    ids = [e.id for e in elements]
    out: dict[int, dict[str, Decimal]] = {}
    for r in session.exec(select(PriceRate).where(col(PriceRate.element_id).in_(ids))):
        out.setdefault(r.element_id, {})[r.work_type] = r.rate
    return out


def _counts(session: Session, month: date) -> dict[tuple[int, str, str], tuple[int, int]]:
    stmt = select(CountSnapshot).where(CountSnapshot.month == month)
    return {
        (s.kommune_id, s.kind, s.subject): (s.quantity, s.id)  # type: ignore[misc]
        for s in session.exec(stmt)
    }


def _billed_minutes(element: PriceElement | None) -> Any:
    minutes = col(TimeEntry.minutes)
    if element is None or element.rounding != Rounding.UP_PER_ENTRY or not element.rounding_minutes:
        return minutes
    block = element.rounding_minutes
    # Whole started blocks per entry: integer arithmetic, identical on PostgreSQL and SQLite.
    return ((minutes + (block - 1)) // block) * block


def open_entries(start: date, end: date) -> Any:
    """The WHERE clause of the billable, not yet invoiced time entries of a period."""
    return sa.and_(
        col(TimeEntry.work_date) >= start,
        col(TimeEntry.work_date) <= end,
        col(TimeEntry.billable).is_(True),
        col(TimeEntry.invoice_ref).is_(None),
    )


def _time(session: Session, start: date, end: date, element: PriceElement | None) -> list[TimeRow]:
    keys = (
        col(TimeEntry.kommune_id),
        col(TimeEntry.work_type),
        col(TimeEntry.ticket_id),
        col(Ticket.title),
        col(Ticket.tlp),
        col(Ticket.kommune_id),
    )
    stmt = (
        sa.select(
            *keys,
            sa.func.count(),
            sa.func.sum(TimeEntry.minutes),
            sa.func.sum(_billed_minutes(element)),
            sa.func.sum(TimeEntry.id),
            sa.func.max(TimeEntry.id),
        )
        .join(Ticket, col(Ticket.id) == col(TimeEntry.ticket_id))
        .where(open_entries(start, end))
        .group_by(*keys)
        .order_by(*keys[:3])
    )
    return [
        TimeRow(k, w, t, title, int(n), int(m), int(b), int(i), int(x), tlp, tk)
        for k, w, t, title, tlp, tk, n, m, b, i, x in session.execute(stmt)
    ]


def _sum_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Sorted in Python, not by the database's collation, so both ways give the same order.
    return (row[0] is None, row[0] or 0, row[1])


def entry_sums_of(rows: list[TimeRow]) -> list[tuple[Any, ...]]:
    """:func:`_entry_sums` rolled up from the per-ticket rows the draft already read."""
    sums: dict[tuple[Any, str], list[int]] = {}
    for r in rows:
        s = sums.setdefault((r.kommune_id, r.work_type), [0, 0, 0, 0, 0])
        s[0] += r.entries
        s[1] += r.id_sum
        s[2] = max(s[2], r.id_max)
        s[3] += r.minutes
        s[4] += r.ticket_id * r.entries
    return sorted(((*key, *values) for key, values in sums.items()), key=_sum_key)


def _entry_sums(session: Session, start: date, end: date) -> list[Any]:
    """Sums that change whenever a billable entry of the period is added, removed or edited."""
    keys = (col(TimeEntry.kommune_id), col(TimeEntry.work_type))
    stmt = (
        sa.select(
            *keys,
            sa.func.count(),
            sa.func.sum(TimeEntry.id),
            sa.func.max(TimeEntry.id),
            sa.func.sum(TimeEntry.minutes),
            sa.func.sum(TimeEntry.ticket_id),
        )
        .where(open_entries(start, end))
        .group_by(*keys)
    )
    rows = [tuple(int(v) if i > 1 else v for i, v in enumerate(r)) for r in session.execute(stmt)]
    return sorted(rows, key=_sum_key)


def _fields(row: Any, leave_out: set[str]) -> list[tuple[str, Any]]:
    """A row's values in name order: a dump's key order follows how the row was loaded, which
    differs between processes, and the fingerprint must not."""
    return sorted(row.model_dump(exclude=leave_out).items())


def _small_inputs(session: Session, version: PriceModelVersion, month: date) -> list[Any]:
    elements = _elements(session, version)
    kommuner = session.exec(select(Kommune).order_by(col(Kommune.id))).all()
    figures = session.exec(select(InhabitantFigure).order_by(col(InhabitantFigure.id))).all()
    return [
        version.id,
        [_fields(e, {"description"}) for e in elements],
        sorted((k, sorted(v.items())) for k, v in _rates(session, elements).items()),
        sorted(_counts(session, month).items()),
        [_fields(k, {"created_at", "updated_at"}) for k in kommuner],
        [(f.kommune_id, f.ref_date, f.inhabitants) for f in figures],
    ]


def fingerprint(session: Session, month: date, entry_sums: list[Any] | None = None) -> str:
    """SHA-256 over every input of the month's run: the price model version, kommuner,
    inhabitants, counts, purchases and sums over the open time entries. Issuing compares it
    with the draft's, so nothing is issued that differs from what was reviewed.
    ``entry_sums``: the draft passes them rolled up from what it read (one scan less)."""
    end = month_end(month)
    version = version_for(session, month)
    parts = _small_inputs(session, version, month)
    parts.append([_fields(p, {"created_at"}) for p in _purchases(session, month, end)])
    parts.append(entry_sums if entry_sums is not None else _entry_sums(session, month, end))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _purchases(session: Session, start: date, end: date) -> list[Purchase]:
    stmt = (
        select(Purchase)
        .where(
            col(Purchase.purchase_date) >= start,
            col(Purchase.purchase_date) <= end,
            col(Purchase.invoice_id).is_(None),
        )
        .order_by(col(Purchase.kommune_id), col(Purchase.purchase_date), col(Purchase.id))
    )
    return list(session.exec(stmt))


def successors(
    session: Session, billed: list[Kommune], names: dict[int, str]
) -> dict[int, tuple[int, str]]:
    """Each kommune not billed this month whose chain of successors reaches one that is:
    after its end, its counts and invoices belong to the successor (a merger). Fills
    ``names`` with every kommune's name."""
    everyone = {k.id: k for k in session.exec(select(Kommune)) if k.id is not None}
    active = {k.id for k in billed}
    names.update({kommune_id: k.name for kommune_id, k in everyone.items()})
    out: dict[int, tuple[int, str]] = {}
    for kommune_id, kommune in everyone.items():
        seen, current = {kommune_id}, kommune
        while kommune_id not in active and current.successor_id not in (None, *seen):
            current = everyone[current.successor_id]  # type: ignore[index]
            seen.add(current.id)  # type: ignore[arg-type]
            if current.id in active:
                out[kommune_id] = (current.id, kommune.name)  # type: ignore[assignment]
                break
    return out


def _move(inputs: Inputs) -> None:
    """Counts and hours of merged kommuner to their successor: one rule for both."""
    moved = inputs.moved
    for key in sorted(k for k in inputs.counts if k[0] in moved):
        quantity, snapshot_id = inputs.counts.pop(key)
        to, name = moved[key[0]]
        inputs.moved_counts.setdefault((to, key[1], key[2]), []).append(
            (name, quantity, snapshot_id)
        )
    inputs.time = [
        replace(
            r,
            kommune_id=moved[r.kommune_id][0],
            ticket_kommune_id=moved.get(r.ticket_kommune_id or 0, (r.ticket_kommune_id, ""))[0],
        )
        if r.kommune_id in moved
        else r
        for r in inputs.time
    ]


def gather(session: Session, month: date) -> Inputs:
    """Read everything the month's run needs (the session must see all kommuner's rows)."""
    end = month_end(month)
    version = version_for(session, month)
    elements = _elements(session, version)
    rates = _rates(session, elements)
    inputs = Inputs(
        month=month,
        end=end,
        version=version,
        kommuner=kommuner_in(session, month, end),
        elements=elements,
        rates=rates,
        counts=_counts(session, month),
        time=[],
        purchases=_purchases(session, month, end),
    )
    inputs.time = _time(session, month, end, inputs.time_element())
    inputs.raw_time = inputs.time
    inputs.moved = successors(session, inputs.kommuner, inputs.names)
    _move(inputs)
    return inputs
