"""Invoiced months stay invoiced: no time entry may be added to, changed in, moved into or out
of, or deleted from a month whose invoice run is issued.

This is how time entries are locked on invoicing: by their month, the moment the run's state
becomes ``issued`` in the issuing transaction, rather than by rewriting every entry of the
month (a million-row UPDATE). A flush hook on every session (the service desk's time-entry
functions, imports, the API) refuses such a change with a 409 naming the entry and the month;
the transaction then stores nothing. Corrections go through credit notes. The invoice that
billed an entry is :func:`invoice_of_entry`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlmodel import Session

from billing.choices import RunState
from billing.errors import refusal
from billing.models import InvoiceRun
from servicedesk.tickets.models import TimeEntry
from servicedesk.tickets.service import timeentries


def _issued_months(session: Session) -> set[date]:
    run = InvoiceRun.__table__.c  # type: ignore[attr-defined]
    # The connection, not the session: this is a check, not a read in the user's name.
    rows = session.connection().execute(
        sa.select(run.month).where(run.state == RunState.ISSUED.value)
    )
    return {m.replace(day=1) for (m,) in rows}


def _months_touched(entry: TimeEntry, op: str) -> list[date]:
    days = [entry.work_date]
    if op == "update":
        history = inspect(entry).attrs.work_date.history
        days += list(history.deleted or [])
    return [d.replace(day=1) for d in days if d is not None]


@event.listens_for(Session, "before_flush")
def _refuse_invoiced_months(session: Session, _ctx: Any, _instances: Any) -> None:
    changes = [(o, "create") for o in session.new if isinstance(o, TimeEntry)]
    changes += [
        (o, "update") for o in session.dirty if isinstance(o, TimeEntry) and session.is_modified(o)
    ]
    changes += [(o, "delete") for o in session.deleted if isinstance(o, TimeEntry)]
    if not changes:
        return
    issued = _issued_months(session)
    for entry, op in changes:
        if op == "update" and _only_the_lock(entry):
            continue
        for month in _months_touched(entry, op):
            if month in issued:
                raise refusal(
                    409,
                    "Invoiced month",
                    "time_invoiced" if entry.id else "time_invoiced_new",
                    f"time entry {'{entry}' if entry.id else '(new)'} on {{day}}: {{month}} is "
                    "invoiced; log the work in an open month, or correct it with a credit note",
                    entry=entry.id,
                    day=entry.work_date,
                    month=f"{month:%Y-%m}",
                )


def _only_the_lock(entry: TimeEntry) -> bool:
    state = inspect(entry)
    changed = {a.key for a in state.attrs if a.history.has_changes()}
    return changed <= {"invoice_ref"}


def issued_invoice_months(session: Session) -> dict[tuple[date, int], str]:
    """{(month, kommune id): number of the issued invoice} for every issued month: which
    invoice billed a kommune's billable time of that month (the service desk shows it)."""
    from billing.choices import InvoiceKind
    from billing.models import Invoice

    runs, invoices = InvoiceRun.__table__, Invoice.__table__  # type: ignore[attr-defined]
    run, invoice = runs.c, invoices.c
    stmt = (
        sa.select(run.month, invoice.kommune_id, invoice.document_number)
        .select_from(invoices.join(runs, run.id == invoice.run_id))
        .where(run.state == RunState.ISSUED.value, invoice.kind == InvoiceKind.INVOICE.value)
    )
    rows = session.connection().execute(stmt)
    return {(month.replace(day=1), kommune): number for month, kommune, number in rows}


timeentries.register_invoiced_months(issued_invoice_months)


def invoice_of_entry(session: Session, entry: TimeEntry) -> str | None:
    """The number of the issued invoice that billed ``entry``, if any."""
    if not entry.billable or entry.kommune_id is None:
        return entry.invoice_ref
    billed = issued_invoice_months(session).get((entry.work_date.replace(day=1), entry.kommune_id))
    return billed or entry.invoice_ref
