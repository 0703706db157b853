"""REST API of tickets (``/api/v1``): incidents, service requests and problems, their
lifecycle, timeline, links, children, watchers and rating.

Every read goes through the request's session, so the access layer filters it: tenant
isolation and TLP (a TLP:RED ticket exists only for its named participants). A ticket the
caller may not see is a 404, never a 403. Changes take the ticket's row lock; a ``version``
older than the stored one is a 409 that says so. Errors are ``application/problem+json``.

Attachments are in :mod:`.api_files`, time entries in :mod:`.api_time`, the catalogue and
approvals in :mod:`.api_catalogue`, groups, saved views and bulk updates in
:mod:`.api_workspace`; :data:`router` carries them all.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.types import DbInt
from register.deps import ApiDb
from register.models import User
from register.routes.common import CSRF, After, Limit
from register.schemas import Page
from servicedesk.tickets.choices import Status, TicketType, Tlp
from servicedesk.tickets.models import Ticket, TicketCI, TicketEntry, TicketWatcher, desk_ticket
from servicedesk.tickets.routes import api_catalogue, api_files, api_time, api_workspace
from servicedesk.tickets.routes.api_common import detail, page, saving
from servicedesk.tickets.routes.api_schemas import TicketDetail, WatcherOut, problems
from servicedesk.tickets.routes.idempotency import OnceKey
from servicedesk.tickets.schemas import (
    EntryOut,
    LinkIn,
    RatingIn,
    ReplyIn,
    TicketCreate,
    TicketOut,
    TicketUpdate,
    Transition,
    WatcherIn,
)
from servicedesk.tickets.service import catalogue, core, lifecycle, links, search

tickets = APIRouter(prefix="/api/v1", tags=["tickets"], dependencies=CSRF)

#: Digits of a ticket number that ``q`` also matches (more would overflow the id column).
_MAX_ID_DIGITS = 9


# ---- helpers -------------------------------------------------------------------------------


def _matching(db: Session, q: str) -> Any:
    """Tickets whose text matches ``q`` by the workspace's full-text search (Norwegian, with
    replies; internal notes only for the drift unit), or whose number ``q`` is."""
    found: list[Any] = [col(Ticket.id).in_(search.matching_ids(db, q))]
    number = q.removeprefix("#")
    if number.isascii() and number.isdigit() and len(number) <= _MAX_ID_DIGITS:
        found.append(col(Ticket.id) == int(number))
    return or_(*found)


# ---- tickets ---------------------------------------------------------------------------------


@tickets.get(
    "/tickets",
    response_model=Page[TicketOut],
    summary="List tickets",
    responses=problems(),
)
def list_tickets(
    db: ApiDb,
    limit: Limit = 50,
    after: After = None,
    status: Annotated[list[Status] | None, Query(description="One or more statuses")] = None,
    type: Annotated[list[TicketType] | None, Query(description="One or more types")] = None,
    priority: Annotated[list[DbInt] | None, Query(description="One or more of 1-4")] = None,
    tlp: Annotated[list[Tlp] | None, Query(description="One or more TLP labels")] = None,
    kommune_id: DbInt | None = None,
    assignee_id: DbInt | None = None,
    group_id: Annotated[DbInt | None, Query(description="Assignment group (queue)")] = None,
    ci_id: Annotated[DbInt | None, Query(description="Affected system")] = None,
    requester_id: DbInt | None = None,
    major: bool | None = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Words in the title, the description or a reply you may see "
            "(full-text, Norwegian: `skriveren` finds `skriver`; every word must match), or a "
            "ticket number",
        ),
    ] = None,
) -> dict[str, Any]:
    """The tickets the caller may see, newest first, in keyset pages: pass the page's `next`
    back as `after` for the following page (an opaque cursor; stable while tickets are added).
    Repeat a list filter (`status=new&status=assigned`) to match any of its values."""
    stmt = select(Ticket)
    for column, values in (
        (Ticket.status, status),
        (Ticket.type, type),
        (Ticket.priority, priority),
        (Ticket.tlp, tlp),
    ):
        if values:
            stmt = stmt.where(col(column).in_([getattr(v, "value", v) for v in values]))
    if not type:
        stmt = stmt.where(desk_ticket())  # changes have their own API (/api/v1/changes)
    equal: list[tuple[Any, Any]] = [
        (Ticket.kommune_id, kommune_id),
        (Ticket.assignee_id, assignee_id),
        (Ticket.assignment_group_id, group_id),
        (Ticket.requester_id, requester_id),
        (Ticket.major, major),
    ]
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    if ci_id is not None:
        on_ci = select(TicketCI.ticket_id).where(TicketCI.ci_id == ci_id)
        stmt = stmt.where(col(Ticket.id).in_(on_ci))
    if q is not None and q.strip():
        stmt = stmt.where(_matching(db, q.strip()))
    return page(db, stmt, Ticket.id, limit, after, TicketOut.model_validate, newest_first=True)


@tickets.post(
    "/tickets",
    response_model=TicketDetail,
    status_code=201,
    summary="File a ticket",
    responses=problems(404),
)
def create_ticket(db: ApiDb, data: TicketCreate, response: Response, once: OnceKey) -> Any:
    """File an incident or a service request (problems: the drift unit). The kommune is the
    requester's unless given; agents and kommune contacts may file for a colleague
    (`requester_id`). Priority follows from impact and urgency. A service request with
    `catalogue_item_id` is an order of that item: `form_data` is checked against the item's
    form (each wrong value named as `form_data.<name>`), the item sets group, system and
    category, and where it needs approval the request waits (`pending`, `approval`) for the
    approver's decision."""
    if (replay := once.replay(db)) is not None:
        return replay
    with saving(db):
        ticket = catalogue.file_ticket(db, data)
    response.headers["Location"] = location = f"/api/v1/tickets/{ticket.id}"
    return once.remember(db, detail(db, ticket, created=True), TicketDetail, location)


@tickets.get(
    "/tickets/{ticket_id}",
    response_model=TicketDetail,
    summary="Get a ticket",
    responses=problems(404),
)
def get_ticket(db: ApiDb, ticket_id: DbInt) -> TicketDetail:
    return detail(db, core.get_ticket(db, ticket_id))


@tickets.patch(
    "/tickets/{ticket_id}",
    response_model=TicketDetail,
    summary="Change a ticket's fields",
    responses=problems(404, 409),
)
def update_ticket(db: ApiDb, ticket_id: DbInt, data: TicketUpdate) -> TicketDetail:
    """Field changes by the drift unit. `version` is the version the change is based on: if
    the ticket has changed since, the answer is 409 and nothing is stored. Status changes go
    through `POST /tickets/{id}/transitions`. Tickets are never deleted (cancel them)."""
    with saving(db):
        ticket = core.update_ticket(db, ticket_id, data)
    return detail(db, ticket)


@tickets.post(
    "/tickets/{ticket_id}/transitions",
    response_model=TicketDetail,
    summary="Move a ticket to another status",
    responses=problems(404, 409),
)
def transition(db: ApiDb, ticket_id: DbInt, data: Transition) -> TicketDetail:
    """Assign, start, put on hold (`pending_reason`), resolve (`resolution`), close, cancel
    or reopen. A transition the lifecycle does not allow is a 409 naming both statuses; the
    ticket's `transitions` lists what the caller may do. Resolving a mass outage's parent
    resolves its open children."""
    with saving(db):
        ticket = lifecycle.transition(db, ticket_id, data)
    return detail(db, ticket)


# ---- timeline ---------------------------------------------------------------------------------


@tickets.get(
    "/tickets/{ticket_id}/entries",
    response_model=Page[EntryOut],
    summary="The ticket's timeline",
    responses=problems(404),
)
def list_entries(
    db: ApiDb, ticket_id: DbInt, limit: Limit = 100, after: After = None
) -> dict[str, Any]:
    """Replies, internal notes (the drift unit and systemeiere only), status and field changes,
    oldest first, as far as the caller may see them."""
    core.get_ticket(db, ticket_id)
    stmt = select(TicketEntry).where(TicketEntry.ticket_id == ticket_id)
    return page(db, stmt, TicketEntry.id, limit, after, EntryOut.model_validate)


@tickets.post(
    "/tickets/{ticket_id}/entries",
    response_model=EntryOut,
    status_code=201,
    summary="Reply, or add an internal note",
    responses=problems(404, 409),
)
def add_entry(db: ApiDb, ticket_id: DbInt, data: ReplyIn, once: OnceKey) -> Any:
    """A public reply (`public: true`, seen by the requester) or an internal note. Replies
    never conflict: concurrent replies are all kept. A closed ticket takes no replies (409)."""
    if (replay := once.replay(db)) is not None:
        return replay
    with saving(db):
        entry = lifecycle.reply(db, ticket_id, data)
    return once.remember(db, entry, EntryOut)


# ---- links and children ---------------------------------------------------------------------


@tickets.post(
    "/tickets/{ticket_id}/links",
    response_model=TicketDetail,
    summary="Link a ticket to another",
    responses=problems(404, 409),
)
def link(db: ApiDb, ticket_id: DbInt, data: LinkIn) -> TicketDetail:
    """`duplicate_of` another ticket, `caused_by` a problem, or `parent`: make this ticket a
    child of a mass outage (one level deep). The drift unit only."""
    with saving(db):
        ticket = links.link(db, ticket_id, data)
    return detail(db, ticket)


@tickets.get(
    "/tickets/{ticket_id}/children",
    response_model=Page[TicketOut],
    summary="The children of a mass outage",
    responses=problems(404),
)
def list_children(
    db: ApiDb, ticket_id: DbInt, limit: Limit = 50, after: After = None
) -> dict[str, Any]:
    """The children the caller may see (the parent may gather reports from every kommune)."""
    core.get_ticket(db, ticket_id)
    stmt = select(Ticket).where(Ticket.parent_id == ticket_id)
    return page(db, stmt, Ticket.id, limit, after, TicketOut.model_validate)


# ---- watchers ---------------------------------------------------------------------------------


@tickets.get(
    "/tickets/{ticket_id}/watchers",
    response_model=Page[WatcherOut],
    summary="Who the ticket is shared with",
    responses=problems(404),
)
def list_watchers(
    db: ApiDb, ticket_id: DbInt, limit: Limit = 100, after: After = None
) -> dict[str, Any]:
    core.get_ticket(db, ticket_id)
    stmt = select(TicketWatcher).where(TicketWatcher.ticket_id == ticket_id)
    result = page(db, stmt, TicketWatcher.id, limit, after, lambda row: row)
    ids = [row.user_id for row in result["items"]]
    # Names only of users the caller may see; the access layer filters this query too.
    names = dict(db.exec(select(User.id, User.full_name).where(col(User.id).in_(ids))).all())
    result["items"] = [WatcherOut(user_id=i, full_name=names.get(i)) for i in ids]
    return result


@tickets.post(
    "/tickets/{ticket_id}/watchers",
    response_model=WatcherOut,
    status_code=201,
    summary="Share the ticket with someone",
    responses=problems(404),
)
def add_watcher(db: ApiDb, ticket_id: DbInt, data: WatcherIn) -> WatcherOut:
    """The requester, their kommune contact or an agent shares the ticket: the watcher sees it
    and is told of replies (under TLP:RED they become one of its named participants).
    Adding someone who already watches it changes nothing."""
    with saving(db):
        ticket = core.get_ticket(db, ticket_id)
        row = core.add_watcher(db, ticket, data.user_id)
    name = db.exec(select(User.full_name).where(User.id == row.user_id)).first()
    return WatcherOut(user_id=row.user_id, full_name=name)


@tickets.delete(
    "/tickets/{ticket_id}/watchers/{user_id}",
    status_code=204,
    summary="Stop sharing the ticket with someone",
    responses=problems(404),
)
def remove_watcher(db: ApiDb, ticket_id: DbInt, user_id: DbInt) -> Response:
    """Those who may share a ticket may unshare it; anyone may stop watching it themselves."""
    with saving(db):
        core.remove_watcher(db, core.get_ticket(db, ticket_id), user_id)
    return Response(status_code=204)


# ---- rating -----------------------------------------------------------------------------------


@tickets.put(
    "/tickets/{ticket_id}/rating",
    response_model=TicketDetail,
    summary="Rate the resolution",
    responses=problems(404, 409),
)
def rate(db: ApiDb, ticket_id: DbInt, data: RatingIn) -> TicketDetail:
    """The requester rates a resolved or closed ticket 1-5, with an optional comment; rating
    again replaces the rating."""
    with saving(db):
        ticket = lifecycle.rate(db, ticket_id, data)
    return detail(db, ticket)


#: Everything of the ticket API; ``register.routes`` registers it with the app.
router = APIRouter()
router.include_router(api_workspace.bulk_router)  # before /tickets/{ticket_id}: a fixed path
router.include_router(tickets)
router.include_router(api_files.router)
router.include_router(api_time.router)
router.include_router(api_catalogue.router)
router.include_router(api_catalogue.approvals_router)
router.include_router(api_workspace.router)
router.include_router(api_workspace.views_router)
