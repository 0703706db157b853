"""Portal: one ticket as its requester sees it. Details, the public timeline with attachments,
replying (with files), withdrawing, confirming or reopening, rating, and sharing with a
colleague. Every form carries the ticket's version: when someone else changed the ticket
meanwhile, the page says so and keeps what the person wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from fellesdrift.kernel.problems import FieldError, Problem
from fellesdrift.kernel.types import utcnow
from fellesdrift.kernel.web import language_of, render
from register.access import Principal
from register.choices import Role
from register.deps import CurrentPrincipal, PageDb
from register.routes.page_forms import PostedForm
from servicedesk.tickets.choices import EntryKind, Status
from servicedesk.tickets.models import Attachment, CatalogueItem, Ticket, TicketEntry
from servicedesk.tickets.routes.portal_common import (
    FILES,
    PortalForm,
    Upload,
    check_uploads,
    content_disposition,
    kommune_names,
    people,
    portal_error,
    read_uploads,
    store_uploads,
    too_long,
    upload_error,
)
from servicedesk.tickets.schemas import RatingIn, ReplyIn, Transition
from servicedesk.tickets.service import attachments, catalogue, core, lifecycle
from servicedesk.tickets.service.clock_views import ticket_clocks

router = APIRouter()
Uploads = Annotated[list[Upload], Depends(read_uploads)]

#: The requester's buttons, in the order shown: (from, to) -> catalogue key of the button.
ACTIONS: dict[tuple[Status, Status], str] = {
    (Status.RESOLVED, Status.CLOSED): "confirm",
    (Status.RESOLVED, Status.IN_PROGRESS): "reopen",
    **{
        (s, Status.CANCELLED): "withdraw"
        for s in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING)
    },
}
#: Field changes the requester sees on the timeline (the rest is the drift unit's bookkeeping).
SHOWN_FIELDS = frozenset({"priority", "tlp", "title", "rating"})
REPLY_LABELS = {"body": "portal.field.reply", FILES: "portal.field.files"}


# ---- the page ------------------------------------------------------------------------------------


@dataclass
class Forms:
    """The page's forms; the one that was posted carries the values and errors."""

    reply: PortalForm
    action: PortalForm
    rate: PortalForm
    share: PortalForm
    conflict: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def blank(cls, lang: str) -> Forms:
        return cls(
            reply=PortalForm(lang, prefix="reply-", labels=REPLY_LABELS),
            action=PortalForm(lang, prefix="action-", labels={"comment": "portal.field.comment"}),
            rate=PortalForm(
                lang,
                prefix="rate-",
                labels={"rating": "portal.field.rating", "comment": "portal.field.rating_comment"},
            ),
            share=PortalForm(lang, prefix="share-", labels={"user": "portal.field.share_user"}),
        )


def actions_for(db: Session, p: Principal, ticket: Ticket) -> list[tuple[str, str]]:
    """(target status, button key) the person may use now; reopening only within the window."""
    allowed = lifecycle.allowed_transitions(p, ticket)
    current = Status(ticket.status)
    out = []
    for (source, target), key in ACTIONS.items():
        if source != current or target not in allowed:
            continue
        if key == "reopen" and not _may_reopen(db, ticket):
            continue
        out.append((target.value, key))
    return out


def _may_reopen(db: Session, ticket: Ticket) -> bool:
    deadline = lifecycle.reopen_deadline(db, ticket)
    return deadline is None or utcnow() <= deadline


def _timeline(db: Session, ticket: Ticket) -> tuple[list[TicketEntry], dict[int, list[Attachment]]]:
    """The public entries worth showing, and the public attachments by entry."""
    files: dict[int, list[Attachment]] = {}
    for a in attachments.of_ticket(db, ticket.id):  # type: ignore[arg-type]
        if a.public and a.entry_id is not None:
            files.setdefault(a.entry_id, []).append(a)
    shown = []
    for e in core.timeline(db, ticket.id):  # type: ignore[arg-type]
        if not e.public or e.kind == EntryKind.NOTE.value:
            continue
        if e.kind == EntryKind.FIELD.value and e.change.get("field") not in SHOWN_FIELDS:
            continue
        if e.kind == EntryKind.REPLY.value and not e.body and e.id not in files:
            continue
        shown.append(e)
    return shown, files


def _requester_side(p: Principal, ticket: Ticket) -> bool:
    return ticket.requester_id == p.user_id or (
        p.has(Role.KOMMUNE_CONTACT) and ticket.kommune_id in p.kommuner
    )


def _page(
    request: Request, db: Session, p: Principal, ticket_id: int, forms: Forms, status: int = 200
) -> HTMLResponse:
    ticket = core.get_ticket(db, ticket_id)
    entries, files = _timeline(db, ticket)
    approvals = catalogue.approvals_of(db, ticket.id)  # type: ignore[arg-type]
    watchers = core.watchers_of(db, ticket.id)  # type: ignore[arg-type]
    ids = [ticket.requester_id, *(e.author_id for e in entries), *watchers]
    ids += [a.approver_id for a in approvals]
    ids += [u for e in entries for u in e.change.get("approvers", []) if isinstance(u, int)]
    item = db.get(CatalogueItem, ticket.catalogue_item_id) if ticket.catalogue_item_id else None
    # Every form carries the version of the ticket as shown: after a conflict, the person has
    # now seen the change, and sending their kept text again is what they mean.
    for form in (forms.reply, forms.action, forms.rate, forms.share):
        form.values["version"] = ticket.version
    lang = language_of(request)
    has_errors = any(f.errors for f in (forms.reply, forms.action, forms.rate, forms.share))
    if has_errors and status == 200:
        status = 422
    return render(
        request,
        "portal/ticket.html",
        status,
        ticket=ticket,
        entries=entries,
        files=files,
        people=people(db, ids),
        kommuner=kommune_names(db, [ticket.kommune_id]),
        approvals=approvals,
        my_approval=next(
            (a for a in approvals if a.approver_id == p.user_id and a.state == "pending"), None
        ),
        watchers=watchers,
        item=item,
        form_rows=_form_rows(item, ticket, lang),
        actions=actions_for(db, p, ticket),
        reopen_until=lifecycle.reopen_deadline(db, ticket),
        may_reply=ticket.status not in (Status.CLOSED.value, Status.CANCELLED.value),
        may_rate=ticket.requester_id == p.user_id
        and ticket.status in (Status.RESOLVED.value, Status.CLOSED.value),
        may_share=_requester_side(p, ticket),
        me=p.user_id,
        forms=forms,
        has_errors=has_errors or forms.conflict,
        conflict=forms.conflict,
        now=utcnow(),
        clocks=ticket_clocks(db, ticket.id, lang),  # type: ignore[arg-type]
    )


def _form_rows(item: CatalogueItem | None, ticket: Ticket, lang: str) -> list[tuple[str, str]]:
    """The catalogue form's answers as (label, text)."""
    return catalogue.answers(item, ticket.form_data, lang)


@router.get("/saker/{ticket_id:int}", response_class=HTMLResponse)
def ticket_page(request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int) -> HTMLResponse:
    return _page(request, db, p, ticket_id, Forms.blank(language_of(request)))


# ---- doing things --------------------------------------------------------------------------------


def _version(raw: str) -> int:
    return int(raw) if raw.strip().isdigit() else -1


def _stale(problem: Problem) -> bool:
    return problem.status == 409 and "changed by someone else" in problem.detail


def _attempt(db: Session, action: Any) -> Problem | None:
    """Run a change; a refusal (or a concurrent change found at flush) rolls it back."""
    try:
        action()
        db.flush()
    except StaleDataError:
        db.rollback()
        return Problem(409, "Conflict", "ticket was changed by someone else")
    except Problem as problem:
        if problem.status not in (409, 413, 422, 503, 507):
            raise
        db.rollback()
        return problem
    return None


def _failed(
    request: Request,
    db: Session,
    p: Principal,
    ticket_id: int,
    forms: Forms,
    form: PortalForm,
    problem: Problem,
) -> HTMLResponse:
    if _stale(problem):
        forms.conflict = True
        return _page(request, db, p, ticket_id, forms, 409)
    form.errors = list(problem.errors) or [_general(problem)]
    return _page(request, db, p, ticket_id, forms, 409 if problem.status == 409 else 422)


def _general(problem: Problem) -> FieldError:
    """A refusal that is about the whole form, in the portal's words where it has them."""
    known = {
        "Reopen window passed": "msg.reopen_window",
        "Invalid transition": "msg.invalid_transition",
    }
    if problem.title in known:
        return portal_error("", known[problem.title])
    if "is closed" in problem.detail or "is cancelled" in problem.detail:
        return portal_error("", "msg.closed")
    return FieldError("", problem.detail)


def _posted_forms(request: Request, posted: Any, which: str) -> tuple[Forms, PortalForm]:
    forms = Forms.blank(language_of(request))
    form: PortalForm = getattr(forms, which)
    form.values = posted.as_values()
    return forms, form


@router.post("/saker/{ticket_id:int}/svar", response_class=HTMLResponse)
def reply(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    ticket_id: int,
    posted: PostedForm,
    uploads: Uploads,
) -> Response:
    forms, form = _posted_forms(request, posted, "reply")
    body = posted.get("body").strip()
    errors = check_uploads(request, uploads)
    if not body and not uploads:
        errors.append(portal_error("body", "msg.reply_empty"))
    elif len(body) > 20000:
        errors.append(too_long("body", 20000))
    forms.extra["files_dropped"] = bool(uploads)
    if errors:
        form.errors = errors
        return _page(request, db, p, ticket_id, forms)

    def act() -> None:
        # No version check: a reply is appended and never overwrites anyone's work.
        entry = lifecycle.reply(db, ticket_id, ReplyIn(body=body)) if body else None
        db.flush()
        store_uploads(db, ticket_id, uploads, entry=entry)

    problem = _attempt(db, act)
    if problem is not None:
        if problem.status == 413 or any(e.field == "file" for e in problem.errors):
            limit = core.settings_of(db).upload_max_bytes
            form.errors = [upload_error(problem, uploads[0].filename, form.lang, limit)]
            status = problem.status if problem.status in (503, 507) else 422
            return _page(request, db, p, ticket_id, forms, status)
        return _failed(request, db, p, ticket_id, forms, form, problem)
    return RedirectResponse(f"/saker/{ticket_id}?ok=portal_replied#svar", status_code=303)


@router.post("/saker/{ticket_id:int}/status", response_class=HTMLResponse)
def change_status(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, posted: PostedForm
) -> Response:
    forms, form = _posted_forms(request, posted, "action")
    target = posted.get("target")
    if target not in {s.value for s in Status}:
        raise Problem(422, "Invalid input", "target: is not a status")
    comment = posted.get("comment").strip()[:20000]

    def act() -> None:
        data = Transition(
            version=_version(posted.get("version")), status=Status(target), comment=comment
        )
        lifecycle.transition(db, ticket_id, data)

    problem = _attempt(db, act)
    if problem is not None:
        return _failed(request, db, p, ticket_id, forms, form, problem)
    return RedirectResponse(f"/saker/{ticket_id}?ok=portal_{target}", status_code=303)


@router.post("/saker/{ticket_id:int}/vurdering", response_class=HTMLResponse)
def rate(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, posted: PostedForm
) -> Response:
    forms, form = _posted_forms(request, posted, "rate")
    raw = posted.get("rating")
    comment = posted.get("comment").strip()
    if raw not in ("1", "2", "3", "4", "5"):
        form.errors = [portal_error("rating", "msg.rating_missing")]
        return _page(request, db, p, ticket_id, forms)
    if len(comment) > 4000:
        form.errors = [too_long("comment", 4000)]
        return _page(request, db, p, ticket_id, forms)

    def act() -> None:
        ticket = core.get_ticket(db, ticket_id, lock=True)
        core.check_version(ticket, _version(posted.get("version")))
        lifecycle.rate(db, ticket_id, RatingIn(rating=int(raw), comment=comment))

    problem = _attempt(db, act)
    if problem is not None:
        return _failed(request, db, p, ticket_id, forms, form, problem)
    return RedirectResponse(f"/saker/{ticket_id}?ok=portal_rated", status_code=303)


@router.post("/saker/{ticket_id:int}/deling", response_class=HTMLResponse)
def share(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, posted: PostedForm
) -> Response:
    forms, form = _posted_forms(request, posted, "share")
    who = posted.get("user").strip()
    if not who:
        form.errors = [FieldError("user", "", code="missing")]
        return _page(request, db, p, ticket_id, forms)

    def act() -> None:
        ticket = core.get_ticket(db, ticket_id)
        core.add_watcher(db, ticket, core.find_shareable_user(db, who))

    problem = _attempt(db, act)
    if problem is not None:
        return _failed(request, db, p, ticket_id, forms, form, problem)
    return RedirectResponse(f"/saker/{ticket_id}?ok=portal_shared#deling", status_code=303)


@router.post("/saker/{ticket_id:int}/deling/{user_id:int}/fjern")
def unshare(db: PageDb, p: CurrentPrincipal, ticket_id: int, user_id: int) -> Response:
    ticket = core.get_ticket(db, ticket_id)
    core.remove_watcher(db, ticket, user_id)
    return RedirectResponse(f"/saker/{ticket_id}?ok=portal_unshared#deling", status_code=303)


# ---- files ---------------------------------------------------------------------------------------


@router.get("/saker/{ticket_id:int}/vedlegg/{attachment_id:int}")
def download(db: PageDb, p: CurrentPrincipal, ticket_id: int, attachment_id: int) -> Response:
    """The file, through the access layer (404 for what the person may not see), always as a
    download under its safe name and stored type, never rendered by the browser."""
    try:
        row, data = attachments.read(db, attachment_id)
    except FileNotFoundError:
        raise Problem(404, "Not found", f"attachment {attachment_id} not found") from None
    if row.ticket_id != ticket_id or not row.public:
        raise Problem(404, "Not found", f"attachment {attachment_id} not found")
    headers = {
        "Content-Disposition": content_disposition(row.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return Response(data, media_type=row.content_type, headers=headers)
