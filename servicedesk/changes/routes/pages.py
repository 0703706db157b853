"""Pages of changes (``/endringer``) and the CAB's meetings (``/endringer/cab``): the list, a
change with the rules that apply and why, and the agenda where members vote."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from fellesdrift.kernel.problems import Problem
from fellesdrift.kernel.web import render
from register.access import elevated
from register.choices import Role
from register.deps import CurrentPrincipal, PageDb
from register.models import ConfigItem, Kommune, User
from register.routes.common import CSRF
from register.routes.page_forms import FormState, PostedForm, render_form
from servicedesk.changes import risk as risk_q
from servicedesk.changes.choices import ChangeState
from servicedesk.changes.models import ChangeRecord
from servicedesk.changes.routes.views import change_detail
from servicedesk.changes.rules import is_drift_agent, may_see_cab
from servicedesk.changes.schemas import DecisionIn
from servicedesk.changes.service import approvals, cab, records
from servicedesk.tickets.models import Ticket, TicketEntry

router = APIRouter(dependencies=CSRF)


def _names(db: PageDb, model: type, ids: list[int], attr: str) -> dict[int, str]:
    if not ids:
        return {}
    rows: Any = db.exec(select(model).where(col(model.id).in_(ids)))  # type: ignore[attr-defined]
    return {r.id: getattr(r, attr) for r in rows}


def _deciders(db: PageDb, ids: list[int]) -> dict[int, str]:
    """The names of the people who decided on a change the reader sees: the decision is the
    change's record (a CAB's minutes name their voters), whether or not the reader may look
    the person up in the register."""
    with elevated(db, "names of deciders"):
        return _names(db, User, ids, "full_name")


@router.get("/endringer", response_class=HTMLResponse)
def change_list(request: Request, db: PageDb, p: CurrentPrincipal) -> HTMLResponse:
    return list_page(request, db, p, FormState.blank(request, meets_at="", title=""))


def list_page(
    request: Request, db: PageDb, p: CurrentPrincipal, meeting_form: FormState
) -> HTMLResponse:
    """The changes the reader may see, the CAB's meetings and the form to plan one."""
    rows = []
    stmt = select(ChangeRecord, Ticket).where(ChangeRecord.ticket_id == Ticket.id)
    for record, ticket in db.exec(stmt.order_by(col(ChangeRecord.ticket_id).desc()).limit(200)):
        rows.append((record, ticket))
    return render_form(
        request,
        "changes/list.html",
        meeting_form,
        rows=rows,
        meetings=cab.meetings(db) if may_see_cab(p) else [],
        may_plan=may_see_cab(p),
        may_create=is_drift_agent(p),
    )


@router.get("/endringer/{change_id:int}", response_class=HTMLResponse)
def change_page(request: Request, db: PageDb, p: CurrentPrincipal, change_id: int) -> HTMLResponse:
    ticket, record = records.get_change(db, change_id)
    detail = change_detail(db, ticket, record)
    history = db.exec(
        select(TicketEntry).where(TicketEntry.ticket_id == change_id).order_by(col(TicketEntry.id))
    )
    people = _deciders(db, [d.user_id for d in detail.decisions])
    return render(
        request,
        "changes/change.html",
        c=detail,
        systems=_names(db, ConfigItem, detail.ci_ids + detail.dependent_ci_ids, "name"),
        kommuner=(named := _names(db, Kommune, detail.kommune_ids, "name")),
        other_kommuner=len(set(detail.kommune_ids) - set(named)),
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
        people=_deciders(db, voters),
        may_vote=p.has(Role.CAB_MEMBER),
        may_run=is_drift_agent(p) or p.has(Role.CAB_MEMBER),
        notes_form=FormState.blank(request, notes=out.notes),
    )
