"""The agent workspace's SLA queue ("/arbeid/frister"): open tickets by their nearest due time,
close to breach (a warning threshold passed), overdue, or all with a running clock."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from fellesdrift.kernel.web import language_of, render
from register.deps import CurrentPrincipal, PageDb
from servicedesk.tickets.routes.agent import sidebar
from servicedesk.tickets.routes.agent_common import AGENT_DEPENDENCIES, BASE, Names
from servicedesk.tickets.service.clock_views import VIEWS, sla_queue

router = APIRouter(include_in_schema=False, dependencies=AGENT_DEPENDENCIES)


@router.get(f"{BASE}/frister", response_class=HTMLResponse)
def sla_queue_page(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    view = request.query_params.get("vis", "naer")
    if view not in VIEWS:
        view = "naer"
    tickets = sla_queue(db, view)
    names = Names(db, language_of(request)).read_groups_and_kommuner().for_tickets(tickets)
    return render(
        request,
        "agent/sla_queue.html",
        tickets=tickets,
        names=names,
        view=view,
        views=VIEWS,
        side=sidebar(request, db, p, names),
    )
