"""Forms of the change pages: record a change (with a picker over the systems register and the
risk questionnaire), plan a CAB meeting, send its agenda and record its minutes. Input is
judged by the API's schemas; a refused form comes back with its values and the reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from fellesdrift.kernel.problems import FieldError
from register.deps import CurrentPrincipal, PageDb
from register.models import ConfigItem
from register.routes.common import CSRF
from register.routes.page_forms import (
    OSLO,
    FormState,
    PostedForm,
    attempt,
    done,
    judge,
    render_form,
    require,
)
from servicedesk.changes import risk as risk_q
from servicedesk.changes.choices import ChangeType
from servicedesk.changes.models import ChangeTemplate
from servicedesk.changes.rules import is_drift_agent, may_see_cab
from servicedesk.changes.schemas import ChangeCreate, MeetingIn
from servicedesk.changes.service import cab, records
from servicedesk.tickets.choices import Tlp

router = APIRouter(dependencies=CSRF)

#: Inputs of the change form whose label is the change catalogue's, not ``field.<name>``.
_LABELS = {
    name: f"changes.field.{name}"
    for name in (
        "title", "change_type", "template_id", "reason", "description", "ci_ids", "tlp",
        "implementation_plan", "test_plan", "backout_plan", "planned_start", "planned_end",
        "meets_at", "notes", "risk_answers",
    )
} | {f"risk_{q}": f"changes.risk.q.{q}" for q in risk_q.QUESTIONS}  # fmt: skip


def _form(request: Request, values: dict[str, Any], errors: list[FieldError]) -> FormState:
    state = FormState.blank(request, **values)
    state.errors = errors
    state.labels = _LABELS
    # A missing answer is reported on the whole questionnaire; show it at the first question.
    state.aliases = {"risk_answers": f"risk_{next(iter(risk_q.QUESTIONS))}"}
    return state


def _local(raw: str, name: str, errors: list[FieldError]) -> str | None:
    """A ``datetime-local`` value (Oslo time, as people type it) as an aware ISO time."""
    if not raw.strip():
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        errors.append(FieldError(name, "is not a date and time", raw, code="changes_err.when"))
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=OSLO)
    return moment.isoformat()


def _systems(db: PageDb) -> list[tuple[int, str]]:
    rows = db.exec(select(ConfigItem).where(ConfigItem.lifecycle != "retired"))
    return sorted(((ci.id or 0, f"{ci.name} ({ci.key})") for ci in rows), key=lambda x: x[1])


def _new_page(request: Request, db: PageDb, form: FormState) -> HTMLResponse:
    templates = db.exec(select(ChangeTemplate).where(col(ChangeTemplate.active).is_(True)))
    return render_form(
        request,
        "changes/new.html",
        form,
        picker=[(ci_id, name, "") for ci_id, name in _systems(db)],
        templates=[(t.id, t.name) for t in templates],
        types=[t.value for t in ChangeType],
        tlps=[t.value for t in Tlp],
        questions=risk_q.QUESTIONS,
    )


@router.get("/endringer/ny", response_class=HTMLResponse)
def new_change(request: Request, db: PageDb, p: CurrentPrincipal) -> HTMLResponse:
    require(is_drift_agent(p))
    return _new_page(request, db, _form(request, {"change_type": "normal", "tlp": "amber"}, []))


@router.post("/endringer/ny", response_class=HTMLResponse)
def create_change(
    request: Request, db: PageDb, p: CurrentPrincipal, posted: PostedForm
) -> Response:
    require(is_drift_agent(p))
    errors: list[FieldError] = []
    fixed: dict[str, Any] = {
        name: _local(posted.get(name), name, errors) for name in ("planned_start", "planned_end")
    }
    answers = {q: posted.get(f"risk_{q}") for q in risk_q.QUESTIONS if posted.get(f"risk_{q}")}
    fixed["risk_answers"] = answers or None
    data, judged = judge(ChangeCreate, posted, lists=["ci_ids"], fixed=fixed)
    errors += judged
    created: list[int] = []
    if data is not None and not errors:

        def save() -> None:
            ticket, _record = records.create_change(db, data)
            created.append(int(ticket.id or 0))

        errors = attempt(db, save)
    if errors or not created:
        values = posted.as_values() | {"ci_ids": posted.getlist("ci_ids")}
        return _new_page(request, db, _form(request, values, errors))
    return done(f"/endringer/{created[0]}", "change_saved")


@router.post("/endringer/cab/ny", response_class=HTMLResponse)
def plan_meeting(request: Request, db: PageDb, p: CurrentPrincipal, posted: PostedForm) -> Response:
    require(may_see_cab(p))
    errors: list[FieldError] = []
    when = _local(posted.get("meets_at"), "meets_at", errors)
    data, judged = judge(MeetingIn, posted, fixed={"meets_at": when} if when else {})
    errors += judged
    made: list[int] = []
    if data is not None and not errors:
        errors = attempt(db, lambda: made.append(int(cab.create_meeting(db, data).id or 0)))
    if errors or not made:
        from servicedesk.changes.routes.pages import list_page

        return list_page(request, db, p, _form(request, posted.as_values(), errors))
    return done(f"/endringer/cab/{made[0]}", "cab_planned")


@router.post("/endringer/cab/{meeting_id:int}/send")
def send_agenda(db: PageDb, p: CurrentPrincipal, meeting_id: int) -> Response:
    cab.send_agenda(db, meeting_id)
    return done(f"/endringer/cab/{meeting_id}", "cab_sent")


@router.post("/endringer/cab/{meeting_id:int}/referat")
def record_minutes(
    db: PageDb, p: CurrentPrincipal, meeting_id: int, posted: PostedForm
) -> Response:
    cab.close_meeting(db, meeting_id, posted.get("notes").strip()[:20000])
    return done(f"/endringer/cab/{meeting_id}", "cab_recorded")
