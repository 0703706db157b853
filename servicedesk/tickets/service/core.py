"""Creating, reading and editing tickets; the timeline; the priority matrix."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, event, insert, inspect
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, func, or_, select

from fellesdrift.kernel.problems import FieldError, Problem, conflict, forbidden, invalid, not_found
from fellesdrift.kernel.settings import Settings
from fellesdrift.kernel.types import utcnow
from register.access import ACCESS_CHECKED, Principal, check_write, elevated, principal_of
from register.choices import Role
from register.models import ConfigItem, Kommune, User
from register.service import get_visible
from servicedesk.tickets.choices import (
    DEFAULT_PRIORITY_MATRIX,
    DESK_TYPES,
    OWN_PAGES,
    EntryKind,
    Status,
    TicketType,
    Tlp,
)
from servicedesk.tickets.models import (
    CatalogueItem,
    Group,
    PriorityRule,
    Ticket,
    TicketCI,
    TicketEntry,
    TicketWatcher,
)
from servicedesk.tickets.schemas import TicketCreate, TicketUpdate

#: Fields whose changes are shown on the timeline, in this order.
TRACKED = (
    "title", "description", "impact", "urgency", "priority", "tlp", "category", "major",
    "kommune_id", "assignment_group_id", "assignee_id", "root_cause", "workaround",
    "known_error",
)  # fmt: skip


def settings_of(session: Session) -> Settings:
    """The settings the session was opened with (policy values); defaults if none."""
    settings = session.info.get("settings")
    if settings is None:
        settings = Settings(demo_mode=True, secret_key="x" * 40)  # type: ignore[arg-type]
        session.info["settings"] = settings
    return settings


#: The matrix's priority for a new ticket, worked out inside its INSERT: the configured rule,
#: else the default (parameters ``p_impact``, ``p_urgency``, ``p_default``).
_MATRIX_PRIORITY = func.coalesce(
    select(PriorityRule.priority)
    .where(
        PriorityRule.impact == bindparam("p_impact"),
        PriorityRule.urgency == bindparam("p_urgency"),
    )
    .scalar_subquery(),
    bindparam("p_default"),
)
#: One statement object for every new ticket, so SQLAlchemy keys and compiles it once.
_INSERT_TICKET = insert(Ticket).values(priority=_MATRIX_PRIORITY).returning(Ticket)
_TICKET_COLUMNS = [
    c.key
    for c in Ticket.__table__.columns  # type: ignore[attr-defined]
    if c.key not in ("id", "priority")
]


def priority_for(session: Session, impact: int, urgency: int) -> int:
    rule = session.exec(
        select(PriorityRule.priority).where(
            PriorityRule.impact == impact, PriorityRule.urgency == urgency
        )
    ).first()
    return rule if rule is not None else DEFAULT_PRIORITY_MATRIX[(impact, urgency)]


def get_ticket(session: Session, ticket_id: int, lock: bool = False) -> Ticket:
    """The ticket if the principal may see it, else 404. With ``lock`` the row is locked
    (``SELECT ... FOR UPDATE``) and read afresh, for a change: concurrent writers then queue
    up, so two replies are both kept and a stale ``version`` is a clear 409, never a lost
    update."""
    if not lock:
        return get_visible(session, Ticket, ticket_id)
    ticket = session.get(Ticket, ticket_id, with_for_update=True, populate_existing=True)
    if ticket is None:
        raise not_found(f"Ticket {ticket_id}")
    return ticket


def is_agent(p: Principal) -> bool:
    return p.is_admin or (p.is_drift and Role.AGENT in p.roles)


def add_entry(
    session: Session,
    ticket: Ticket,
    kind: EntryKind,
    body: str = "",
    public: bool = True,
    change: dict[str, Any] | None = None,
    author_id: int | None = None,
) -> TicketEntry:
    """Append to the timeline; the author is the acting user unless named (e.g. an agent's
    reply copied to the children of a mass outage by the system)."""
    entry = TicketEntry(
        ticket_id=ticket.id,  # type: ignore[arg-type]
        kind=kind.value,
        public=public,
        author_id=author_id if author_id is not None else principal_of(session).user_id,
        body=body,
        change=change or {},
    )
    session.add(entry)
    return entry


def touch(session: Session, ticket: Ticket, **values: Any) -> None:
    """Bookkeeping on a ticket that is no edit of it (last activity, first response): written
    past the mapper, so ``version`` does not move and an editor's version stays current. The
    caller holds the row lock (``get_ticket(..., lock=True)``)."""
    session.flush()  # the caller's own changes, checked as the caller
    table = Ticket.__table__  # type: ignore[attr-defined]
    with elevated(session, "touch"):
        session.execute(table.update().where(table.c.id == ticket.id).values(**values))
    for name, value in values.items():
        set_committed_value(ticket, name, value)


def requester_for(session: Session, p: Principal, data: TicketCreate) -> User:
    """Who the ticket is for: oneself, or (agents and kommune contacts) a named colleague."""
    if data.requester_id is None or data.requester_id == p.user_id:
        if p.user_id is None:
            raise invalid(FieldError("requester_id", "a system ticket needs a requester"))
        with elevated(session, "requester"):
            me = session.get(User, p.user_id)
        assert me is not None
        return me
    if not (is_agent(p) or p.has(Role.KOMMUNE_CONTACT)):
        raise forbidden("only agents and kommune contacts file tickets for others")
    return get_visible(session, User, data.requester_id)


def _requester_ids(session: Session, p: Principal, data: TicketCreate) -> tuple[int, int | None]:
    """The requester's id and kommune; for oneself both are the principal's (no read)."""
    if p.user_id is not None and data.requester_id in (None, p.user_id):
        return p.user_id, p.kommune_id
    requester = requester_for(session, p, data)
    assert requester.id is not None
    return requester.id, requester.kommune_id


def _kommune_for(
    session: Session, p: Principal, data: TicketCreate, requester_kommune: int | None
) -> int | None:
    kommune_id = data.kommune_id if data.kommune_id is not None else requester_kommune
    if kommune_id is None:
        if data.type == TicketType.PROBLEM or is_agent(p):
            return None
        raise invalid(FieldError("kommune_id", "a ticket belongs to a kommune"))
    if kommune_id == p.kommune_id:  # one's own: visible, and the principal knows its end
        valid_to = p.kommune_valid_to
    else:
        valid_to = get_visible(session, Kommune, kommune_id).valid_to
    if valid_to is not None and valid_to < utcnow().date():
        raise invalid(
            FieldError("kommune_id", "the kommune has ended; use its successor", kommune_id)
        )
    return kommune_id


def create_ticket(
    session: Session, data: TicketCreate, *, item: CatalogueItem | None = None
) -> Ticket:
    """File a ticket that is no order of a catalogue item (``catalogue.file_ticket`` files
    either kind; it names the ordered ``item`` here for the SLA)."""
    if data.catalogue_item_id is not None:
        raise ValueError("an order of a catalogue item is filed by catalogue.file_ticket")
    p = principal_of(session)
    if data.type == TicketType.PROBLEM and not is_agent(p):
        raise forbidden("problems are recorded by the drift unit")
    if not is_agent(p) and (data.major or data.assignment_group_id is not None):
        raise forbidden("only the drift unit sets major incidents and assignment")
    requester_id, requester_kommune = _requester_ids(session, p, data)
    ticket = Ticket(
        type=data.type.value,
        kommune_id=_kommune_for(session, p, data, requester_kommune),
        requester_id=requester_id,
        created_by_id=p.user_id,
        title=data.title,
        description=data.description,
        impact=data.impact,
        urgency=data.urgency,
        priority=DEFAULT_PRIORITY_MATRIX[(data.impact, data.urgency)],  # unless configured
        major=data.major,
        tlp=data.tlp.value,
        category=data.category,
        form_data=data.form_data,
        status=Status.NEW.value,
    )
    if data.assignment_group_id is not None:
        get_visible(session, Group, data.assignment_group_id)
        ticket.assignment_group_id = data.assignment_group_id
    if data.parent_id is not None:
        parent = get_ticket(session, data.parent_id)
        if parent.parent_id is not None:
            raise invalid(FieldError("parent_id", "a child cannot be a parent", data.parent_id))
        ticket.parent_id = parent.id
    ticket = _insert(session, ticket)
    if data.ci_ids:  # a new ticket has none yet: no need to read them
        set_cis(session, ticket, data.ci_ids)
    from servicedesk.tickets.service import clocks

    clocks.start_clocks(session, ticket, data.ci_ids, item)
    watchers = {add_watcher(session, ticket, user_id).user_id for user_id in data.watcher_ids}
    add_entry(session, ticket, EntryKind.SYSTEM, change={"event": "created"})
    from servicedesk.tickets.service import notify

    notify.ticket_created(session, ticket, watchers)
    return ticket


def _insert(session: Session, ticket: Ticket) -> Ticket:
    """Store a new ticket by one INSERT that works out its priority from the matrix and
    returns the stored row (a flush would read the priority back by a second SELECT). The
    access rule a flush applies is applied here first."""
    check_write(session, ticket, "create")
    params = {key: getattr(ticket, key) for key in _TICKET_COLUMNS}
    params |= {"p_impact": ticket.impact, "p_urgency": ticket.urgency, "p_default": ticket.priority}
    return session.scalars(_INSERT_TICKET, [params], execution_options={ACCESS_CHECKED: True}).one()


def set_cis(session: Session, ticket: Ticket, ci_ids: list[int]) -> list[str]:
    """Make the ticket's affected CIs exactly ``ci_ids``; returns the keys added/removed."""
    wanted = {get_visible(session, ConfigItem, ci_id).id for ci_id in dict.fromkeys(ci_ids)}
    current = {
        row.ci_id: row
        for row in session.exec(select(TicketCI).where(TicketCI.ticket_id == ticket.id))
    }
    for ci_id in wanted - set(current):
        session.add(TicketCI(ticket_id=ticket.id, ci_id=ci_id))  # type: ignore[arg-type]
    for ci_id in set(current) - wanted:
        session.delete(current[ci_id])
    return sorted(str(c) for c in wanted ^ set(current))


_NEW_LINKS = "tickets.new_links"


@event.listens_for(Session, "transient_to_pending")
def _remember_new_link(session: Session, obj: Any) -> None:
    """Keep the CI and watcher rows a session adds (the identity map holds rows only weakly),
    so a response about a ticket made in this session needs no read-back."""
    if isinstance(obj, (TicketCI, TicketWatcher)):
        session.info.setdefault(_NEW_LINKS, []).append(obj)


def links_added(session: Session, ticket_id: int | None) -> tuple[list[int], list[int]]:
    """Affected CIs and watchers this session added to ``ticket_id`` and did not delete: all
    a ticket created in this session has."""
    rows = [
        r
        for r in session.info.get(_NEW_LINKS, [])
        if r.ticket_id == ticket_id and not inspect(r).deleted and not inspect(r).was_deleted
    ]
    cis = {r.ci_id for r in rows if isinstance(r, TicketCI)}
    watchers = {r.user_id for r in rows if isinstance(r, TicketWatcher)}
    return sorted(cis), sorted(watchers)


def ci_ids_of(session: Session, ticket_id: int) -> list[int]:
    return list(session.exec(select(TicketCI.ci_id).where(TicketCI.ticket_id == ticket_id)).all())


def add_watcher(session: Session, ticket: Ticket, user_id: int) -> TicketWatcher:
    p = principal_of(session)
    if not (is_agent(p) or ticket.requester_id == p.user_id or p.has(Role.KOMMUNE_CONTACT)):
        raise forbidden("only the requester, their kommune contact or an agent shares a ticket")
    user = _any_user(session, user_id)
    if not (is_agent(p) or _may_share_with(p, user)):
        raise invalid(FieldError("user_id", "no active user with this id", user_id))
    existing = session.exec(
        select(TicketWatcher).where(
            TicketWatcher.ticket_id == ticket.id, TicketWatcher.user_id == user.id
        )
    ).first()
    if existing is not None:
        return existing
    row = TicketWatcher(ticket_id=ticket.id, user_id=user.id)  # type: ignore[arg-type]
    session.add(row)
    return row


def _may_share_with(p: Principal, user: User) -> bool:
    """An employee shares with a colleague of their own kommune or with someone of the drift
    unit (under TLP:RED, the way to name the agent who helps them)."""
    return user.kommune_id is None or user.kommune_id in p.kommuner


def find_shareable_user(session: Session, who: str) -> int:
    """The id of the person named by user name or e-mail whom the principal may share a ticket
    with. Employees cannot list people, so the lookup is the system's; anyone they may not
    share with is "not found", whether they exist or not."""
    p = principal_of(session)
    wanted = who.strip().lower()
    with elevated(session, "directory"):
        user = session.exec(
            select(User).where(
                or_(func.lower(User.username) == wanted, func.lower(User.email) == wanted),
                col(User.active).is_(True),
            )
        ).first()
    if user is None or user.id is None or not (is_agent(p) or _may_share_with(p, user)):
        raise invalid(FieldError("user", "no colleague with this user name or e-mail", who))
    return user.id


def remove_watcher(session: Session, ticket: Ticket, user_id: int) -> None:
    """Stop sharing ``ticket`` with ``user_id``: those who may share it may unshare it, and
    anyone may stop following a ticket themselves."""
    p = principal_of(session)
    own_side = ticket.requester_id == p.user_id or (
        p.has(Role.KOMMUNE_CONTACT) and ticket.kommune_id in p.kommuner
    )
    if not (is_agent(p) or own_side or user_id == p.user_id):
        raise forbidden("only the requester, their kommune contact or an agent unshares a ticket")
    row = session.exec(
        select(TicketWatcher).where(
            TicketWatcher.ticket_id == ticket.id, TicketWatcher.user_id == user_id
        )
    ).first()
    if row is None:
        raise not_found(f"Watcher {user_id} of ticket {ticket.id}")
    # The table's write rule lets only agents delete; the check above is the finer rule.
    with elevated(session, "unshare"):
        session.delete(row)


def _any_user(session: Session, user_id: int) -> User:
    with elevated(session, "directory"):
        user = session.get(User, user_id)
    if user is None or not user.active:
        raise invalid(FieldError("user_id", "no active user with this id", user_id))
    return user


def watchers_of(session: Session, ticket_id: int) -> list[int]:
    return list(
        session.exec(
            select(TicketWatcher.user_id).where(TicketWatcher.ticket_id == ticket_id)
        ).all()
    )


def check_version(ticket: Ticket, version: int) -> None:
    if ticket.version != version:
        raise conflict(
            f"ticket {ticket.id} was changed by someone else (version {ticket.version}, "
            f"you edited version {version}); reload it, your text is kept in the form"
        )


def check_desk_ticket(ticket: Ticket) -> None:
    """Refuse to move or edit a record of another type (a change) through the ticket services:
    its own package moves it, by its own rules (approvals, CAB)."""
    if ticket.type not in DESK_TYPES:
        raise Problem(
            409,
            "Not a service-desk ticket",
            f"{ticket.id} is a {ticket.type}; it is moved and edited on its own page, "
            f"{OWN_PAGES.get(ticket.type, '').format(id=ticket.id)}",
        )


def update_ticket(session: Session, ticket_id: int, data: TicketUpdate) -> Ticket:
    p = principal_of(session)
    if not is_agent(p):
        raise forbidden("only the drift unit edits tickets")
    ticket = get_ticket(session, ticket_id, lock=True)
    check_desk_ticket(ticket)
    check_version(ticket, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "ci_ids"})
    _validate_refs(session, changes)
    if "tlp" in changes and changes["tlp"] is not None:
        changes["tlp"] = Tlp(changes["tlp"]).value
    if "impact" in changes or "urgency" in changes:
        impact = changes.get("impact") or ticket.impact
        urgency = changes.get("urgency") or ticket.urgency
        changes["priority"] = priority_for(session, impact, urgency)
    if changes.get("assignee_id") and ticket.status == Status.NEW:
        changes["status"] = Status.ASSIGNED.value
    elif (
        "assignee_id" in changes and not changes["assignee_id"] and ticket.status == Status.ASSIGNED
    ):
        changes["status"] = Status.NEW.value  # assigned to nobody is new again
    before = (ticket.status, ticket.priority)
    changed = _apply(session, ticket, changes)
    if data.ci_ids is not None and set_cis(session, ticket, data.ci_ids):
        add_entry(session, ticket, EntryKind.FIELD, change={"field": "ci_ids", "new": data.ci_ids})
        changed = True
    if changed:
        ticket.updated_at = utcnow()
    # Last, once the ticket row holds every change: reading the clocks flushes it, and a
    # change after that flush would write the row (and step its version) a second time.
    _sla_after_edit(session, ticket, *before)
    if changed:
        from servicedesk.tickets.service import notify

        notify.ticket_changed(session, ticket, changes)
    return ticket


def _sla_after_edit(session: Session, ticket: Ticket, old_status: str, old_priority: int) -> None:
    """An edit that assigns (new -> assigned) or changes the priority moves the SLA clocks."""
    if (ticket.status, ticket.priority) == (old_status, old_priority):
        return
    from servicedesk.tickets.service import clocks

    now = utcnow()
    if ticket.priority != old_priority:
        clocks.on_priority(session, ticket, now)
    if ticket.status != old_status:
        clocks.on_status(session, ticket, old_status, now, by_agent=True)


def _validate_refs(session: Session, changes: dict[str, Any]) -> None:
    if changes.get("assignee_id") is not None:
        user = _any_user(session, changes["assignee_id"])
        if user.kommune_id is not None:
            raise invalid(FieldError("assignee_id", "tickets are assigned to drift staff", user.id))
    if changes.get("assignment_group_id") is not None:
        get_visible(session, Group, changes["assignment_group_id"])
    if changes.get("kommune_id") is not None:
        get_visible(session, Kommune, changes["kommune_id"])


def _apply(session: Session, ticket: Ticket, changes: dict[str, Any]) -> bool:
    changed = False
    for name in (*TRACKED, "status"):
        if name not in changes:
            continue
        old, new = getattr(ticket, name), changes[name]
        if old == new:
            continue
        setattr(ticket, name, new)
        kind = EntryKind.STATUS if name == "status" else EntryKind.FIELD
        add_entry(session, ticket, kind, change={"field": name, "old": old, "new": new})
        changed = True
    return changed


def timeline(session: Session, ticket_id: int) -> list[TicketEntry]:
    """The ticket's entries, oldest first, as far as the principal may see them."""
    return list(
        session.exec(
            select(TicketEntry)
            .where(TicketEntry.ticket_id == ticket_id)
            .order_by(col(TicketEntry.id))
        ).all()
    )


def raise_if_closed(ticket: Ticket) -> None:
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise Problem(409, "Conflict", f"ticket {ticket.id} is {ticket.status}; open a new one")
