"""REST API: time entries on tickets and their totals (billing's category 4).

Time is logged by the drift unit; an entry is edited or deleted by whoever logged it (or an
admin) until it is invoiced, and is locked after that (409). Kommune contacts and finance
people of a kommune see the totals charged to it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import select

from fellesdrift.kernel.problems import FieldError, invalid
from fellesdrift.kernel.types import DbInt
from register.deps import ApiDb
from register.routes.common import CSRF, After, Limit
from register.schemas import Page
from register.service import get_visible
from servicedesk.tickets.models import TimeEntry
from servicedesk.tickets.routes.api_common import page, saving
from servicedesk.tickets.routes.api_schemas import TimeTotals, problems
from servicedesk.tickets.routes.idempotency import OnceKey
from servicedesk.tickets.schemas import TimeEntryIn, TimeEntryOut
from servicedesk.tickets.service import core
from servicedesk.tickets.service import timeentries as svc

router = APIRouter(prefix="/api/v1", tags=["time entries"], dependencies=CSRF)

#: The longest period one totals request may cover.
MAX_TOTALS_DAYS = 3 * 366


def _visible_entry(db: ApiDb, time_entry_id: DbInt) -> TimeEntry:
    """The entry, if the caller may see both it and its ticket (a TLP:RED ticket's entries
    are as restricted as the ticket; totals still count them)."""
    entry = get_visible(db, TimeEntry, time_entry_id)
    core.get_ticket(db, entry.ticket_id)
    return entry


@router.get(
    "/tickets/{ticket_id}/time-entries",
    response_model=Page[TimeEntryOut],
    summary="Time logged on a ticket",
    responses=problems(404),
)
def list_time_entries(
    db: ApiDb, ticket_id: DbInt, limit: Limit = 100, after: After = None
) -> dict[str, Any]:
    """In the order they were logged; empty for those who may not see time entries."""
    core.get_ticket(db, ticket_id)
    stmt = select(TimeEntry).where(TimeEntry.ticket_id == ticket_id)
    result = page(db, stmt, TimeEntry.id, limit, after, lambda entry: entry)
    shown = svc.with_invoice_refs(db, result["items"])
    return result | {"items": [TimeEntryOut.model_validate(e) for e in shown]}


@router.post(
    "/tickets/{ticket_id}/time-entries",
    response_model=TimeEntryOut,
    status_code=201,
    summary="Log time on a ticket",
    responses=problems(404),
)
def add_time_entry(db: ApiDb, ticket_id: DbInt, data: TimeEntryIn, once: OnceKey) -> Any:
    """The drift unit logs its own time. The kommune charged is the ticket's, or `kommune_id`
    (required for a shared ticket such as a mass outage's parent)."""
    if (replay := once.replay(db)) is not None:
        return replay
    with saving(db):
        entry = svc.add(db, ticket_id, data)
    return once.remember(db, entry, TimeEntryOut)


@router.get(
    "/time-entries/totals",
    response_model=TimeTotals,
    summary="Minutes per kommune, month, work type and billable flag",
    responses=problems(),
)
def totals(
    db: ApiDb,
    start: Annotated[date, Query(description="First day, inclusive")],
    end: Annotated[date, Query(description="Last day, inclusive")],
    kommune_id: DbInt | None = None,
) -> TimeTotals:
    """Summed in the database as integers: totals per ticket, kommune and month add up
    exactly. Covers every entry the caller may see, including those on tickets they may not
    open (billing must count them all)."""
    if end < start:
        raise invalid(FieldError("end", "is before start", end.isoformat()))
    if (end - start).days > MAX_TOTALS_DAYS:
        raise invalid(FieldError("end", f"ask for at most {MAX_TOTALS_DAYS} days at a time"))
    items = svc.totals(db, start, end, kommune_id)
    return TimeTotals.model_validate(
        {
            "start": start,
            "end": end,
            "kommune_id": kommune_id,
            "items": items,
            "minutes": sum(i["minutes"] for i in items),
        }
    )


@router.get(
    "/time-entries/{time_entry_id}",
    response_model=TimeEntryOut,
    summary="A time entry",
    responses=problems(404),
)
def get_time_entry(db: ApiDb, time_entry_id: DbInt) -> TimeEntry:
    return svc.with_invoice_refs(db, [_visible_entry(db, time_entry_id)])[0]


@router.put(
    "/time-entries/{time_entry_id}",
    response_model=TimeEntryOut,
    summary="Correct a time entry",
    responses=problems(404, 409),
)
def update_time_entry(db: ApiDb, time_entry_id: DbInt, data: TimeEntryIn) -> TimeEntry:
    """Replace the entry's fields; refused (409) once it is invoiced: credit it instead."""
    _visible_entry(db, time_entry_id)
    with saving(db):
        return svc.update(db, time_entry_id, data)


@router.delete(
    "/time-entries/{time_entry_id}",
    status_code=204,
    summary="Delete a time entry",
    responses=problems(404, 409),
)
def delete_time_entry(db: ApiDb, time_entry_id: DbInt) -> Response:
    """Refused (409) once the entry is invoiced."""
    _visible_entry(db, time_entry_id)
    with saving(db):
        svc.delete(db, time_entry_id)
    return Response(status_code=204)
