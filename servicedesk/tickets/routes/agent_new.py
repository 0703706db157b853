"""The agent files a ticket for a caller ("/arbeid/saker/ny"): who called (a requester picked
from the people of the kommuner), how they got in touch (phone, e-mail, in person), what it is
about and which systems it touches. The requester is the caller, not the agent, so the caller
follows the ticket in the portal and gets its replies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.problems import FieldError, Problem, from_validation_errors
from fellesdrift.kernel.web import language_of, render
from register.access import elevated
from register.deps import CurrentPrincipal, PageDb
from register.models import ConfigItem, Kommune, User
from register.routes.page_forms import Posted, PostedForm
from servicedesk.tickets.choices import TicketType
from servicedesk.tickets.routes.agent_common import (
    BASE,
    AgentForm,
    agent_error,
    agent_form,
    level_label,
    posted_form,
)
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core

router = APIRouter()
#: How the caller reached the desk; kept with the ticket (``form_data["channel"]``).
CHANNELS = ("phone", "email", "in_person")
TYPES = (TicketType.INCIDENT, TicketType.REQUEST)
#: The people offered by the requester picker (typing filters them in the browser).
PICKER_LIMIT = 2000


class CallerTicket(BaseModel):
    """What the form takes; the requester is looked up by user name or e-mail."""

    model_config = ConfigDict(str_strip_whitespace=True)
    requester: str = Field(min_length=1, max_length=200)
    channel: str = Field(default="phone", pattern="^(phone|email|in_person)$")
    type: TicketType = TicketType.INCIDENT
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=20000)
    impact: int = Field(default=3, ge=1, le=4)
    urgency: int = Field(default=3, ge=1, le=4)


def _people(db: Session) -> list[tuple[str, str]]:
    """(user name, "Full name, Kommune") of the active people of the kommuner of today."""
    with elevated(db, "directory"):
        kommuner = {
            kid: name
            for kid, name in db.exec(
                select(Kommune.id, Kommune.name).where(col(Kommune.valid_to).is_(None))
            )
        }
        rows = db.exec(
            select(User.username, User.full_name, User.kommune_id)
            .where(col(User.active).is_(True), col(User.kommune_id).in_(list(kommuner)))
            .order_by(col(User.full_name))
            .limit(PICKER_LIMIT)
        ).all()
    return [(username, f"{name}, {kommuner[kid]}") for username, name, kid in rows if kid]


def _systems(db: Session) -> list[tuple[int, str]]:
    stmt = (
        select(ConfigItem.id, ConfigItem.name, ConfigItem.key)
        .where(ConfigItem.lifecycle != "retired")
        .order_by(col(ConfigItem.name))
    )
    return [(cid, f"{name} ({key})") for cid, name, key in db.exec(stmt) if cid is not None]


def _page(request: Request, db: Session, form: AgentForm, status: int = 200) -> HTMLResponse:
    lang = language_of(request)
    return render(
        request,
        "agent/new_ticket.html",
        status,
        form=form,
        people=_people(db),
        systems=_systems(db),
        channels=[(c, translate(f"agent.channel.{c}", lang)) for c in CHANNELS],
        types=[(t.value, translate(f"choice.TicketType.{t.value}", lang)) for t in TYPES],
        levels={
            name: [(n, level_label(name, n, lang)) for n in (1, 2, 3, 4)]
            for name in ("impact", "urgency")
        },
        has_errors=status >= 400,
    )


@router.get(f"{BASE}/saker/ny", response_class=HTMLResponse)
def new_ticket_form(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    values: dict[str, Any] = {"channel": "phone", "type": "incident", "impact": 3, "urgency": 3}
    return _page(request, db, agent_form(request, values))


def _judge(form: Posted) -> tuple[CallerTicket | None, list[FieldError]]:
    names = ("requester", "channel", "type", "title", "description", "impact", "urgency")
    data = {n: form.get(n).strip() for n in names if form.get(n).strip()}
    try:
        return CallerTicket.model_validate(data), []
    except ValidationError as exc:
        return None, from_validation_errors(exc.errors())


@router.post(f"{BASE}/saker/ny", response_class=HTMLResponse)
def file_for_caller(
    request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm
) -> Response:
    data, errors = _judge(form)
    ci_ids = [int(v) for v in form.getlist("ci_ids") if v.strip().isdigit()]
    if data is not None:
        try:
            requester = core.find_shareable_user(db, data.requester)
            create = TicketCreate(
                type=data.type,
                title=data.title,
                description=data.description,
                requester_id=requester,
                impact=data.impact,
                urgency=data.urgency,
                ci_ids=ci_ids,
                form_data={"channel": data.channel},
            )
            ticket = core.create_ticket(db, create)
            db.flush()
        except Problem as problem:
            db.rollback()
            errors = [
                agent_error("requester", "msg.no_person") if e.field == "user" else e
                for e in problem.errors
            ] or [FieldError("input", problem.detail)]
        else:
            return RedirectResponse(f"{BASE}/saker/{ticket.id}?ok=agent_filed", status_code=303)
    return _page(request, db, posted_form(request, form, errors), status=422)
