"""Portal: "Godkjenninger", the service requests waiting for the signed-in person's approval,
each with approve and reject (a rejection needs a reason, which the requester is told)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from fellesdrift.kernel.problems import Problem
from fellesdrift.kernel.web import language_of, render
from register.deps import CurrentPrincipal, PageDb
from register.routes.page_forms import PostedForm
from servicedesk.tickets.models import CatalogueItem
from servicedesk.tickets.routes.portal_common import (
    PortalForm,
    kommune_names,
    people,
    portal_error,
    too_long,
)
from servicedesk.tickets.service import catalogue

router = APIRouter()


def _page(
    request: Request,
    db: Session,
    posted: PortalForm | None = None,
    posted_id: int | None = None,
    conflict: bool = False,
    status: int = 200,
) -> HTMLResponse:
    lang = language_of(request)
    pending = catalogue.pending_for_me(db)
    items = {
        i.id: i
        for i in (
            db.get(CatalogueItem, t.catalogue_item_id) for _, t in pending if t.catalogue_item_id
        )
        if i is not None
    }
    rows = []
    for approval, ticket in pending:
        form = posted if posted is not None and posted_id == approval.id else None
        form = form or PortalForm(lang, {"version": ticket.version}, prefix=f"a{approval.id}-")
        form.labels = {"comment": "portal.field.decision_comment"}
        item = items.get(ticket.catalogue_item_id) if ticket.catalogue_item_id else None
        answers = []
        if item is not None:
            for spec in catalogue.fields_of(item):
                if spec.name in ticket.form_data:
                    value = str(ticket.form_data[spec.name])
                    shown = spec.option_label(value, lang) if spec.type == "select" else value
                    answers.append((spec.text_for(lang)[0], shown))
        rows.append({"approval": approval, "ticket": ticket, "form": form, "answers": answers})
    has_errors = posted is not None and bool(posted.errors)
    if has_errors and status == 200:
        status = 422
    return render(
        request,
        "portal/approvals.html",
        status,
        rows=rows,
        people=people(db, (t.requester_id for _, t in pending)),
        kommuner=kommune_names(db, (t.kommune_id for _, t in pending)),
        has_errors=has_errors or conflict,
        conflict=conflict,
    )


@router.get("/godkjenninger", response_class=HTMLResponse)
def approvals(request: Request, db: PageDb, p: CurrentPrincipal) -> HTMLResponse:
    return _page(request, db)


@router.post("/godkjenninger/{approval_id:int}", response_class=HTMLResponse)
def decide(
    request: Request, db: PageDb, p: CurrentPrincipal, approval_id: int, posted: PostedForm
) -> Response:
    decision = posted.get("decision")
    comment = posted.get("comment").strip()
    version = posted.get("version")
    form = PortalForm(language_of(request), posted.as_values(), prefix=f"a{approval_id}-")
    if decision not in ("approve", "reject"):
        raise Problem(422, "Invalid input", "decision: choose approve or reject")
    if decision == "reject" and not comment:
        form.errors = [portal_error("comment", "msg.reject_reason")]
        return _page(request, db, form, approval_id)
    if len(comment) > 4000:
        form.errors = [too_long("comment", 4000)]
        return _page(request, db, form, approval_id)
    data = catalogue.DecisionIn(
        approve=decision == "approve",
        comment=comment,
        version=int(version) if version.isdigit() else None,
    )
    try:
        catalogue.decide(db, approval_id, data)
        db.flush()
    except Problem as problem:
        if problem.status != 409:
            raise
        db.rollback()
        return _page(request, db, conflict=True, status=409)
    ok = "portal_approved" if data.approve else "portal_rejected"
    return RedirectResponse(f"/godkjenninger?ok={ok}", status_code=303)
