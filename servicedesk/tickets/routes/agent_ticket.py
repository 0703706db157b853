"""The agent's ticket page ("/arbeid/saker/{id}"): the full timeline, the reply and internal
note form, status changes with their required fields, the edit form, links, watchers and time
entries. Every form posts to its own address and comes back to the page: with a confirmation
on success, or with the agent's input and the reason on refusal. A change someone else made
meanwhile (optimistic locking) is a conflict message above the form, which keeps the text."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.problems import FieldError, Problem, conflict, not_found
from fellesdrift.kernel.web import language_of, render
from register.access import Principal
from register.deps import CurrentPrincipal, PageDb
from register.models import ConfigItem
from register.routes.page_forms import Posted, PostedForm, judge
from servicedesk.tickets.choices import (
    DESK_TYPES,
    OWN_PAGES,
    LinkKind,
    PendingReason,
    Status,
    TicketType,
    Tlp,
    WorkType,
)
from servicedesk.tickets.models import CatalogueItem, Ticket, TicketCI, TicketWatcher
from servicedesk.tickets.routes import agent_timeline
from servicedesk.tickets.routes.agent_common import (
    BASE,
    AgentForm,
    Names,
    Upload,
    agent_error,
    agent_form,
    check_uploads,
    content_disposition,
    level_label,
    posted_form,
    problem_errors,
    read_uploads,
    user_names,
)
from servicedesk.tickets.schemas import (
    LinkIn,
    ReplyIn,
    TicketUpdate,
    TimeEntryIn,
    Transition,
)
from servicedesk.tickets.service import (
    attachments,
    catalogue,
    core,
    lifecycle,
    links,
    timeentries,
)
from servicedesk.tickets.service.clock_views import ticket_clocks

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


def _blank_forms(request: Request, ticket: Ticket, ci_keys: str) -> Forms:
    def form(prefix: str, values: dict[str, Any] | None = None) -> AgentForm:
        return agent_form(request, values, prefix=prefix)

    edit = {name: getattr(ticket, name) for name in EDIT_FIELDS}
    today = date.today().isoformat()
    return Forms(
        reply=form("reply-"),
        status=form("status-", {"version": ticket.version}),
        edit=form("edit-", edit | {"ci_keys": ci_keys, "version": ticket.version}),
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


def _watchers_and_cis(db: Session, ticket_id: int) -> tuple[list[int], list[int]]:
    """As ``core.watchers_of`` and ``core.ci_ids_of``, in one statement (each part is an ORM
    select, so the access layer filters each table as in its own statement)."""
    watchers = sa.select(
        col(TicketWatcher.user_id), sa.literal_column("0", sa.Integer()).label("part")
    )
    cis = sa.select(col(TicketCI.ci_id), sa.literal_column("1", sa.Integer()))
    stmt = sa.union_all(
        watchers.where(col(TicketWatcher.ticket_id) == ticket_id),
        cis.where(col(TicketCI.ticket_id) == ticket_id),
    )
    out: tuple[list[int], list[int]] = ([], [])
    for oid, which in db.execute(stmt).all():
        out[which].append(oid)
    return out


def _config_items(
    db: Session, ids: Iterable[int]
) -> tuple[dict[int, tuple[str, str]], list[tuple[int, str]]]:
    """In one read: key and name of the CIs with these ids that the principal may see, by id
    (in id order), and the systems the picker offers, by name (retired ones left out)."""
    wanted = sorted(set(ids))
    live = col(ConfigItem.lifecycle) != "retired"
    stmt = (
        select(ConfigItem.id, ConfigItem.key, ConfigItem.name, live.label("live"))
        .where(or_(live, col(ConfigItem.id).in_(wanted)) if wanted else live)
        .order_by(col(ConfigItem.name))
    )
    rows = [row for row in db.exec(stmt).all() if row[0] is not None]
    found = {cid: (key, name) for cid, key, name, _live in rows}
    choices = [(cid, f"{name} ({key})") for cid, key, name, is_live in rows if is_live]
    return {cid: found[cid] for cid in wanted if cid in found}, choices


#: What the links block shows of a linked ticket, and how it is linked to this one.
_LINKED = (
    col(Ticket.id),
    col(Ticket.title),
    col(Ticket.status),
    col(Ticket.parent_id),
    col(Ticket.duplicate_of_id),
    col(Ticket.problem_id),
)


def _links_block(db: Session, ticket: Ticket) -> dict[str, Any]:
    """The tickets this one links to and those linking to it, in one statement (as rows:
    id, title, status), each as far as the principal may see it."""
    tid = ticket.id
    assert tid is not None
    problem = ticket.type == TicketType.PROBLEM
    targets = sorted(
        {t for t in (ticket.parent_id, ticket.problem_id, ticket.duplicate_of_id) if t}
    )
    linked = [col(Ticket.parent_id) == tid, col(Ticket.duplicate_of_id) == tid]
    if problem:
        linked.append(col(Ticket.problem_id) == tid)
    if targets:
        linked.append(col(Ticket.id).in_(targets))
    stmt = sa.select(*_LINKED).where(sa.or_(*linked)).order_by(col(Ticket.id))
    rows: list[Any] = list(db.execute(stmt).all())
    by_id = {r.id: r for r in rows}

    def target(ref: int | None) -> Any:
        return by_id.get(ref) if ref else None

    return {
        "parent": target(ticket.parent_id),
        "problem": target(ticket.problem_id),
        "duplicate_of": target(ticket.duplicate_of_id),
        "children": [r for r in rows if r.parent_id == tid],
        "incidents": [r for r in rows if r.problem_id == tid] if problem else [],
        "duplicates": [r for r in rows if r.duplicate_of_id == tid],
    }


def _page(
    request: Request,
    db: Session,
    p: Principal,
    ticket_id: int,
    posted: dict[str, AgentForm] | None = None,
    conflicted: str = "",
    status: int = 200,
    time_posted: dict[int, AgentForm] | None = None,
    marked: dict[str, list[FieldError]] | None = None,
) -> HTMLResponse:
    """The page; ``posted`` are forms (by name) shown with the agent's input instead of
    blank, ``time_posted`` time entry forms (by entry id), ``marked`` errors shown on another
    form than the one posted (by name). Each name the page shows is read once, all of a kind
    in one statement."""
    ticket = core.get_ticket(db, ticket_id)
    lang = language_of(request)
    names = Names(db, lang).read_groups_and_kommuner()
    loaded = agent_timeline.load(db, ticket_id)
    watcher_ids, ci_ids = _watchers_and_cis(db, ticket_id)
    time = _time_block(db, ticket)
    people = user_names(
        db,
        [
            ticket.requester_id,
            ticket.assignee_id,
            *watcher_ids,
            *(e.user_id for e in time["entries"]),
            *loaded.users,
        ],
    )
    config_items, systems = _config_items(db, [*ci_ids, *loaded.cis])
    ci_name = {cid: name for cid, (_key, name) in config_items.items()}
    items = agent_timeline.items(loaded, lang, people, names.groups, names.kommuner, ci_name)
    current = {cid: config_items[cid] for cid in sorted(set(ci_ids)) if cid in config_items}
    ci_keys = ", ".join(sorted(key for key, _name in current.values()))
    forms = _blank_forms(request, ticket, ci_keys)
    for which, form in (posted or {}).items():
        setattr(forms, which, form)
    for which, errors in (marked or {}).items():
        getattr(forms, which).errors.extend(errors)
    forms.time_edit.update(time_posted or {})
    for entry in time["entries"]:
        forms.time_edit.setdefault(
            entry.id,
            agent_form(
                request, {n: getattr(entry, n) for n in TIME_FIELDS}, prefix=f"time{entry.id}-"
            ),
        )
    allowed = lifecycle.allowed_transitions(p, ticket)
    item = db.get(CatalogueItem, ticket.catalogue_item_id) if ticket.catalogue_item_id else None
    return render(
        request,
        "agent/ticket.html",
        status,
        ticket=ticket,
        items=items,
        files=loaded.files,
        forms=forms,
        conflicted=conflicted,
        transitions=[s.value for s in Status if s in allowed],
        watchers=[(uid, people.get(uid, f"#{uid}")) for uid in watcher_ids],
        people=people,
        groups=names.groups,
        kommuner=names.kommuner,
        agents=names.agents,
        cis={cid: name for cid, (_key, name) in current.items()},
        links=_links_block(db, ticket),
        time=time,
        order=item,
        systems=systems,
        ci_chosen=sorted(current),
        answers=catalogue.answers(item, ticket.form_data, lang),
        clocks=ticket_clocks(db, ticket_id, lang),
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
    ticket = core.get_ticket(db, ticket_id)
    if ticket.type not in DESK_TYPES and ticket.type in OWN_PAGES:
        return RedirectResponse(OWN_PAGES[ticket.type].format(id=ticket.id), status_code=303)
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
    posted = posted_form(request, form, errors, prefix=f"{which}-")
    conflicted = ""
    if problem is not None and _is_conflict(problem):
        conflicted = which
        posted.errors = []
        posted.values["version"] = str(core.get_ticket(db, ticket_id).version)
    status = 409 if conflicted else 422
    return _page(request, db, p, ticket_id, {which: posted}, conflicted, status)


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
    assignee = [e for e in problem.errors if e.field == "assignee_id"] if problem else []
    if assignee:
        # The status form has no assignee: the edit form's field is marked, where it is chosen.
        errors = [FieldError("input", e.message, code=e.code) for e in assignee]
        posted = posted_form(request, form, errors, prefix="status-")
        marked = {"edit": assignee}
        return _page(request, db, p, ticket_id, {"status": posted}, status=422, marked=marked)
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


def _picked_cis(raw: list[str]) -> tuple[list[int], list[FieldError]]:
    """Ids from the system picker; the service checks that each is a system one may see."""
    chosen = [r.strip() for r in raw if r.strip()]
    if not all(r.isdigit() for r in chosen):
        return [], [agent_error("ci_ids", "ci_unknown", keys=", ".join(chosen))]
    return list(dict.fromkeys(int(r) for r in chosen)), []


@router.post(f"{BASE}/saker/{{ticket_id:int}}/endre", response_class=HTMLResponse)
def edit(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, form: PostedForm
) -> Response:
    ticket = core.get_ticket(db, ticket_id)
    checkboxes = ["major"] + (["known_error"] if ticket.type == TicketType.PROBLEM else [])
    # The picker's systems are read below (ids as chosen), not as the schema's list.
    fields = Posted({k: form.getlist(k) for k in form.as_values() if k != "ci_ids"})
    data, errors = judge(TicketUpdate, fields, checkboxes=checkboxes, lists=())
    if "ci_picker" in form:  # the picker: the chosen systems' ids (none chosen: none)
        ci_ids, ci_errors = _picked_cis(form.getlist("ci_ids"))
    else:
        ci_ids, ci_errors = _ci_ids(db, form.get("ci_keys"))
    errors += ci_errors
    if data is None or errors:
        return _refused(request, db, p, ticket_id, "edit", form, errors)
    change = data.model_copy(update={"ci_ids": ci_ids})
    problem = _attempt(db, lambda: core.update_ticket(db, ticket_id, change))
    return _outcome(request, db, p, ticket_id, "edit", form, problem, "agent_saved")


@router.post(f"{BASE}/saker/{{ticket_id:int}}/ta-saken", response_class=HTMLResponse)
def take(
    request: Request, db: PageDb, p: CurrentPrincipal, ticket_id: int, form: PostedForm
) -> Response:
    """Assign to me: the acting agent becomes the assignee (a new ticket becomes Assigned)."""
    data, errors = judge(TicketUpdate, form, fixed={"assignee_id": p.user_id})
    if data is None:
        return _refused(request, db, p, ticket_id, "edit", form, errors)
    problem = _attempt(db, lambda: core.update_ticket(db, ticket_id, data))
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
    posted = posted_form(request, form, errors, prefix=f"time{entry_id}-")
    return _page(request, db, p, ticket_id, status=422, time_posted={entry_id: posted})


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
