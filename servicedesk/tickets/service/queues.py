"""The agent workspace's queues: filters, pages in priority order and counts. Saved views are
in :mod:`.views`, bulk updates in :mod:`.bulk`.

**Order and paging.** A queue lists tickets by priority (P1 first) and then by age, oldest
first. Age is the ticket id: ids are handed out in the order tickets arrive, and unlike
``created_at`` the id is in every queue index and is unique, so (priority, id) is a total
order and a stable keyset: a page continues after the last (priority, id) shown, whatever was
added or changed meanwhile, and never repeats or skips a ticket that kept its place.

**Speed at a million tickets (PostgreSQL).** A queue is "these statuses, this group (or
assignee, or kommune), ordered by (priority, id)". An index on (group, status, priority, id)
returns one *status* in that order, but not several statuses merged: with ``status IN (...)``
PostgreSQL would fetch every open ticket of the group and sort them. So the query is one branch
per status (and per group, assignee or kommune asked for), each an ordered index range with its
own LIMIT, combined with UNION ALL under an ORDER BY ... LIMIT that PostgreSQL executes as a
merge: a page of 50 reads about 50 index entries per branch whatever the queue's size. The
"driver" column is chosen in this order: assignee, group, kommune, none; every other filter is
checked on the rows the branch walks. Unassigned and major-incident queues have partial
indexes (``assignee_id IS NULL`` gives no index order; major incidents are rare). SQLite, the
small embedded default, gets the plain query.

**Counts** in the sidebar are exact up to :data:`COUNT_CAP` and shown as "999+" above it:
counting a queue means visiting each of its tickets (the TLP:RED rule is checked per row), and a
sidebar that visits 40,000 open tickets on every page view would cost more than the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from sqlmodel import Session, col, select

from fellesdrift.kernel.pagination import decode_cursor, encode_cursor
from fellesdrift.kernel.problems import FieldError, invalid
from register.access import Principal, elevated, principal_of
from register.models import ConfigItem
from servicedesk.tickets.choices import Status, TicketType, Tlp
from servicedesk.tickets.models import Ticket, TicketCI, desk_ticket
from servicedesk.tickets.service import search

#: Open statuses in workflow order: the default of every queue.
OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING)
COUNT_CAP = 99
#: More branches than this and planning would cost more than the merge saves.
MAX_BRANCHES = 40
#: A CI with at most this many tickets (all statuses) drives its queue: its tickets are
#: fetched by id and sorted. Busier CIs are found by walking the queue in order.
CI_DRIVE_LIMIT = 5000
PAGE_SIZE = 50

_ticket_ci = TicketCI.__table__.c  # type: ignore[attr-defined]

#: What the workspace's lists of tickets show (see :func:`queue_rows`). They are the entity's
#: columns, so the access layer's criteria (tenant, TLP:RED) apply as to ``select(Ticket)``.
LIST_COLUMNS: tuple[Any, ...] = (
    col(Ticket.id),
    col(Ticket.version),
    col(Ticket.priority),
    col(Ticket.major),
    col(Ticket.title),
    col(Ticket.tlp),
    col(Ticket.type),
    col(Ticket.status),
    col(Ticket.pending_reason),
    col(Ticket.kommune_id),
    col(Ticket.assignment_group_id),
    col(Ticket.assignee_id),
    col(Ticket.created_at),
)


def _ints(values: Iterable[str]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(v) for v in values if v.strip().isdigit()))


def _choices(values: Iterable[str], allowed: Iterable[str]) -> tuple[str, ...]:
    ok = set(allowed)
    return tuple(dict.fromkeys(v for v in values if v in ok))


@dataclass(frozen=True)
class QueueFilter:
    """What a queue shows; read from and written to a query string (saved views store that).

    ``assignee`` is ``""`` (anyone), ``"me"``, ``"none"`` (unassigned) or a user id. Values
    that are not valid choices are dropped, so an old bookmark still opens."""

    statuses: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    types: tuple[str, ...] = ()
    tlps: tuple[str, ...] = ()
    kommune_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()
    assignee: str = ""
    ci_id: int | None = None
    #: A CI named by its key in the systems register (what people type), instead of its id.
    ci_key: str = ""
    major: bool = False
    text: str = ""

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> QueueFilter:
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value.strip())

        def get(key: str) -> list[str]:
            return values.get(key, [])

        assignee = (get("assignee") or [""])[-1]
        if assignee not in ("", "me", "none") and not assignee.isdigit():
            assignee = ""
        ci = _ints(get("ci"))
        ci_key = "" if ci else (get("ci") or [""])[-1][:80]
        return cls(
            statuses=_choices(get("status"), (s.value for s in Status)),
            priorities=tuple(p for p in _ints(get("priority")) if 1 <= p <= 4),
            types=_choices(get("type"), (t.value for t in TicketType)),
            tlps=_choices(get("tlp"), (t.value for t in Tlp)),
            kommune_ids=_ints(get("kommune")),
            group_ids=_ints(get("group")),
            assignee=assignee,
            ci_id=ci[0] if ci else None,
            ci_key=ci_key,
            major=(get("major") or [""])[-1] in ("1", "on", "true"),
            text=" ".join((get("q") or [""])[-1].split())[: search.MAX_QUERY_CHARS],
        )

    @classmethod
    def from_query(cls, query: str) -> QueueFilter:
        return cls.from_pairs(parse_qsl(query.lstrip("?"), keep_blank_values=False))

    def pairs(self) -> list[tuple[str, str]]:
        out = [("status", s) for s in self.statuses]
        out += [("priority", str(p)) for p in self.priorities]
        out += [("type", t) for t in self.types]
        out += [("tlp", t) for t in self.tlps]
        out += [("kommune", str(k)) for k in self.kommune_ids]
        out += [("group", str(g)) for g in self.group_ids]
        if self.assignee:
            out.append(("assignee", self.assignee))
        if self.ci_id is not None:
            out.append(("ci", str(self.ci_id)))
        elif self.ci_key:
            out.append(("ci", self.ci_key))
        if self.major:
            out.append(("major", "1"))
        if self.text:
            out.append(("q", self.text))
        return out

    def query(self) -> str:
        """The canonical query string (what a saved view stores and a link carries)."""
        return urlencode(self.pairs())

    @property
    def effective_statuses(self) -> tuple[str, ...]:
        return self.statuses or tuple(s.value for s in OPEN_STATUSES)


T = TypeVar("T")


@dataclass(frozen=True)
class QueuePage(Generic[T]):
    """A page of a queue: tickets (or rows of :data:`LIST_COLUMNS`) and the cursor of the next
    page, if there is one."""

    tickets: list[T]
    next: str | None


def _assignee_id(f: QueueFilter, p: Principal) -> int | None:
    if f.assignee == "me":
        return p.user_id if p.user_id is not None else -1
    return int(f.assignee) if f.assignee.isdigit() else None


def _driver(f: QueueFilter, p: Principal) -> tuple[Any, Sequence[int]] | None:
    """The column whose values split the query into ordered branches (see the docstring)."""
    assignee = _assignee_id(f, p)
    if assignee is not None:
        return col(Ticket.assignee_id), (assignee,)
    if f.group_ids:
        return col(Ticket.assignment_group_id), f.group_ids
    if f.kommune_ids:
        return col(Ticket.kommune_id), f.kommune_ids
    return None


def _conditions(
    session: Session, f: QueueFilter, driver: Any, ci_drives: bool = False
) -> list[Any]:
    """The filters other than status and the driver column."""
    t = Ticket
    out: list[Any] = []
    if f.priorities:
        out.append(col(t.priority).in_(f.priorities))
    # The types a filter may name are the desk's own, so without one the desk's are meant.
    out.append(col(t.type).in_(f.types) if f.types else desk_ticket())
    if f.tlps:
        out.append(col(t.tlp).in_(f.tlps))
    if f.kommune_ids and driver is not col(t.kommune_id):
        out.append(col(t.kommune_id).in_(f.kommune_ids))
    if f.group_ids and driver is not col(t.assignment_group_id):
        out.append(col(t.assignment_group_id).in_(f.group_ids))
    if f.assignee == "none":
        out.append(col(t.assignee_id).is_(None))
    if f.major:
        out.append(col(t.major) == True)  # noqa: E712 - "= true" matches the partial index
    if f.ci_id is not None:
        out.append(_ci_condition(f.ci_id, ci_drives))
    if f.text:
        out.append(col(t.id).in_(search.matching_ids(session, f.text)))
    return out


def _on_ci(ci_id: int) -> Any:
    # Only ids: the tickets themselves are filtered by the access layer in the outer query.
    return sa.select(_ticket_ci.ticket_id).where(_ticket_ci.ci_id == ci_id)


def _ci_drives(session: Session, ci_id: int) -> bool:
    """Whether the tickets of the CI are few enough to fetch them all and sort them, rather
    than walking the queue in order and testing each ticket (see ``queue_statement``)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    capped = _on_ci(ci_id).limit(CI_DRIVE_LIMIT + 1).subquery()
    # Only a number that chooses the plan, never shown: counted without the row rules.
    with elevated(session, "queue plan"):
        n = session.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one()
    return int(n) <= CI_DRIVE_LIMIT


def _ci_condition(ci_id: int, drives: bool) -> Any:
    if drives:
        # An array computed once: the planner then fetches exactly these tickets by id.
        return col(Ticket.id) == sa.any_(sa.func.array(_on_ci(ci_id).scalar_subquery()))
    return col(Ticket.id).in_(_on_ci(ci_id))


def _keyset(after: str | None) -> tuple[int, int] | None:
    if not after:
        return None
    value = decode_cursor(after)
    if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
        return value[0], value[1]
    raise invalid(FieldError("after", "is not a cursor returned by this API", after))


def _ordered(stmt: Any, last: tuple[int, int] | None, limit: int) -> Any:
    if last is not None:
        stmt = stmt.where(sa.tuple_(col(Ticket.priority), col(Ticket.id)) > sa.tuple_(*last))
    return stmt.order_by(col(Ticket.priority), col(Ticket.id)).limit(limit)


def queue_statement(
    session: Session,
    f: QueueFilter,
    limit: int,
    after: str | None = None,
    columns: Sequence[Any] = (),
) -> Any:
    """The SELECT of one queue page (``limit`` rows) in (priority, id) order: of whole tickets,
    or of ``columns`` of the ticket (they must include ``priority`` and ``id``)."""
    what = tuple(columns) or (Ticket,)
    p = principal_of(session)
    if f.ci_key:
        found = session.exec(select(ConfigItem.id).where(ConfigItem.key == f.ci_key)).first()
        f = replace(f, ci_id=found if found is not None else 0, ci_key="")
    last = _keyset(after)
    driver = _driver(f, p)
    ci_drives = f.ci_id is not None and _ci_drives(session, f.ci_id)
    conditions = _conditions(session, f, driver[0] if driver else None, ci_drives)
    statuses = f.effective_statuses
    values: Sequence[int | None] = driver[1] if driver else (None,)
    branched = session.get_bind().dialect.name == "postgresql" and not ci_drives
    if not branched or len(statuses) * len(values) > MAX_BRANCHES:
        stmt = select(*what).where(col(Ticket.status).in_(statuses), *conditions)
        if driver:
            stmt = stmt.where(driver[0].in_(driver[1]))
        return _ordered(stmt, last, limit)
    branches = []
    for status in statuses:
        for value in values:
            stmt = select(*what).where(col(Ticket.status) == status, *conditions)
            if driver:
                stmt = stmt.where(driver[0] == value)
            branches.append(_ordered(stmt, last, limit))
    if len(branches) == 1:
        return branches[0]
    order: tuple[Any, ...] = (sa.literal_column("priority"), sa.literal_column("id"))
    merged = sa.union_all(*branches).order_by(*order)
    # from_statement keeps the ORM entity (or its columns) in every branch, so the access
    # layer's criteria (tenant, TLP:RED) are added inside each branch, before its LIMIT.
    return select(*what).from_statement(merged.limit(limit))


def _paged(rows: list[T], limit: int) -> QueuePage[T]:
    """The first ``limit`` of ``limit + 1`` rows, and the cursor after them if there are more."""
    shown = rows[:limit]
    nxt = None
    if len(rows) > limit:
        last: Any = shown[-1]
        nxt = encode_cursor([last.priority, last.id])
    return QueuePage(shown, nxt)


def queue_page(
    session: Session, f: QueueFilter, limit: int = PAGE_SIZE, after: str | None = None
) -> QueuePage[Ticket]:
    """One page of the queue ``f`` as the session's principal may see it."""
    stmt = queue_statement(session, f, limit + 1, after)
    return _paged(list(session.execute(stmt).scalars().all()), limit)


def queue_rows(
    session: Session, f: QueueFilter, limit: int = PAGE_SIZE, after: str | None = None
) -> QueuePage[Any]:
    """As :func:`queue_page`, the tickets as plain rows of :data:`LIST_COLUMNS` (attributes by
    column name): what a list of tickets shows, without building an ORM instance per ticket."""
    stmt = queue_statement(session, f, limit + 1, after, LIST_COLUMNS)
    return _paged(list(session.execute(stmt).all()), limit)


# ---- counts --------------------------------------------------------------------------------------


def queue_counts(session: Session, group_ids: Sequence[int]) -> dict[str, int]:
    """Open tickets in the principal's queues, each counted up to ``COUNT_CAP + 1``: keys
    ``mine``, ``unassigned``, ``major`` and ``group:<id>``."""
    p = principal_of(session)
    groups = tuple(dict.fromkeys(group_ids))
    params: dict[str, Any] = {
        "statuses": list(QueueFilter().effective_statuses),
        "cap": COUNT_CAP + 1,
        "me": _assignee_id(QueueFilter(assignee="me"), p),
    }
    params |= {f"group_{i}": gid for i, gid in enumerate(groups)}
    row = session.execute(_counts_statement(len(groups)), params).one()
    keys = ["mine", "unassigned", "major", *(f"group:{g}" for g in groups)]
    return {key: int(value) for key, value in zip(keys, row, strict=True)}


@lru_cache(maxsize=32)
def _counts_statement(groups: int) -> Any:
    """The SELECT of :func:`queue_counts` for ``groups`` groups, built once: the user, the
    groups, the statuses and the cap are bound parameters, so a page view binds values instead
    of building (and SQLAlchemy walking) a new statement. The queues are those of
    ``QueueFilter(assignee="me")``, ``(assignee="none")``, ``(major=True)`` and
    ``(group_ids=(g,))``."""
    statuses: Any = sa.bindparam("statuses", expanding=True)
    cap = sa.bindparam("cap", type_=sa.Integer)

    def capped(key: str, condition: Any) -> Any:
        ids = select(Ticket.id).where(col(Ticket.status).in_(statuses), desk_ticket(), condition)
        ids = ids.limit(cap)
        return sa.select(sa.func.count()).select_from(ids.subquery()).scalar_subquery().label(key)

    group = col(Ticket.assignment_group_id)
    return sa.select(
        capped("mine", col(Ticket.assignee_id) == sa.bindparam("me", type_=sa.Integer)),
        capped("unassigned", col(Ticket.assignee_id).is_(None)),
        capped("major", col(Ticket.major) == True),  # noqa: E712 - as in the queue's query
        *(
            capped(f"group_{i}", group == sa.bindparam(f"group_{i}", type_=sa.Integer))
            for i in range(groups)
        ),
    )


def shown_count(value: int) -> str:
    return f"{COUNT_CAP}+" if value > COUNT_CAP else str(value)
