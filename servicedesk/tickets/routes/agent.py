"""The agent workspace ("/arbeid"): the start page with the agent's queues, queue lists with
filters, saved views and bulk update, and full-text search. The ticket page is in
``agent_ticket``, the admin pages (priority matrix, assignment groups) in ``agent_admin``.

Every page is server-rendered and works without JavaScript; ``/static/agent.js`` only adds
keyboard shortcuts (documented on the pages). ``router`` is the one the app includes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Row
from sqlmodel import Session, col, select

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.problems import FieldError, Problem
from fellesdrift.kernel.web import add_template_global, language_of, render
from register.access import Principal
from register.deps import CurrentPrincipal, PageDb
from register.routes.page_forms import PostedForm, local_time
from servicedesk.tickets.choices import PendingReason, Status, TicketType, Tlp
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.routes import agent_admin, agent_new, agent_ticket
from servicedesk.tickets.routes.agent_common import (
    AGENT_DEPENDENCIES,
    BASE,
    AgentForm,
    Names,
    agent_error,
    agent_form,
    posted_form,
    safe_next,
)
from servicedesk.tickets.service import bulk as bulk_svc
from servicedesk.tickets.service import groups as group_svc
from servicedesk.tickets.service import queues, search, views
from servicedesk.tickets.service.bulk import ASSIGN_TO_ME, BulkChange
from servicedesk.tickets.service.queues import QueueFilter

router = APIRouter(include_in_schema=False, dependencies=AGENT_DEPENDENCIES)
PANEL_SIZE = 10
_TICKET_NUMBER = re.compile(r"^#?(\d{1,9})$")


# ---- lists of tickets ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListRow:
    """A ticket as a list shows it (``ticket_table`` in ``agent/_macros.html``): its values and
    the text of each cell, looked up once here, so the table only writes them out."""

    id: int
    version: int
    title: str
    priority: int
    priority_label: str
    major: bool
    tlp: str
    #: The TLP badge's text; "" for amber, the default, which the list does not mark.
    tlp_label: str
    type_label: str
    status: str
    status_label: str
    #: What a pending ticket waits for; "" otherwise.
    pending_label: str
    kommune: str
    group: str
    assignee: str
    #: ``created_at`` for ``<time datetime>`` and as people in Norway read it.
    created_iso: str
    created_local: str
    #: The (visually hidden) label of the row's checkbox in the bulk form.
    select_label: str


#: ``queues.LIST_COLUMNS`` by name, in order: a ticket's values as a row of them has them.
_list_values = operator.attrgetter(*(c.key for c in queues.LIST_COLUMNS))


def list_rows(tickets: Iterable[Any], names: Names, lang: str) -> list[ListRow]:
    """The rows of a list of tickets (rows of ``queues.LIST_COLUMNS``, or ORM tickets); names
    come from ``names`` (its ``users`` hold the assignees: ``Names.for_tickets``)."""
    lb = names.labels
    priorities, tlps, types, statuses, pending = (
        lb["priority"],
        lb["tlp"],
        lb["type"],
        lb["status"],
        lb["pending"],
    )
    kommuner, groups, users = names.kommuner, names.groups, names.users
    shared = translate("agent.shared", lang)
    nobody = translate("agent.unassigned", lang)
    no_group = translate("agent.none", lang)
    out = []
    for t in tickets:
        # A row unpacks as a tuple; reading its values by name costs more than the table.
        values = tuple(t) if isinstance(t, Row) else _list_values(t)
        (
            ticket_id,
            version,
            priority,
            major,
            title,
            tlp,
            kind,
            status,
            reason,
            kommune_id,
            group_id,
            assignee_id,
            created_at,
        ) = values
        out.append(
            ListRow(
                id=ticket_id,
                version=version,
                title=title,
                priority=priority,
                priority_label=priorities.get(priority, ""),
                major=bool(major),
                tlp=tlp,
                tlp_label="" if tlp == "amber" else tlps.get(tlp, ""),
                type_label=types.get(kind, ""),
                status=status,
                status_label=statuses.get(status, ""),
                pending_label=pending.get(reason, "") if reason else "",
                kommune=kommuner.get(kommune_id, shared) if kommune_id else shared,
                group=groups.get(group_id, "") if group_id else no_group,
                assignee=users.get(assignee_id, "") if assignee_id else nobody,
                created_iso=created_at.isoformat(),
                created_local=local_time(created_at),
                select_label=translate("agent.list.select_ticket", lang, id=ticket_id),
            )
        )
    return out


add_template_global("agent_list_rows", list_rows)


# ---- the sidebar: the agent's queues with counts, and saved views --------------------------------


@dataclass(frozen=True)
class QueueLink:
    href: str
    #: A catalogue key, or the group's name.
    key: str | None
    label: str
    count: int

    @property
    def shown(self) -> str:
        return queues.shown_count(self.count)


@dataclass(frozen=True)
class Panel:
    #: A catalogue key (agent.queue.*) or a group's name.
    title: str
    #: Rows of ``queues.LIST_COLUMNS``.
    tickets: list[Any]
    more: bool
    href: str


def sidebar(
    request: Request,
    db: Session,
    p: Principal,
    lookup: Names,
    my_groups: list[int] | None = None,
) -> dict[str, Any]:
    """The sidebar's queues, counts and saved views; ``my_groups`` are the agent's groups if
    the page has read them already."""
    if my_groups is None:
        my_groups = group_svc.group_ids_of(db, p.user_id)
    counts = queues.queue_counts(db, my_groups)
    names = lookup.groups
    presets = [
        ("mine", "agent.queue.mine", QueueFilter(assignee="me")),
        ("unassigned", "agent.queue.unassigned", QueueFilter(assignee="none")),
        ("major", "agent.queue.major", QueueFilter(major=True)),
    ]
    links = [
        QueueLink(f"{BASE}/saker?{f.query()}", key, "", counts[name]) for name, key, f in presets
    ]
    from servicedesk.tickets.service.clock_views import at_risk_count

    links.append(QueueLink(f"{BASE}/frister?vis=naer", "sla.queue.at_risk", "", at_risk_count(db)))
    for gid in my_groups:
        f = QueueFilter(group_ids=(gid,))
        label = names.get(gid, str(gid))
        links.append(QueueLink(f"{BASE}/saker?{f.query()}", None, label, counts[f"group:{gid}"]))
    current = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "queues": links,
        "views": views.saved_view_rows(db),
        "current": current,
        "other_groups": [(gid, n) for gid, n in names.items() if gid not in my_groups],
    }


# ---- start ---------------------------------------------------------------------------------------


@router.get(BASE, response_class=HTMLResponse)
def start(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    """The agent's day: their own tickets, the unassigned ones, major incidents and the queue
    of each of their groups, the first few of each in queue order."""
    names = Names(db, language_of(request)).read_groups_and_kommuner()
    wanted: list[tuple[str, QueueFilter]] = [
        ("agent.queue.mine", QueueFilter(assignee="me")),
        ("agent.queue.unassigned", QueueFilter(assignee="none")),
        ("agent.queue.major", QueueFilter(major=True)),
    ]
    my_groups = group_svc.group_ids_of(db, p.user_id)
    for gid in my_groups:
        wanted.append((names.groups.get(gid, str(gid)), QueueFilter(group_ids=(gid,))))
    panels = []
    for title, f in wanted:
        page = queues.queue_rows(db, f, PANEL_SIZE)
        href = f"{BASE}/saker?{f.query()}"
        panels.append(Panel(title, page.tickets, page.next is not None, href))
    names.for_tickets(t for panel in panels for t in panel.tickets)
    return render(
        request,
        "agent/start.html",
        panels=panels,
        names=names,
        side=sidebar(request, db, p, names, my_groups),
    )


# ---- queue lists ---------------------------------------------------------------------------------


def _filter_options() -> dict[str, Any]:
    return {
        "statuses": [s.value for s in Status],
        "open_statuses": [s.value for s in queues.OPEN_STATUSES],
        "types": [t.value for t in TicketType],
        "tlps": [t.value for t in Tlp],
        "pending_reasons": [r.value for r in PendingReason],
    }


def _links(request: Request, f: QueueFilter, nxt: str | None, after: str | None) -> dict[str, str]:
    path = request.url.path
    base = f.pairs()
    return {
        "next_url": f"{path}?{urlencode([*base, ('after', nxt)])}" if nxt else "",
        "first_url": (f"{path}?{urlencode(base)}" if base else path) if after else "",
    }


def _queue_response(
    request: Request,
    db: Session,
    p: Principal,
    f: QueueFilter,
    after: str | None,
    *,
    bulk: AgentForm | None = None,
    view: AgentForm | None = None,
    selected: Sequence[int] = (),
) -> Response:
    page = queues.queue_rows(db, f, queues.PAGE_SIZE, after)
    names = Names(db, language_of(request)).read_groups_and_kommuner().for_tickets(page.tickets)
    has_errors = bool((bulk and bulk.errors) or (view and view.errors))
    return render(
        request,
        "agent/queue.html",
        422 if has_errors else 200,
        page=page,
        pager=_links(request, f, page.next, after),
        f=f,
        names=names,
        options=_filter_options(),
        bulk=bulk or agent_form(request, prefix="bulk-"),
        view=view or agent_form(request, {"query": f.query()}, prefix="view-"),
        selected=set(selected),
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        side=sidebar(request, db, p, names),
        has_errors=has_errors,
    )


@router.get(f"{BASE}/saker", response_class=HTMLResponse)
def queue_list(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("after", "ok")]
    f = QueueFilter.from_pairs(pairs)
    return _queue_response(request, db, p, f, request.query_params.get("after"))


def _next_filter(form: PostedForm) -> tuple[QueueFilter, str]:
    back = safe_next(form.get("next"), f"{BASE}/saker")
    query = back.split("?", 1)[1] if "?" in back else ""
    return QueueFilter.from_query(query), back


# ---- bulk update ---------------------------------------------------------------------------------


def _selection(form: PostedForm) -> list[tuple[int, int]]:
    """The checked tickets, each as (id, version the list showed)."""
    items = []
    for raw in form.getlist("ticket"):
        ticket_id, _, version = raw.partition(":")
        if ticket_id.isdigit() and version.isdigit():
            items.append((int(ticket_id), int(version)))
    return items


def _choice(raw: str, special: dict[str, int]) -> int | None:
    if raw in special:
        return special[raw]
    return int(raw) if raw.isdigit() else None


def _bulk_change(form: PostedForm) -> BulkChange:
    def level(name: str) -> int | None:
        raw = form.get(name)
        return int(raw) if raw in ("1", "2", "3", "4") else None

    status = form.get("status")
    reason = form.get("pending_reason")
    return BulkChange(
        assignee_id=_choice(form.get("assignee"), {"me": ASSIGN_TO_ME, "none": 0}),
        group_id=_choice(form.get("group"), {"none": 0}),
        impact=level("impact"),
        urgency=level("urgency"),
        status=Status(status) if status in {s.value for s in Status} else None,
        pending_reason=PendingReason(reason)
        if reason in {r.value for r in PendingReason}
        else None,
        resolution=form.get("resolution").strip()[:20000],
        comment=form.get("comment").strip()[:20000],
    )


@router.post(f"{BASE}/saker/bulk", response_class=HTMLResponse)
def bulk_update(request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm) -> Response:
    f, back = _next_filter(form)
    items = _selection(form)
    change = _bulk_change(form)
    errors: list[FieldError] = []
    if not items:
        errors.append(agent_error("ticket", "bulk.none_selected"))
    else:
        try:
            change.validate()
        except Problem as problem:
            errors = [
                e if e.field != "input" else agent_error("input", "bulk.no_change")
                for e in problem.errors
            ]
    if errors:
        bulk = posted_form(request, form, errors, prefix="bulk-")
        return _queue_response(request, db, p, f, None, bulk=bulk, selected=[i for i, _ in items])
    results = bulk_svc.bulk_update(db, items, change)
    titles = {
        t.id: t.title
        for t in db.exec(select(Ticket).where(col(Ticket.id).in_([r.ticket_id for r in results])))
    }
    return render(
        request,
        "agent/bulk_result.html",
        results=results,
        titles=titles,
        back=back,
        applied=sum(r.ok for r in results),
    )


# ---- saved views ---------------------------------------------------------------------------------


@router.post(f"{BASE}/visninger", response_class=HTMLResponse)
def save_view(request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm) -> Response:
    query = form.get("query")
    try:
        view = views.save_view(db, form.get("name"), query)
    except Problem as problem:
        if problem.status != 422:
            raise
        db.rollback()
        errors = [_view_error(e) for e in problem.errors]
        state = posted_form(request, form, errors, prefix="view-")
        return _queue_response(request, db, p, QueueFilter.from_query(query), None, view=state)
    return RedirectResponse(f"{BASE}/saker?{view.query}&ok=agent_view_saved", status_code=303)


def _view_error(error: FieldError) -> FieldError:
    if error.message == "you already have a view with this name":
        return agent_error("name", "view.name_taken")
    return error


@router.post(f"{BASE}/visninger/{{view_id:int}}/slett")
def delete_view(db: PageDb, p: CurrentPrincipal, view_id: int, form: PostedForm) -> Response:
    views.delete_view(db, view_id)
    back = safe_next(form.get("next"), f"{BASE}/saker")
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}ok=agent_view_deleted", status_code=303)


# ---- search --------------------------------------------------------------------------------------


@router.get(f"{BASE}/sok", response_class=HTMLResponse)
def search_page(
    request: Request, db: PageDb, p: CurrentPrincipal, q: str = "", after: str | None = None
) -> Response:
    number = _TICKET_NUMBER.match(q.strip())
    if number and db.get(Ticket, int(number.group(1))) is not None:
        return RedirectResponse(f"{BASE}/saker/{number.group(1)}", status_code=303)
    page = search.search(db, q, queues.PAGE_SIZE, after) if q.strip() else None
    tickets = page.tickets if page else []
    names = Names(db, language_of(request)).read_groups_and_kommuner().for_tickets(tickets)
    nxt = page.next if page else None
    path = request.url.path
    return render(
        request,
        "agent/search.html",
        q=q,
        page=page,
        names=names,
        next_url=f"{path}?{urlencode([('q', q), ('after', nxt)])}" if nxt else "",
        first_url=f"{path}?{urlencode([('q', q)])}" if after else "",
        side=sidebar(request, db, p, names),
    )


router.include_router(agent_new.router)
router.include_router(agent_ticket.router)
router.include_router(agent_admin.router)
