"""Time entries: who worked how long on which ticket, billable or not, charged to which
kommune. Billable entries are billing's category 4; invoiced entries are locked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, Problem, forbidden, invalid
from register.access import principal_of
from register.models import Kommune
from register.service import get_visible
from servicedesk.tickets.choices import WorkType
from servicedesk.tickets.models import TimeEntry
from servicedesk.tickets.schemas import TimeEntryIn
from servicedesk.tickets.service.core import get_ticket, is_agent

#: Which issued invoice billed a month's billable time of a kommune: billing registers a lookup
#: from a session to {(first day of the month, kommune id): invoice number}, since it locks
#: entries by their month instead of writing to each (the service desk does not import it).
InvoicedMonths = Callable[[Session], dict[tuple[date, int], str]]
_invoiced_months: list[InvoicedMonths] = []


def register_invoiced_months(lookup: InvoicedMonths) -> None:
    _invoiced_months.append(lookup)


def with_invoice_refs(session: Session, entries: list[TimeEntry]) -> list[TimeEntry]:
    """Show on each billable entry the invoice that billed it (``invoice_ref``), read from
    billing's issued months; the entries are not changed in the database. The months are read
    only when some entry could have been billed by one."""
    open_billable = [
        e for e in entries if e.invoice_ref is None and e.billable and e.kommune_id is not None
    ]
    if not open_billable:
        return entries
    billed: dict[tuple[date, int], str] = {}
    for lookup in _invoiced_months:
        billed |= lookup(session)
    for entry in open_billable:
        ref = billed.get((entry.work_date.replace(day=1), entry.kommune_id))  # type: ignore[arg-type]
        if ref is not None:
            set_committed_value(entry, "invoice_ref", ref)
    return entries


def _kommune_charged(session: Session, ticket_kommune: int | None, data: TimeEntryIn) -> int:
    kommune_id = data.kommune_id if data.kommune_id is not None else ticket_kommune
    if kommune_id is None:
        raise invalid(FieldError("kommune_id", "the ticket is shared; name the kommune to charge"))
    get_visible(session, Kommune, kommune_id)
    return kommune_id


def add(session: Session, ticket_id: int, data: TimeEntryIn) -> TimeEntry:
    p = principal_of(session)
    if not is_agent(p) or p.user_id is None:
        raise forbidden("time is logged by the drift unit")
    ticket = get_ticket(session, ticket_id)
    entry = TimeEntry(
        ticket_id=ticket.id,  # type: ignore[arg-type]
        user_id=p.user_id,
        kommune_id=_kommune_charged(session, ticket.kommune_id, data),
        **data.model_dump(exclude={"kommune_id"}),
    )
    session.add(entry)
    session.flush()
    return entry


def _editable(session: Session, entry_id: int) -> TimeEntry:
    entry = get_visible(session, TimeEntry, entry_id)
    p = principal_of(session)
    # Checked here and not only by the table's write rule: that rule sees changes only, so
    # an "update" that changes nothing would pass for anyone.
    if not is_agent(p) or not (p.is_admin or entry.user_id == p.user_id):
        raise forbidden("a time entry is corrected by the agent who logged it (or an admin)")
    if entry.invoice_ref is not None:
        raise Problem(
            409,
            "Locked",
            f"time entry {entry_id} is invoiced ({entry.invoice_ref}); use a credit note",
        )
    return entry


def update(session: Session, entry_id: int, data: TimeEntryIn) -> TimeEntry:
    entry = _editable(session, entry_id)
    ticket = get_ticket(session, entry.ticket_id)
    entry.kommune_id = _kommune_charged(session, ticket.kommune_id, data)
    for name, value in data.model_dump(exclude={"kommune_id"}).items():
        setattr(entry, name, value)
    return entry


def delete(session: Session, entry_id: int) -> None:
    session.delete(_editable(session, entry_id))


def of_ticket(session: Session, ticket_id: int) -> list[TimeEntry]:
    stmt = (
        select(TimeEntry)
        .where(TimeEntry.ticket_id == ticket_id)
        .order_by(col(TimeEntry.work_date), col(TimeEntry.id))
    )
    return with_invoice_refs(session, list(session.exec(stmt)))


def ticket_totals(session: Session, ticket_id: int) -> dict[str, int]:
    """Minutes on one ticket, summed in the database: all, billable, and per work type."""
    keys = (col(TimeEntry.work_type), col(TimeEntry.billable))
    stmt = (
        sa.select(*keys, sa.func.sum(TimeEntry.minutes))
        .where(col(TimeEntry.ticket_id) == ticket_id)
        .group_by(*keys)
    )
    out = {"minutes": 0, "billable_minutes": 0} | {w.value: 0 for w in WorkType}
    for work_type, billable, minutes in session.execute(stmt):
        out["minutes"] += int(minutes)
        out[work_type] = out.get(work_type, 0) + int(minutes)
        if billable:
            out["billable_minutes"] += int(minutes)
    return out


def totals(
    session: Session, start: date, end: date, kommune_id: int | None = None
) -> list[dict[str, Any]]:
    """Minutes per kommune, month, work type and billable flag, summed in the database:
    exact integers, so totals per ticket, kommune and month always add up."""
    keys = (
        col(TimeEntry.kommune_id),
        col(TimeEntry.work_date),
        col(TimeEntry.work_type),
        col(TimeEntry.billable),
    )
    stmt = (
        sa.select(*keys, sa.func.sum(TimeEntry.minutes))
        .where(col(TimeEntry.work_date) >= start, col(TimeEntry.work_date) <= end)
        .group_by(*keys)
    )
    if kommune_id is not None:
        stmt = stmt.where(col(TimeEntry.kommune_id) == kommune_id)
    out: dict[tuple[Any, ...], int] = defaultdict(int)
    # ORM attributes, so the access layer filters the rows as in every other query.
    for kommune, day, work_type, billable, minutes in session.execute(stmt):
        out[(kommune, f"{day:%Y-%m}", work_type, billable)] += int(minutes)
    ordered = sorted(out.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
    return [
        {"kommune_id": k, "month": m, "work_type": w, "billable": b, "minutes": minutes}
        for (k, m, w, b), minutes in ordered
    ]
