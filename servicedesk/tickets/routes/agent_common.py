"""What the agent workspace's pages share: who may use them, forms whose labels and messages
come from the workspace's catalogue fragment (``agent.json``), names of people, groups and
kommuner, and how ticket values read as text."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.problems import FieldError, Problem, forbidden
from fellesdrift.kernel.web import add_template_global, language_of
from register.access import Principal, elevated
from register.deps import CurrentPrincipal, settings_of
from register.models import ConfigItem, Kommune, User
from register.routes.common import CSRF
from register.routes.page_forms import FormState, Posted, local_time
from servicedesk.tickets.choices import PendingReason, Status, TicketType, Tlp
from servicedesk.tickets.models import Group, Ticket
from servicedesk.tickets.service import attachments
from servicedesk.tickets.service.core import is_agent

#: The workspace's own URL space.
BASE = "/arbeid"


def require_agent(p: CurrentPrincipal) -> Principal:
    """Agents and admins of the drift unit; everybody else is refused (403)."""
    if not is_agent(p):
        raise forbidden("the agent workspace is for the drift unit's agents")
    return p


def require_admin(p: CurrentPrincipal) -> Principal:
    if not p.is_admin:
        raise forbidden("only admins change assignment groups and the priority matrix")
    return p


async def close_form(request: Request) -> AsyncIterator[None]:
    """Close a multipart form's spooled files when the request is done, whatever happened
    (the CSRF check parses the form before any page sees it)."""
    try:
        yield
    finally:
        if request.headers.get("content-type", "").startswith("multipart/"):
            with contextlib.suppress(RuntimeError, ClientDisconnect):
                form = await request.form()
                await form.close()


#: Router dependencies of every workspace router: agents only, the clean-up of uploaded
#: files, then the CSRF check (which reads the form).
AGENT_DEPENDENCIES = [Depends(require_agent), Depends(close_form), *CSRF]


def safe_next(url: str, default: str = BASE) -> str:
    """A return address from a form, only if it stays inside the workspace."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith(BASE):
        return default
    return urllib.parse.urlunsplit(("", "", parts.path, parts.query, parts.fragment))


# ---- forms ---------------------------------------------------------------------------------------


#: Constant messages of the ticket services -> their text in the workspace's catalogue.
SERVICE_MESSAGES = {
    "say what the ticket waits for": "agent.msg.pending_reason",
    "choose who the ticket is assigned to": "agent.msg.assign_first",
    "describe the resolution": "agent.msg.resolution",
    "you already have a view with this name": "agent.msg.view_name_taken",
    "choose at least one change": "agent.msg.no_change",
    "a ticket cannot link to itself": "agent.msg.link_self",
    "is not a problem": "agent.msg.not_a_problem",
    "is already a duplicate of this ticket": "agent.msg.duplicate_loop",
    "mass outages are one level deep": "agent.msg.one_level",
    "a child cannot be a parent": "agent.msg.one_level",
    "tickets are assigned to drift staff": "agent.msg.assign_drift",
    "the ticket is shared; name the kommune to charge": "agent.msg.kommune_to_charge",
    "no agent of the drift unit with this user name": "agent.msg.no_agent",
    "is already a member": "agent.msg.already_member",
    "must be 1, 2, 3 or 4": "agent.msg.level",
    "may contain only a-z, 0-9, '_' and '-' and must start with a letter or digit": (
        "agent.msg.group_key"
    ),
}


@dataclass
class AgentForm(FormState):
    """A form whose labels are ``agent.field.<name>`` and whose own errors carry an
    ``agent.`` catalogue key as their ``code``."""

    def message(self, error: FieldError) -> str:
        if error.code and error.code.startswith("agent."):
            return translate(error.code, self.lang, **error.params)
        if error.message in SERVICE_MESSAGES:
            return translate(SERVICE_MESSAGES[error.message], self.lang)
        return super().message(error)

    def label(self, name: str) -> str:
        key = self.labels.get(name, f"agent.field.{name}")
        text = translate(key, self.lang)
        return name if text == key else text


def agent_form(request: Request, values: dict[str, Any] | None = None, **kw: Any) -> AgentForm:
    return AgentForm(language_of(request), dict(values or {}), **kw)


def posted_form(
    request: Request, form: Posted, errors: Iterable[FieldError], **kw: Any
) -> AgentForm:
    """A posted form again, with its values and the errors to show."""
    return AgentForm(language_of(request), form.as_values(), list(errors), **kw)


def agent_error(field_name: str, key: str, /, **params: Any) -> FieldError:
    """An error of the workspace itself: ``key`` is its text under ``agent.``."""
    return FieldError(field_name, key, code=f"agent.{key}", params=params)


def problem_errors(problem: Problem) -> list[FieldError]:
    """A refusal of the ticket services as errors a form can show."""
    if problem.errors:
        return list(problem.errors)
    if problem.code and "." in problem.code:
        # A domain's catalogue key (``billing_err.time_invoiced``...): the page fills it in
        # with the values in its own language; ``detail`` stays the English fallback.
        return [FieldError("input", problem.detail, code=problem.code, params=problem.params)]
    if problem.status == 409 and "changed by someone else" in problem.detail:
        return [agent_error("input", "conflict")]
    if problem.title == "Invalid transition":
        return [agent_error("input", "invalid_transition")]
    if problem.status == 409 and (
        " is closed;" in problem.detail or " is cancelled;" in problem.detail
    ):
        return [agent_error("input", "closed")]
    if problem.status == 409 and problem.title == "Locked":
        return [agent_error("input", "time_locked")]
    if problem.status == 403:
        return [agent_error("input", "forbidden")]
    if problem.status == 404:
        return [agent_error("input", "not_found")]
    return [FieldError("input", problem.detail)]


# ---- files ---------------------------------------------------------------------------------------

#: Files one reply may carry.
MAX_FILES = 5
FILES = "files"


@dataclass
class Upload:
    """A file from a form; ``data`` is None when it is over the limit (it is never read)."""

    filename: str
    size: int
    data: bytes | None


async def read_uploads(request: Request) -> list[Upload]:
    limit = settings_of(request).upload_max_bytes
    if not request.headers.get("content-type", "").startswith("multipart/"):
        return []
    form = await request.form()
    out = []
    for value in form.getlist(FILES):
        if not isinstance(value, UploadFile) or not value.filename:
            continue
        size = value.size or 0
        data = await value.read() if size <= limit else None
        out.append(Upload(value.filename, len(data) if data is not None else size, data))
    return out


def check_uploads(request: Request, uploads: list[Upload]) -> list[FieldError]:
    """Each file refused with the rule it breaks, before anything is stored."""
    limit = settings_of(request).upload_max_bytes
    if len(uploads) > MAX_FILES:
        return [agent_error(FILES, "upload.too_many", count=MAX_FILES)]
    errors = []
    for up in uploads:
        name = attachments.safe_filename(up.filename)
        if up.data is None:
            errors.append(agent_error(FILES, "upload.too_large", name=name, limit=limit))
            continue
        try:
            attachments._check(name, up.data, limit)
        except Problem as problem:
            key = "upload.too_large" if problem.status == 413 else "upload.refused"
            errors.append(agent_error(FILES, key, name=name, limit=limit))
    return errors


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266 / RFC 5987)."""
    safe = attachments.safe_filename(filename)
    fallback = "".join(c if c.isascii() and c not in '"\\' else "_" for c in safe)
    return (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(safe, safe='')}"
    )


# ---- names ---------------------------------------------------------------------------------------


def user_names(db: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    with elevated(db, "names"):
        rows = db.exec(select(User.id, User.full_name).where(col(User.id).in_(wanted))).all()
    return {uid: name for uid, name in rows if uid is not None}


def kommune_names(db: Session) -> dict[int, str]:
    rows = db.exec(select(Kommune.id, Kommune.name).order_by(col(Kommune.name))).all()
    return {kid: name for kid, name in rows if kid is not None}


def group_names(db: Session) -> dict[int, str]:
    rows = db.exec(select(Group.id, Group.name).order_by(col(Group.name))).all()
    return {gid: name for gid, name in rows if gid is not None}


def groups_and_kommuner(db: Session) -> tuple[dict[int, str], dict[int, str]]:
    """As :func:`group_names` and :func:`kommune_names`, in one statement (each part is an ORM
    select, so the access layer filters each table as in its own statement)."""
    part = sa.literal_column("0", sa.Integer()).label("part")
    groups = sa.select(col(Group.id), col(Group.name), part)
    kommuner = sa.select(col(Kommune.id), col(Kommune.name), sa.literal_column("1", sa.Integer()))
    both = sa.union_all(groups, kommuner)
    stmt = both.order_by(both.selected_columns.part, both.selected_columns.name)
    out: tuple[dict[int, str], dict[int, str]] = ({}, {})
    for oid, name, which in db.execute(stmt).all():
        if oid is not None:
            out[which][oid] = name
    return out


def ci_names(db: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = db.exec(select(ConfigItem.id, ConfigItem.name).where(col(ConfigItem.id).in_(wanted)))
    return {cid: name for cid, name in rows.all() if cid is not None}


class Names:
    """What the workspace's lists show by name, each read at most once per page: groups,
    kommuner, the agents (who can be assigned, and whose names the lists show), CIs, and the
    labels of the ticket choices in the page's language."""

    def __init__(self, db: Session, lang: str) -> None:
        self.db = db
        self.lang = lang
        self.users: dict[int, str] = {}
        #: The SLA's time left or overdue per ticket of the page (``for_tickets``).
        self.due: dict[int, Any] = {}

    def read_groups_and_kommuner(self) -> Names:
        """Read :attr:`groups` and :attr:`kommuner` together, in one statement (for a page
        that shows both)."""
        if "groups" not in self.__dict__ and "kommuner" not in self.__dict__:
            self.__dict__["groups"], self.__dict__["kommuner"] = groups_and_kommuner(self.db)
        return self

    @cached_property
    def groups(self) -> dict[int, str]:
        return group_names(self.db)

    @cached_property
    def kommuner(self) -> dict[int, str]:
        return kommune_names(self.db)

    @cached_property
    def agents(self) -> list[tuple[int, str]]:
        from servicedesk.tickets.service.groups import agent_names

        return agent_names(self.db)

    @cached_property
    def cis(self) -> list[tuple[int, str]]:
        rows = self.db.exec(select(ConfigItem.id, ConfigItem.name).order_by(col(ConfigItem.name)))
        return [(cid, name) for cid, name in rows.all() if cid is not None]

    @cached_property
    def labels(self) -> dict[str, dict[Any, str]]:
        """Labels of the choices a ticket row shows, translated once per page."""
        lang = self.lang

        def of(enum: str, values: Iterable[Any]) -> dict[Any, str]:
            return {v: translate(f"choice.{enum}.{v}", lang) for v in values}

        return {
            "status": of("Status", (s.value for s in Status)),
            "type": of("TicketType", (t.value for t in TicketType)),
            "tlp": of("Tlp", (t.value for t in Tlp)),
            "pending": of("PendingReason", (r.value for r in PendingReason)),
            "priority": {n: priority_label(n, lang) for n in (1, 2, 3, 4)},
        }

    def for_tickets(self, tickets: Iterable[Ticket]) -> Names:
        """Also the names of the tickets' assignees (agents, and anyone else assigned), and
        their SLA clocks' time left."""
        from servicedesk.tickets.service.clock_views import due_cells

        tickets = list(tickets)
        self.due = due_cells(self.db, (t.id for t in tickets if t.id is not None), self.lang)
        wanted = {t.assignee_id for t in tickets if t.assignee_id is not None}
        known = dict(self.agents)
        self.users |= {uid: known[uid] for uid in wanted if uid in known}
        self.users |= user_names(self.db, wanted - set(known))
        return self


# ---- values as text ------------------------------------------------------------------------------


def priority_label(value: int | None, lang: str) -> str:
    return translate(f"agent.priority.{value}", lang) if value else ""


def level_label(kind: str, value: int | None, lang: str) -> str:
    return translate(f"agent.{kind}.{value}", lang) if value else ""


def age(ticket: Ticket) -> str:
    return local_time(ticket.created_at)


add_template_global("agent_priority", priority_label)
add_template_global("agent_level", level_label)
