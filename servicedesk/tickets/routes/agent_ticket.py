"""The agent's ticket page ("/arbeid/saker/{id}"): the full timeline, the reply and internal
note form, status changes with their required fields, the edit form, links, watchers and time
entries. Every form posts to its own address and comes back to the page: with a confirmation
on success, or with the agent's input and the reason on refusal. A change someone else made
meanwhile (optimistic locking) is a conflict message above the form, which keeps the text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from fellesdrift.i18n import translate
from fellesdrift.problems import FieldError, Problem, conflict, not_found
from fellesdrift.web import language_of, render
from servicedesk.access import Principal
from servicedesk.deps import CurrentPrincipal, PageDb
from servicedesk.models import ConfigItem
from servicedesk.routes.page_forms import PostedForm, judge
from servicedesk.tickets.choices import LinkKind, PendingReason, Status, TicketType, Tlp, WorkType
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.routes.agent_common import (
    BASE,
    AgentForm,
    Upload,
    agent_error,
    agent_form,
    check_uploads,
    ci_names,
    content_disposition,
    group_names,
    kommune_names,
    level_label,
    posted_form,
    problem_errors,
    read_uploads,
    user_names,
)
from servicedesk.tickets.routes.agent_timeline import timeline
from servicedesk.tickets.schemas import (
    LinkIn,
    ReplyIn,
    TicketUpdate,
    TimeEntryIn,
    Transition,
)
from servicedesk.tickets.service import attachments, core, lifecycle, links, timeentries
from servicedesk.tickets.service import groups as group_svc

router = APIRouter()
EDIT_FIELDS = (
    "title",
    "description",
    "impact",
    "urgency",
    "tlp",
    "category",
    "major",
    "kommune_id",
    "assignment_group_id",
    "assignee_id",
    "root_cause",
    "workaround",
    "known_error",
)
TIME_FIELDS = ("work_date", "minutes", "work_type", "billable", "kommune_id", "note")


def ticket_url(ticket_id: int, ok: str = "", anchor: str = "") -> str:
    query = f"?ok={ok}" if ok else ""
    return f"{BASE}/saker/{ticket_id}{query}{'#' + anchor if anchor else ''}"


@dataclass
class Forms:
    """The page's forms; the one that was posted carries its values and errors."""

    reply: AgentForm
    status: AgentForm
    edit: AgentForm
    link: AgentForm
    watch: AgentForm
    time: AgentForm
    time_edit: dict[int, AgentForm] = field(default_factory=dict)


def _edit_values(db: Session, ticket: Ticket) -> dict[str, Any]:
    values = {name: getattr(ticket, name) for name in EDIT_FIELDS}
    ids = core.ci_ids_of(db, ticket.id)  # type: ignore[arg-type]
    keys = db.exec(select(ConfigItem.key).where(col(ConfigItem.id).in_(ids))).all()
    return values | {"ci_keys": ", ".join(sorted(keys)), "version": ticket.version}


def _blank_forms(request: Request, db: Session, ticket: Ticket) -> Forms:
    def form(prefix: str, values: dict[str, Any] | None = None) -> AgentForm:
        return agent_form(request, values, prefix=prefix)

    today = date.today().isoformat()
    return Forms(
        reply=form("reply-"),
        status=form("status-", {"version": ticket.version}),
        edit=form("edit-", _edit_values(db, ticket)),
        link=form("link-", {"kind": LinkKind.CAUSED_BY.value}),
        watch=form("watch-"),
        time=form(
            "time-",
            {
                "work_date": today,
                "work_type": WorkType.OFFICE_HOURS.value,
                "billable": True,
                "kommune_id": ticket.kommune_id,
            },
        ),
    )


def _time_block(db: Session, ticket: Ticket) -> dict[str, Any]:
    entries = timeentries.of_ticket(db, ticket.id)  # type: ignore[arg-type]
    total = sum(e.minutes for e in entries)
    billable = sum(e.minutes for e in entries if e.billable)
    by_type: dict[str, int] = {}
    for e in entries:
        by_type[e.work_type] = by_type.get(e.work_type, 0) + e.minutes
    return {"entries": entries, "total": total, "billable": billable, "by_type": by_type}


def _links_block(db: Session, ticket: Ticket) -> dict[str, Any]:
    tid = ticket.id
    assert tid is not None
    duplicates = db.exec(select(Ticket).where(Ticket.duplicate_of_id == tid)).all()
    related = {
        "parent": db.get(Ticket, ticket.parent_id) if ticket.parent_id else None,
        "problem": db.get(Ticket, ticket.problem_id) if ticket.problem_id else None,
        "duplicate_of": db.get(Ticket, ticket.duplicate_of_id) if ticket.duplicate_of_id else None,
    }
    return related | {
        "children": links.children_of(db, tid),
        "incidents": links.linked_incidents(db, tid) if ticket.type == TicketType.PROBLEM else [],
        "duplicates": list(duplicates),
    }


def _page(
    request: Request,
    db: Session,
    p: Principal,
    ticket_id: int,
    forms: Forms | None = None,
    conflicted: str = "",
    status: int = 200,
) -> HTMLResponse:
    ticket = core.get_ticket(db, ticket_id)
    lang = language_of(request)
    items, files = timeline(db, ticket_id, lang)
    watcher_ids = core.watchers_of(db, ticket_id)
    time = _time_block(db, ticket)
    people = user_names(
        db,
        [
            ticket.requester_id,
            ticket.assignee_id,
            *watcher_ids,
            *(e.user_id for e in time["entries"]),
        ],
    )
    forms = forms or _blank_forms(request, db, ticket)
    for entry in time["entries"]:
        forms.time_edit.setdefault(
            entry.id,
            agent_form(
                request, {n: getattr(entry, n) for n in TIME_FIELDS}, prefix=f"time{entry.id}-"
            ),
        )
    return render(
        request,
        "agent/ticket.html",
        status,
        ticket=ticket,
        items=items,
        files=files,
        forms=forms,
        conflicted=conflicted,
        transitions=[s.value for s in Status if s in lifecycle.allowed_transitions(p, ticket)],
        watchers=[(uid, people.get(uid, f"#{uid}")) for uid in watcher_ids],
        people=people,
        groups=group_names(db),
        kommuner=kommune_names(db),
        agents=group_svc.agent_names(db),
        cis=ci_names(db, core.ci_ids_of(db, ticket_id)),
        links=_links_block(db, ticket),
        time=time,
        opts=_options(lang),
        has_errors=status >= 400,
    )


def _options(lang: str) -> dict[str, list[tuple[Any, str]]]:
    """The choices of the page's selects, each with its label."""

    def label(key: str) -> str:
        return translate(key, lang)

    return {
        "impact": [(n, level_label("impact", n, lang)) for n in (1, 2, 3, 4)],
        "urgency": [(n, level_label("urgency", n, lang)) for n in (1, 2, 3, 4)],
        "tlp": [(t.value, label(f"choice.Tlp.{t.value}")) for t in Tlp],
        "pending": [(r.value, label(f"choice.PendingReason.{r.value}")) for r in PendingReason],
        "work_types": [(w.value, label(f"choice.WorkType.{w.value}")) for w in WorkType],
        "link_kinds": [(k.value, label(f"agent.links.kind.{k.value}")) for k in LinkKind],
    }


@router.get(f"{BASE}/saker/{{ticket_id:int}}", response_class=HTMLResponse)
def ticket_page(request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int) -> Response:
    return _page(request, db, p, ticket_id)


# ---- posting a form ------------------------------------------------------------------------------


def _attempt(db: Session, action: Callable[[], object]) -> Problem | None:
    """Run a service call; a refusal comes back (and nothing of it is stored)."""
    try:
        action()
        db.flush()
    except Problem as problem:
        if problem.status == 404:
            raise
        db.rollback()
        return problem
    except StaleDataError:
        db.rollback()
        return conflict("the ticket was changed by someone else meanwhile")
    return None


def _is_conflict(problem: Problem) -> bool:
    return problem.status == 409 and "changed by someone else" in problem.detail


def _refused(
    request: Request,
    db: Session,
    p: Principal,
    ticket_id: int,
    which: str,
    form: PostedForm,
    errors: list[FieldError],
    problem: Problem | None = None,
) -> HTMLResponse:
    """The page again, with the posted form's values and errors. On a conflict the form
    takes the current version, so that saving again (after reading what changed) applies."""
    ticket = core.get_ticket(db, ticket_id)
    forms = _blank_forms(request, db, ticket)
    posted = posted_form(request, form, errors, prefix=getattr(forms, which).prefix)
    conflicted = ""
    if problem is not None and _is_conflict(problem):
        conflicted = which
        posted.errors = []
        posted.values["version"] = str(ticket.version)
    setattr(forms, which, posted)
    status = 409 if conflicted else 422
    return _page(request, db, p, ticket_id, forms, conflicted, status)


def _outcome(
    request: Request,
    db: Session,
    p: Principal,
    ticket_id: int,
    which: str,
    form: PostedForm,
    problem: Problem | None,
    ok: str,
) -> Response:
    if problem is None:
        return RedirectResponse(ticket_url(ticket_id, ok, which), status_code=303)
    return _refused(request, db, p, ticket_id, which, form, problem_errors(problem), problem)


# ---- reply and note ------------------------------------------------------------------------------


@router.post(f"{BASE}/saker/{{ticket_id:int}}/svar", response_class=HTMLResponse)
def reply(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    ticket_id: int,
    form: PostedForm,
    uploads: list[Upload] = Depends(read_uploads),
) -> Response:
    public = form.get("kind", "reply") != "note"
    body = form.get("body").strip()
    errors = check_uploads(request, uploads)
    if not body and not uploads:
        errors.append(agent_error("body", "reply.empty"))
    if errors:
        return _refused(request, db, p, ticket_id, "reply", form, errors)

    def act() -> None:
        entry = None
        if body:
            entry = lifecycle.reply(db, ticket_id, ReplyIn(body=body, public=public))
            db.flush()
        for up in uploads:
            assert up.data is not None
            attachments.store(db, ticket_id, up.filename, up.data, public=public, entry=entry)

    ok = "agent_replied" if public else "agent_noted"
    return _outcome(request, db, p, ticket_id, "reply", form, _attempt(db, act), ok)


# ---- status --------------------------------------------------------------------------------------


@router.post(f"{BASE}/saker/{{ticket_id:int}}/status", response_class=HTMLResponse)
def change_status(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, form: PostedForm
) -> Response:
    data, errors = judge(Transition, form)
    if data is None:
        return _refused(request, db, p, ticket_id, "status", form, errors)
    problem = _attempt(db, lambda: lifecycle.transition(db, ticket_id, data))
    return _outcome(request, db, p, ticket_id, "status", form, problem, "agent_status")


# ---- edit ----------------------------------------------------------------------------------------


def _ci_ids(db: Session, raw: str) -> tuple[list[int], list[FieldError]]:
    keys = [k.strip() for k in raw.replace(";", ",").split(",") if k.strip()]
    if not keys:
        return [], []
    rows = db.exec(select(ConfigItem.key, ConfigItem.id).where(col(ConfigItem.key).in_(keys)))
    found = {key: ci_id for key, ci_id in rows.all() if ci_id is not None}
    unknown = [k for k in keys if k not in found]
    if unknown:
        return [], [agent_error("ci_keys", "ci_unknown", keys=", ".join(unknown))]
    return [found[k] for k in keys], []


@router.post(f"{BASE}/saker/{{ticket_id:int}}/endre", response_class=HTMLResponse)
def edit(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, form: PostedForm
) -> Response:
    ticket = core.get_ticket(db, ticket_id)
    checkboxes = ["major"] + (["known_error"] if ticket.type == TicketType.PROBLEM else [])
    data, errors = judge(TicketUpdate, form, checkboxes=checkboxes, lists=())
    ci_ids, ci_errors = _ci_ids(db, form.get("ci_keys"))
    errors += ci_errors
    if data is None or errors:
        return _refused(request, db, p, ticket_id, "edit", form, errors)
    change = data.model_copy(update={"ci_ids": ci_ids})
    problem = _attempt(db, lambda: core.update_ticket(db, ticket_id, change))
    return _outcome(request, db, p, ticket_id, "edit", form, problem, "agent_saved")


# ---- links and watchers --------------------------------------------------------------------------


@router.post(f"{BASE}/saker/{{ticket_id:int}}/lenker", response_class=HTMLResponse)
def add_link(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, form: PostedForm
) -> Response:
    target = form.get("target_id").strip().lstrip("#")
    data, errors = judge(LinkIn, form, fixed={"target_id": target or None})
    if data is None:
        return _refused(request, db, p, ticket_id, "link", form, errors)
    try:
        problem = _attempt(db, lambda: links.link(db, ticket_id, data))
    except Problem as missing:  # the target: not found or not visible
        if missing.status != 404 or data.target_id == ticket_id:
            raise
        db.rollback()
        errors = [agent_error("target_id", "link_target", id=data.target_id)]
        return _refused(request, db, p, ticket_id, "link", form, errors)
    return _outcome(request, db, p, ticket_id, "link", form, problem, "agent_linked")


@router.post(f"{BASE}/saker/{{ticket_id:int}}/observatorer", response_class=HTMLResponse)
def add_watcher(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, form: PostedForm
) -> Response:
    who = form.get("user").strip()
    if not who:
        return _refused(request, db, p, ticket_id, "watch", form, [agent_error("user", "empty")])

    def act() -> None:
        ticket = core.get_ticket(db, ticket_id)
        core.add_watcher(db, ticket, core.find_shareable_user(db, who))

    problem = _attempt(db, act)
    return _outcome(request, db, p, ticket_id, "watch", form, problem, "agent_watcher_added")


@router.post(f"{BASE}/saker/{{ticket_id:int}}/observatorer/{{user_id:int}}/fjern")
def remove_watcher(db: PageDb, p: CurrentPrincipal, ticket_id: int, user_id: int) -> Response:
    core.remove_watcher(db, core.get_ticket(db, ticket_id), user_id)
    return RedirectResponse(ticket_url(ticket_id, "agent_watcher_removed", "watch"), 303)


# ---- time entries --------------------------------------------------------------------------------


@router.post(f"{BASE}/saker/{{ticket_id:int}}/timer", response_class=HTMLResponse)
def add_time(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, form: PostedForm
) -> Response:
    data, errors = judge(TimeEntryIn, form, checkboxes=("billable",))
    if data is None:
        return _refused(request, db, p, ticket_id, "time", form, errors)
    problem = _attempt(db, lambda: timeentries.add(db, ticket_id, data))
    return _outcome(request, db, p, ticket_id, "time", form, problem, "agent_time_added")


def _time_refused(
    request: Request,
    db: Session,
    p: Principal,
    ticket_id: int,
    entry_id: int,
    form: PostedForm,
    errors: list[FieldError],
) -> HTMLResponse:
    ticket = core.get_ticket(db, ticket_id)
    forms = _blank_forms(request, db, ticket)
    forms.time_edit[entry_id] = posted_form(request, form, errors, prefix=f"time{entry_id}-")
    return _page(request, db, p, ticket_id, forms, status=422)


def _own_entry(db: Session, ticket_id: int, entry_id: int) -> None:
    """404 unless the entry is on this ticket (the id in the address must agree)."""
    if not any(e.id == entry_id for e in timeentries.of_ticket(db, ticket_id)):
        raise not_found(f"Time entry {entry_id}")


@router.post(f"{BASE}/saker/{{ticket_id:int}}/timer/{{entry_id:int}}", response_class=HTMLResponse)
def edit_time(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    ticket_id: int,
    entry_id: int,
    form: PostedForm,
) -> Response:
    _own_entry(db, ticket_id, entry_id)
    data, errors = judge(TimeEntryIn, form, checkboxes=("billable",))
    problem = None
    if data is not None:
        problem = _attempt(db, lambda: timeentries.update(db, entry_id, data))
        if problem is not None:
            errors = problem_errors(problem)
    if errors:
        return _time_refused(request, db, p, ticket_id, entry_id, form, errors)
    return RedirectResponse(ticket_url(ticket_id, "agent_time_saved", "time"), 303)


@router.post(
    f"{BASE}/saker/{{ticket_id:int}}/timer/{{entry_id:int}}/slett", response_class=HTMLResponse
)
def delete_time(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    ticket_id: int,
    entry_id: int,
    form: PostedForm,
) -> Response:
    _own_entry(db, ticket_id, entry_id)
    problem = _attempt(db, lambda: timeentries.delete(db, entry_id))
    if problem is not None:
        errors = problem_errors(problem)
        return _time_refused(request, db, p, ticket_id, entry_id, form, errors)
    return RedirectResponse(ticket_url(ticket_id, "agent_time_deleted", "time"), 303)


# ---- files ---------------------------------------------------------------------------------------


@router.get(f"{BASE}/saker/{{ticket_id:int}}/vedlegg/{{attachment_id:int}}")
def download(db: PageDb, p: CurrentPrincipal, ticket_id: int, attachment_id: int) -> Response:
    """The file as a download (never rendered by the browser), through the access layer."""
    try:
        row, data = attachments.read(db, attachment_id)
    except FileNotFoundError:
        raise not_found(f"Attachment {attachment_id}") from None
    if row.ticket_id != ticket_id:
        raise not_found(f"Attachment {attachment_id}")
    headers = {
        "Content-Disposition": content_disposition(row.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return Response(data, media_type=row.content_type, headers=headers)
