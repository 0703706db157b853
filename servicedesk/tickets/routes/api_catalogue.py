"""REST API of the service catalogue and of approvals (``/api/v1``).

The catalogue is offered to every kommune: anyone signed in lists and reads the items that can
be ordered and orders them; the drift unit keeps it (adds, changes and withdraws items, and
sees withdrawn ones). An order is a service request filed through the item's form; where the
item needs approval, the request waits until one of the approvers decides here. Who may do
what is decided in the services (:mod:`..service.catalogue`, :mod:`..service.approvals`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, col, select

from fellesdrift.kernel.types import DbInt
from register.deps import ApiDb
from register.routes.common import CSRF, After, Limit
from register.schemas import Page
from servicedesk.tickets.choices import ApprovalState
from servicedesk.tickets.models import Approval, CatalogueItem, Ticket
from servicedesk.tickets.routes.api_common import detail, page, saving
from servicedesk.tickets.routes.api_schemas import (
    ApprovalOut,
    CatalogueItemOut,
    TicketDetail,
    problems,
)
from servicedesk.tickets.routes.idempotency import OnceKey
from servicedesk.tickets.schemas import TicketOut
from servicedesk.tickets.service import approvals, catalogue, core
from servicedesk.tickets.service.catalogue import CatalogueItemIn, CatalogueItemUpdate, RequestIn

router = APIRouter(prefix="/api/v1", tags=["catalogue"], dependencies=CSRF)
approvals_router = APIRouter(prefix="/api/v1", tags=["approvals"], dependencies=CSRF)


# ---- items -----------------------------------------------------------------------------------


@router.get(
    "/catalogue/items",
    response_model=Page[CatalogueItemOut],
    summary="List the service catalogue",
    responses=problems(),
)
def list_items(
    db: ApiDb,
    limit: Limit = 50,
    after: After = None,
    category: Annotated[str | None, Query(max_length=80)] = None,
    include_withdrawn: Annotated[
        bool, Query(description="Also withdrawn items (the drift unit only)")
    ] = False,
) -> dict[str, Any]:
    """The items that can be ordered, with their forms, in keyset pages by id."""
    stmt = catalogue.listing(db, include_withdrawn, category)
    return page(db, stmt, CatalogueItem.id, limit, after, CatalogueItemOut.model_validate)


@router.get(
    "/catalogue/items/{item_id}",
    response_model=CatalogueItemOut,
    summary="Get a catalogue item and its form",
    responses=problems(404),
)
def get_item(db: ApiDb, item_id: DbInt) -> CatalogueItem:
    """A withdrawn item is not found, except for the drift unit, who keeps the catalogue."""
    return catalogue.read_item(db, item_id)


@router.post(
    "/catalogue/items",
    response_model=CatalogueItemOut,
    status_code=201,
    summary="Add an item to the catalogue",
    responses=problems(404, 409),
)
def create_item(db: ApiDb, data: CatalogueItemIn, response: Response) -> CatalogueItem:
    """The drift unit's agents and admins. A taken `key` is a 409; `ci_id` (the system, needed
    for approval by its systemeier) and `group_id` must exist."""
    with saving(db):
        item = catalogue.create_item(db, data)
    response.headers["Location"] = f"/api/v1/catalogue/items/{item.id}"
    return item


@router.patch(
    "/catalogue/items/{item_id}",
    response_model=CatalogueItemOut,
    summary="Change or withdraw a catalogue item",
    responses=problems(404, 409),
)
def update_item(db: ApiDb, item_id: DbInt, data: CatalogueItemUpdate) -> CatalogueItem:
    """Fields left out stay. `active: false` withdraws the item: it can no longer be ordered,
    and requests filed from it keep their form values. The drift unit only."""
    with saving(db):
        return catalogue.update_item(db, item_id, data)


@router.post(
    "/catalogue/items/{item_id}/orders",
    response_model=TicketDetail,
    status_code=201,
    summary="Order a catalogue item",
    responses=problems(404),
)
def order(db: ApiDb, item_id: DbInt, data: RequestIn, response: Response, once: OnceKey) -> Any:
    """File a service request for yourself from the item's form: `form_data` holds a value per
    field (each wrong one is named as `form_data.<name>` in a 422). If the item needs approval
    the request is `pending` (`pending_reason: approval`) until an approver decides. The same
    as `POST /tickets` with `type: request` and `catalogue_item_id`."""
    if (replay := once.replay(db)) is not None:
        return replay
    with saving(db):
        ticket = catalogue.order(db, item_id, data)
    response.headers["Location"] = location = f"/api/v1/tickets/{ticket.id}"
    return once.remember(db, detail(db, ticket, created=True), TicketDetail, location)


# ---- approvals -------------------------------------------------------------------------------


def _with_tickets(db: Session, rows: list[Approval]) -> list[ApprovalOut]:
    ids = {row.ticket_id for row in rows}
    # Read through the caller's session: a ticket they may not see is left out, not shown.
    tickets = {t.id: t for t in db.exec(select(Ticket).where(col(Ticket.id).in_(ids)))}
    out = []
    for row in rows:
        item = ApprovalOut.model_validate(row)
        ticket = tickets.get(row.ticket_id)
        item.ticket = TicketOut.model_validate(ticket) if ticket is not None else None
        out.append(item)
    return out


@approvals_router.get(
    "/approvals",
    response_model=Page[ApprovalOut],
    summary="My approvals",
    responses=problems(),
)
def list_approvals(
    db: ApiDb,
    limit: Limit = 50,
    after: After = None,
    state: Annotated[
        ApprovalState,
        Query(description="`pending` (the default): the requests waiting for your decision"),
    ] = ApprovalState.PENDING,
) -> dict[str, Any]:
    """The approvals you were asked for in `state`, oldest first, each with its request."""
    stmt = approvals.mine(db, state)
    result = page(db, stmt, Approval.id, limit, after, lambda row: row)
    result["items"] = _with_tickets(db, result["items"])
    return result


@approvals_router.get(
    "/approvals/{approval_id}",
    response_model=ApprovalOut,
    summary="Get an approval",
    responses=problems(404),
)
def get_approval(db: ApiDb, approval_id: DbInt) -> ApprovalOut:
    """Your own approval, or one of a request you may see."""
    return _with_tickets(db, [approvals.get_approval(db, approval_id)])[0]


@approvals_router.post(
    "/approvals/{approval_id}/decision",
    response_model=ApprovalOut,
    summary="Approve or reject a request",
    responses=problems(404, 409),
)
def decide(db: ApiDb, approval_id: DbInt, data: catalogue.DecisionIn) -> ApprovalOut:
    """Only the person asked decides. `approve: true` puts the request in the drift unit's
    queue; `approve: false` cancels it and needs the reason in `comment`. One decision settles
    the request for every approver; a request no longer waiting is a 409, and so is a stale
    `version` (the request's version you saw, optional)."""
    with saving(db):
        approvals.decide(db, approval_id, data)
    return _with_tickets(db, [approvals.get_approval(db, approval_id)])[0]


@approvals_router.get(
    "/tickets/{ticket_id}/approvals",
    response_model=Page[ApprovalOut],
    summary="Who was asked to approve a request, and what they decided",
    responses=problems(404),
)
def ticket_approvals(
    db: ApiDb, ticket_id: DbInt, limit: Limit = 50, after: After = None
) -> dict[str, Any]:
    core.get_ticket(db, ticket_id)
    stmt = select(Approval).where(Approval.ticket_id == ticket_id)
    return page(db, stmt, Approval.id, limit, after, ApprovalOut.model_validate)
