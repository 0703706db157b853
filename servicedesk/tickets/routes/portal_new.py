"""Portal: filing a ticket in three steps. (1) Choose "Meld feil" or an item of the service
catalogue; (2) fill in the form, with attachments; (3) the receipt with the ticket's number.

A refused form is shown again with what was written and every error by its field; nothing of
it is stored (files included: they are checked before the ticket is created).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, Problem, from_validation_errors
from fellesdrift.kernel.web import language_of, render
from register.choices import CIKind, Lifecycle
from register.deps import CurrentPrincipal, PageDb
from register.models import ConfigItem
from register.routes.page_forms import Posted, PostedForm
from servicedesk.tickets.choices import ApprovalKind, TicketType, Tlp
from servicedesk.tickets.models import CatalogueItem
from servicedesk.tickets.routes.portal_common import (
    FILES,
    PortalForm,
    Upload,
    check_uploads,
    portal_form,
    read_uploads,
    store_uploads,
    upload_error,
)
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import catalogue, core
from servicedesk.tickets.service.attachments import safe_filename

router = APIRouter()
Uploads = Annotated[list[Upload], Depends(read_uploads)]

#: Urgency as people say it, most urgent first (1 = critical .. 4 = low).
URGENCIES = (1, 2, 3, 4)
TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.RED)
#: What employees report problems with: systems they use, not the servers beneath them.
REPORTABLE = (CIKind.FAGSYSTEM.value, CIKind.SERVICE_ENDPOINT.value)
INCIDENT_LABELS = {
    "title": "portal.field.title",
    "description": "portal.field.description",
    "ci_id": "portal.field.ci_id",
    "urgency": "portal.field.urgency",
    "tlp": "portal.field.tlp",
    FILES: "portal.field.files",
}


class IncidentForm(BaseModel):
    """What the "Meld feil" form takes: only these, whatever else is posted."""

    model_config = ConfigDict(str_strip_whitespace=True)
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=1, max_length=20000)
    ci_id: int | None = None
    urgency: int = Field(default=3, ge=1, le=4)
    tlp: Tlp = Tlp.AMBER


# ---- step 1 --------------------------------------------------------------------------------------


def _grouped(items: list[CatalogueItem]) -> list[tuple[str, list[CatalogueItem]]]:
    groups: dict[str, list[CatalogueItem]] = {}
    for item in items:
        groups.setdefault(item.category, []).append(item)
    return sorted(groups.items(), key=lambda g: (g[0] == "", g[0].lower()))


@router.get("/saker/ny", response_class=HTMLResponse)
def choose(request: Request, db: PageDb, p: CurrentPrincipal) -> HTMLResponse:
    items = catalogue.active_items(db)
    return render(request, "portal/new_choose.html", groups=_grouped(items))


# ---- step 2: an incident -------------------------------------------------------------------------


def _systems(db: Session) -> list[tuple[int, str]]:
    stmt = (
        select(ConfigItem.id, ConfigItem.name)
        .where(
            col(ConfigItem.kind).in_(REPORTABLE),
            ConfigItem.lifecycle != Lifecycle.RETIRED.value,
        )
        .order_by(col(ConfigItem.name))
    )
    return [(cid, name) for cid, name in db.exec(stmt) if cid is not None]


def _incident_page(
    request: Request, db: Session, form: PortalForm, status: int = 200, dropped: bool = False
) -> HTMLResponse:
    if form.errors and status == 200:
        status = 422
    return render(
        request,
        "portal/new_incident.html",
        status,
        form=form,
        has_errors=bool(form.errors),
        systems=_systems(db),
        urgencies=URGENCIES,
        tlps=[t.value for t in TLPS],
        default_tlp=TicketCreate.model_fields["tlp"].default.value,
        files_dropped=dropped,
    )


@router.get("/saker/ny/feil", response_class=HTMLResponse)
def incident_form(request: Request, db: PageDb, p: CurrentPrincipal) -> HTMLResponse:
    default_tlp = TicketCreate.model_fields["tlp"].default.value  # the service's default
    form = portal_form(request, {"urgency": "3", "tlp": default_tlp}, labels=INCIDENT_LABELS)
    return _incident_page(request, db, form)


def _judge_incident(posted: Posted) -> tuple[IncidentForm | None, list[FieldError]]:
    names = ("title", "description", "ci_id", "urgency", "tlp")
    data = {n: posted.get(n).strip() for n in names if posted.get(n).strip()}
    try:
        return IncidentForm.model_validate(data), []
    except ValidationError as exc:
        return None, from_validation_errors(exc.errors())


@router.post("/saker/ny/feil", response_class=HTMLResponse)
def file_incident(
    request: Request, db: PageDb, p: CurrentPrincipal, posted: PostedForm, uploads: Uploads
) -> Response:
    data, errors = _judge_incident(posted)
    errors += check_uploads(request, uploads)
    if data is not None and not errors:
        create = TicketCreate(
            type=TicketType.INCIDENT,
            title=data.title,
            description=data.description,
            urgency=data.urgency,
            tlp=data.tlp,
            ci_ids=[data.ci_id] if data.ci_id else [],
        )
        ticket_id, errors = _create(request, db, lambda: core.create_ticket(db, create), uploads)
        if ticket_id is not None:
            return RedirectResponse(f"/saker/{ticket_id}/mottatt", status_code=303)
    form = PortalForm(language_of(request), posted.as_values(), errors, labels=INCIDENT_LABELS)
    return _incident_page(request, db, form, dropped=bool(uploads))


def _create(
    request: Request, db: Session, action: Any, uploads: list[Upload]
) -> tuple[int | None, list[FieldError]]:
    """Create the ticket and store its files in one transaction; a refusal rolls all back."""
    try:
        ticket = action()
        store_uploads(db, ticket.id, uploads)
        db.flush()
    except Problem as problem:
        db.rollback()
        if problem.status == 413 or any(e.field == "file" for e in problem.errors):
            limit = core.settings_of(db).upload_max_bytes
            name = safe_filename(uploads[0].filename) if uploads else ""
            return None, [upload_error(problem, name, language_of(request), limit)]
        if problem.status not in (404, 409, 422):
            raise
        return None, problem.errors or [FieldError("", problem.detail)]
    return ticket.id, []


# ---- step 2: a catalogue item --------------------------------------------------------------------


def _item_form(
    request: Request, item: CatalogueItem, values: dict[str, Any], errors: list[FieldError]
) -> PortalForm:
    lang = language_of(request)
    texts = {f"f_{f.name}": f.text_for(lang)[0] for f in catalogue.fields_of(item)}
    labels = {"description": "portal.field.note", FILES: "portal.field.files"}
    moved = [_to_input(e) for e in errors]
    return PortalForm(lang, values, moved, labels=labels, texts=texts)


def _to_input(error: FieldError) -> FieldError:
    """``form_data.<name>`` (the service's name) -> ``f_<name>`` (the input's)."""
    if error.field == "catalogue_item_id":  # nobody can approve: about the whole order
        return FieldError("", error.message, code=error.code, params=error.params)
    if error.field.startswith("form_data."):
        name = "f_" + error.field.removeprefix("form_data.")
        return FieldError(name, error.message, error.value, code=error.code, params=error.params)
    return error


def _item_page(
    request: Request,
    db: Session,
    item: CatalogueItem,
    form: PortalForm,
    status: int = 200,
    dropped: bool = False,
) -> HTMLResponse:
    if form.errors and status == 200:
        status = 422
    system = db.get(ConfigItem, item.ci_id) if item.ci_id else None
    return render(
        request,
        "portal/new_request.html",
        status,
        form=form,
        has_errors=bool(form.errors),
        item=item,
        fields=catalogue.fields_of(item),
        system=system,
        approval=ApprovalKind(item.approval),
        files_dropped=dropped,
    )


@router.get("/saker/ny/bestilling/{item_id:int}", response_class=HTMLResponse)
def request_form(request: Request, db: PageDb, p: CurrentPrincipal, item_id: int) -> HTMLResponse:
    item = catalogue.get_item(db, item_id)
    return _item_page(request, db, item, _item_form(request, item, {}, []))


@router.post("/saker/ny/bestilling/{item_id:int}", response_class=HTMLResponse)
def order_item(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    item_id: int,
    posted: PostedForm,
    uploads: Uploads,
) -> Response:
    item = catalogue.get_item(db, item_id)
    form_data = {f.name: posted.get(f"f_{f.name}") for f in catalogue.fields_of(item)}
    errors: list[FieldError] = []
    try:
        catalogue.validate_form_data(item, form_data)
    except Problem as problem:
        errors = list(problem.errors)
    try:
        data = catalogue.RequestIn(form_data=form_data, description=posted.get("description"))
    except ValidationError as exc:
        errors += from_validation_errors(exc.errors())
    errors += check_uploads(request, uploads)
    if not errors:
        ticket_id, errors = _create(
            request, db, lambda: catalogue.order(db, item_id, data), uploads
        )
        if ticket_id is not None:
            return RedirectResponse(f"/saker/{ticket_id}/mottatt", status_code=303)
        item = catalogue.get_item(db, item_id)
    form = _item_form(request, item, posted.as_values(), errors)
    return _item_page(request, db, item, form, dropped=bool(uploads))


# ---- step 3 --------------------------------------------------------------------------------------


@router.get("/saker/{ticket_id:int}/mottatt", response_class=HTMLResponse)
def receipt(request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int) -> HTMLResponse:
    ticket = core.get_ticket(db, ticket_id)
    return render(
        request,
        "portal/new_receipt.html",
        ticket=ticket,
        waiting=catalogue.awaiting_approval(ticket),
    )
