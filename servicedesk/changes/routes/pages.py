"""Pages of changes (``/endringer``) and the CAB's meetings (``/endringer/cab``): the list, a
change with the rules that apply and why, and the agenda where members vote."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from fellesdrift.kernel.problems import Problem
from fellesdrift.kernel.web import render
from register.choices import Role
from register.deps import CurrentPrincipal, PageDb
from register.models import ConfigItem, Kommune, User
from register.routes.common import CSRF
from register.routes.page_forms import PostedForm
from servicedesk.changes import risk as risk_q
from servicedesk.changes.choices import ChangeState
from servicedesk.changes.models import ChangeRecord
from servicedesk.changes.routes.views import change_detail
from servicedesk.changes.schemas import DecisionIn
from servicedesk.changes.service import approvals, cab, records
from servicedesk.tickets.models import Ticket, TicketEntry

router = APIRouter(dependencies=CSRF)


def _names(db: PageDb, model: type, ids: list[int], attr: str) -> dict[int, str]:
    if not ids:
        return {}
    rows: Any = db.exec(select(model).where(col(model.id).in_(ids)))  # type: ignore[attr-defined]
    return {r.id: getattr(r, attr) for r in rows}


@router.get("/endringer", response_class=HTMLResponse)
def change_list(request: Request, db: PageDb, p: CurrentPrincipal) -> HTMLResponse:
    rows = []
    stmt = select(ChangeRecord, Ticket).where(ChangeRecord.ticket_id == Ticket.id)
    for record, ticket in db.exec(stmt.order_by(col(ChangeRecord.ticket_id).desc()).limit(200)):
        rows.append((record, ticket))
    return render(
        request,
        "changes/list.html",
        rows=rows,
        meetings=cab.meetings(db) if p.global_read or p.has(Role.CAB_MEMBER) else [],
    )


@router.get("/endringer/{change_id:int}", response_class=HTMLResponse)
def change_page(request: Request, db: PageDb, p: CurrentPrincipal, change_id: int) -> HTMLResponse:
    ticket, record = records.get_change(db, change_id)
    detail = change_detail(db, ticket, record)
    history = db.exec(
        select(TicketEntry).where(TicketEntry.ticket_id == change_id).order_by(col(TicketEntry.id))
    )
    people = _names(db, User, [d.user_id for d in detail.decisions], "full_name")
    return render(
        request,
        "changes/change.html",
        c=detail,
        systems=_names(db, ConfigItem, detail.ci_ids + detail.dependent_ci_ids, "name"),
        kommuner=_names(db, Kommune, detail.kommune_ids, "name"),
        people=people,
        history=[e for e in history if e.change.get("field") == "change_state"],
        questions=risk_q.QUESTIONS,
        awaiting=record.state == ChangeState.AWAITING_APPROVAL,
    )


@router.post("/endringer/{change_id:int}/beslutning")
def decide(
    request: Request, db: PageDb, p: CurrentPrincipal, change_id: int, posted: PostedForm
) -> Response:
    """A systemeier's decision (``as=systemeier``) or a CAB member's vote, from the change
    page or the agenda (``back`` says where to return)."""
    try:
        data = DecisionIn(vote=posted.get("vote"), comment=posted.get("comment"))  # type: ignore[arg-type]
    except ValueError as exc:
        raise Problem(
            422, "Invalid input", str(exc).splitlines()[-1], code="changes_err.vote_input"
        ) from exc
    approvals.decide(db, change_id, data, systemeier=posted.get("as") == "systemeier")
    back = posted.get("back")
    target = back if back.startswith("/endringer/cab/") else f"/endringer/{change_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/endringer/cab/{meeting_id:int}", response_class=HTMLResponse)
def agenda_page(request: Request, db: PageDb, p: CurrentPrincipal, meeting_id: int) -> HTMLResponse:
    meeting = cab.get_meeting(db, meeting_id)
    out = cab.meeting_out(db, meeting)
    ids = sorted({c for item in out.agenda for c in item.ci_ids})
    voters = sorted({v.user_id for i in out.agenda for v in i.cab_votes + i.systemeier_decisions})
    return render(
        request,
        "changes/agenda.html",
        m=out,
        systems=_names(db, ConfigItem, ids, "name"),
        people=_names(db, User, voters, "full_name"),
        may_vote=p.has(Role.CAB_MEMBER),
    )
