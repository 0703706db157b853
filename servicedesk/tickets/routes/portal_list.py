"""Portal: "Mine saker", the employee's own tickets and those shared with them; for a kommune
contact also the whole kommune's; for a systemeier or systemadministrator the tickets on their
systems, from every kommune (their default view). And the summary the start page shows."""

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
from servicedesk.tickets.models import Ticket, TicketCI, TicketWatcher, desk_ticket
from servicedesk.tickets.routes.portal_common import kommune_names, newest_first, people
from servicedesk.tickets.service import catalogue

router = APIRouter()

VIEWS = ("mine", "kommune", "systemer")
STATES: dict[str, list[str] | None] = {
    "open": sorted(s.value for s in OPEN_STATUSES),
    "done": sorted(s.value for s in DONE_STATUSES),
    "all": None,
}


def sees_kommune(p: Principal) -> bool:
    return p.has(Role.KOMMUNE_CONTACT) and bool(p.kommuner)


def sees_systems(p: Principal) -> bool:
    """Systemeiere and systemadministratorer: the tickets on their systems."""
    return bool(p.ci_ids)


def _views(p: Principal) -> list[str]:
    return [
        v for v in VIEWS if v == "mine" or (sees_kommune(p) if v == "kommune" else sees_systems(p))
    ]


def on_systems(p: Principal) -> Any:
    """Tickets on the systems ``p`` is systemeier or systemadministrator of (the access layer
    still decides which of them ``p`` sees: not TLP:RED ones they are not named on)."""
    on = select(TicketCI.ticket_id).where(col(TicketCI.ci_id).in_(sorted(p.ci_ids)))
    return col(Ticket.id).in_(on)


def mine(p: Principal) -> Any:
    """My tickets: those I asked for and those shared with me."""
    shared = select(TicketWatcher.ticket_id).where(TicketWatcher.user_id == p.user_id)
    return or_(Ticket.requester_id == p.user_id, col(Ticket.id).in_(shared))


@router.get("/saker", response_class=HTMLResponse)
def ticket_list(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    vis: str = "",
    status: str = "open",
) -> HTMLResponse:
    views = _views(p)
    default = "systemer" if "systemer" in views else "mine"
    view = vis if vis in views else default
    state = status if status in STATES else "open"
    stmt = select(Ticket).where(desk_ticket())
    if view == "mine":
        stmt = stmt.where(mine(p))
    elif view == "systemer":
        stmt = stmt.where(on_systems(p))
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
        views=views,
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
