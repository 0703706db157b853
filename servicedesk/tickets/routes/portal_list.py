"""Portal: "Mine saker", the employee's own tickets and those shared with them; for a kommune
contact also the whole kommune's. And the summary the start page shows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.web import add_template_global, render
from register.access import Principal, bind
from register.choices import Role
from register.deps import CurrentPrincipal, PageDb, engine_of
from servicedesk.tickets.choices import DONE_STATUSES, OPEN_STATUSES
from servicedesk.tickets.models import Ticket, TicketWatcher, desk_ticket
from servicedesk.tickets.routes.portal_common import kommune_names, newest_first, people
from servicedesk.tickets.service import catalogue

router = APIRouter()

VIEWS = ("mine", "kommune")
STATES: dict[str, list[str] | None] = {
    "open": sorted(s.value for s in OPEN_STATUSES),
    "done": sorted(s.value for s in DONE_STATUSES),
    "all": None,
}


def sees_kommune(p: Principal) -> bool:
    return p.has(Role.KOMMUNE_CONTACT) and bool(p.kommuner)


def mine(p: Principal) -> Any:
    """My tickets: those I asked for and those shared with me."""
    shared = select(TicketWatcher.ticket_id).where(TicketWatcher.user_id == p.user_id)
    return or_(Ticket.requester_id == p.user_id, col(Ticket.id).in_(shared))


@router.get("/saker", response_class=HTMLResponse)
def ticket_list(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    vis: str = "mine",
    status: str = "open",
) -> HTMLResponse:
    view = vis if vis in VIEWS and (vis == "mine" or sees_kommune(p)) else "mine"
    state = status if status in STATES else "open"
    stmt = select(Ticket).where(desk_ticket())
    if view == "mine":
        stmt = stmt.where(mine(p))
    else:
        stmt = stmt.where(col(Ticket.kommune_id).in_(sorted(p.kommuner)))
    wanted = STATES[state]
    if wanted is not None:
        stmt = stmt.where(col(Ticket.status).in_(wanted))
    page = newest_first(request, db, stmt, col(Ticket.id))
    return render(
        request,
        "portal/list.html",
        page=page,
        view=view,
        state=state,
        states=list(STATES),
        kommune_view=sees_kommune(p),
        people=people(db, (t.requester_id for t in page.rows)),
        kommuner=kommune_names(db, (t.kommune_id for t in page.rows)),
    )


# ---- the start page's portal part ----------------------------------------------------------------


def portal_start(request: Request) -> dict[str, Any] | None:
    """For the start page (``portal/_start.html``): the signed-in person's five newest open
    tickets and how many approvals wait for them. None when nobody is signed in."""
    p: Principal | None = getattr(request.state, "principal", None)
    if p is None or p.user_id is None:
        return None
    with bind(Session(engine_of(request)), p) as db:
        stmt = (
            select(Ticket)
            .where(mine(p), desk_ticket(), col(Ticket.status).in_(STATES["open"] or []))
            .order_by(col(Ticket.id).desc())
            .limit(5)
        )
        return {"open": list(db.exec(stmt)), "approvals": len(catalogue.pending_for_me(db))}


add_template_global("portal_start", portal_start)
