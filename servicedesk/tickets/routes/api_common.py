"""Helpers shared by the ticket API's routers: writes that turn a lost race into a 409, keyset
pages, and a ticket's detail view."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col

from fellesdrift.kernel.pagination import decode_cursor, encode_cursor
from fellesdrift.kernel.problems import FieldError, conflict, invalid
from register.access import principal_of
from register.service import MAX_ID
from servicedesk.tickets.choices import Status
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.routes.api_schemas import TicketDetail
from servicedesk.tickets.service import core, lifecycle


@contextmanager
def saving(db: Session) -> Iterator[None]:
    """Write inside the block and flush, so that a lost race is a 409 now rather than a 500
    at commit: a concurrent update of a row the block changed (the mapper's version check),
    or a unique row someone else just added."""
    try:
        yield
        db.flush()
    except StaleDataError as exc:
        raise conflict(
            "the ticket was changed by someone else meanwhile; reload it and try again"
        ) from exc
    except IntegrityError as exc:
        if not _unique_violation(exc):
            raise
        raise conflict("someone else made the same change meanwhile; reload and check") from exc


def _unique_violation(exc: IntegrityError) -> bool:
    """A duplicate key (PostgreSQL's SQLSTATE 23505, SQLite's UNIQUE message); any other
    integrity error is a bug, not a race, and stays one."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint" in str(orig)


def cursor_id(after: str | None) -> int | None:
    """The id in a ``next`` cursor of this API (a base64 JSON integer), or None."""
    if not after:
        return None
    last = decode_cursor(after)
    if type(last) is not int or not 0 <= last <= MAX_ID:  # bool is an int to isinstance
        raise invalid(FieldError("after", "is not a cursor returned by this API", after))
    return last


def page(
    db: Session,
    stmt: Any,
    id_column: Any,
    limit: int,
    after: str | None,
    convert: Callable[[Any], Any],
    newest_first: bool = False,
) -> dict[str, Any]:
    """A keyset page of ``stmt`` by ``id_column``; ``next`` is the cursor of the last row."""
    last = cursor_id(after)
    order = col(id_column).desc() if newest_first else col(id_column)
    if last is not None:
        stmt = stmt.where(id_column < last if newest_first else id_column > last)
    rows = list(db.exec(stmt.order_by(order).limit(limit + 1)))
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return {"items": [convert(r) for r in rows[:limit]], "next": nxt}


def detail(db: Session, ticket: Ticket, *, created: bool = False) -> TicketDetail:
    """The ticket as the API shows it. ``created``: the ticket was made in this session, so
    every CI and watcher row it has was added by this session, and nothing is read back."""
    out = TicketDetail.model_validate(ticket, from_attributes=True)
    if created:
        out.ci_ids, out.watcher_ids = core.links_added(db, ticket.id)
    else:
        out.ci_ids = sorted(core.ci_ids_of(db, ticket.id))  # type: ignore[arg-type]
        out.watcher_ids = sorted(core.watchers_of(db, ticket.id))  # type: ignore[arg-type]
    allowed = lifecycle.allowed_transitions(principal_of(db), ticket)
    out.transitions = sorted(allowed, key=list(Status).index)
    return out
