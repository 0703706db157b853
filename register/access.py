"""The one access layer: who may see and change which rows.

Every session that serves a person or a token carries a :class:`Principal` in
``session.info["principal"]``. Two SQLAlchemy hooks then apply the rules below to *every* ORM
statement and every flush of that session:

* reads: each registered table gets its visibility criterion added with
  ``with_loader_criteria``, so a list, a search, a detail view or an export made by a new
  route is filtered without the route doing anything;
* writes: before a flush, each new, changed or deleted row is checked against the table's write
  rule; a refused write raises :class:`AccessDenied` and the transaction stores nothing.

A session without a principal may not touch a registered table at all (fail closed). Background
jobs and the CLI use :meth:`Principal.system` explicitly.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, event, false, inspect, or_, select, true
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session, SQLModel, col

from fellesdrift.kernel.problems import Problem
from register.choices import DRIFT_ROLES, Role
from register.models import (
    ApiToken,
    AuditEvent,
    CIRelation,
    CIResponsibility,
    CIUsage,
    ConfigItem,
    JobRun,
    Kommune,
    KommuneContact,
    LoginThrottle,
    MonitorTarget,
    RoleGrant,
    Site,
    User,
    WebSession,
)


class AccessDenied(Problem):
    """A write the principal may not make (HTTP 403)."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, "Forbidden", detail)


class NoPrincipal(RuntimeError):
    """Raised when tenant data is touched from a session that names nobody."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user (by session or token) or the system itself."""

    user_id: int | None
    username: str
    kommune_id: int | None = None
    roles: frozenset[Role] = frozenset()
    #: The kommune itself plus every kommune it succeeded (its history stays visible).
    kommuner: frozenset[int] = frozenset()
    #: Systems on which the user is named systemeier or systemadministrator.
    ci_ids: frozenset[int] = frozenset()
    #: Token scopes; None for a signed-in browser (the user's full rights).
    scopes: frozenset[str] | None = None
    is_system: bool = False
    language: str = "nb"
    full_name: str = field(default="", compare=False)
    #: The last day of the user's own kommune, if it has ended (merged into another).
    kommune_valid_to: date | None = field(default=None, compare=False)

    @classmethod
    def system(cls, reason: str = "system") -> Principal:
        return cls(user_id=None, username=reason, is_system=True)

    def has(self, *roles: Role) -> bool:
        return self.is_system or any(r in self.roles for r in roles)

    @property
    def is_drift(self) -> bool:
        """Staff of the drift unit: no kommune and a drift role."""
        return self.kommune_id is None and bool(self.roles & DRIFT_ROLES)

    @property
    def global_read(self) -> bool:
        return self.is_system or self.is_drift

    @property
    def is_admin(self) -> bool:
        return self.is_system or (self.kommune_id is None and Role.ADMIN in self.roles)

    @property
    def can_write_at_all(self) -> bool:
        return self.scopes is None or bool(self.scopes & {"write", "admin"})


ReadRule = Callable[[Principal], ColumnElement[bool]]
WriteRule = Callable[[Principal, Any, str], bool]

#: Tables that only the system principal may read or write (secrets, throttling state).
SYSTEM_ONLY: set[type[SQLModel]] = {WebSession, LoginThrottle}
_read_rules: dict[type[SQLModel], ReadRule] = {}
_global_rules: dict[type[SQLModel], ReadRule] = {}
_write_rules: dict[type[SQLModel], WriteRule] = {}
_registered: frozenset[type[SQLModel]] = frozenset(SYSTEM_ONLY)
_tenant_tables: frozenset[str] = frozenset(m.__table__.name for m in SYSTEM_ONLY)  # type: ignore[attr-defined]


@lru_cache(maxsize=2048)
def _criteria_options(p: Principal) -> dict[type[SQLModel], Any]:
    """The loader criterion option of each table ``p`` is limited on, by model; built once per
    principal (expressions are immutable)."""
    return {
        model: with_loader_criteria(model, read_criterion(model, p), include_aliases=True)
        for model in _filtered_for(p)
    }


def register(
    model: type[SQLModel],
    read: ReadRule,
    write: WriteRule,
    global_read: ReadRule | None = None,
) -> None:
    """Register a tenant table's rules; a domain package calls this for each of its tables.

    ``read`` limits what a kommune's people see; drift staff (``Principal.global_read``) see
    every row unless ``global_read`` limits them too (e.g. TLP:RED tickets).
    """
    global _registered, _tenant_tables
    _read_rules[model] = read
    _write_rules[model] = write
    if global_read is not None:
        _global_rules[model] = global_read
    _registered = frozenset(_read_rules) | SYSTEM_ONLY
    _tenant_tables = frozenset(m.__table__.name for m in _registered)  # type: ignore[attr-defined]
    _criteria_options.cache_clear()


def registered_models() -> frozenset[type[SQLModel]]:
    """Every table under the access rules (asked on every statement and flush: kept, not
    rebuilt)."""
    return _registered


# ---- building blocks -------------------------------------------------------------------------

_ci = ConfigItem.__table__.c  # type: ignore[attr-defined]
_usage = CIUsage.__table__.c  # type: ignore[attr-defined]
_user = User.__table__.c  # type: ignore[attr-defined]


def _ids(values: frozenset[int]) -> list[int]:
    return sorted(values)


def visible_ci_ids(p: Principal) -> Any:
    """Subquery of the CI ids ``p`` may see (built on Core tables so the hooks leave it alone)."""
    used = select(_usage.ci_id).where(_usage.kommune_id.in_(_ids(p.kommuner)))
    return select(_ci.id).where(
        or_(
            _ci.owner_kommune_id.in_(_ids(p.kommuner)),
            _ci.id.in_(used),
            _ci.id.in_(_ids(p.ci_ids)),
        )
    )


def _user_rule(p: Principal) -> ColumnElement[bool]:
    own = _user.id == p.user_id
    if p.has(Role.KOMMUNE_CONTACT):
        return or_(own, _user.kommune_id.in_(_ids(p.kommuner)))
    return own


def _in_kommuner(p: Principal, kommune_id: int | None) -> bool:
    return kommune_id is not None and kommune_id in p.kommuner


def _admin(p: Principal, _obj: Any, _op: str) -> bool:
    return p.is_admin


def _drift_writer(p: Principal, _obj: Any, _op: str) -> bool:
    return p.is_admin or (p.is_drift and Role.AGENT in p.roles)


def _kommune_steward(p: Principal, obj: Any, _op: str) -> bool:
    """Admins, and a kommune contact for their own kommune's rows."""
    return p.is_admin or (p.has(Role.KOMMUNE_CONTACT) and _in_kommuner(p, obj.kommune_id))


SELF_EDITABLE_USER_FIELDS = frozenset(
    {"full_name", "email", "phone", "language", "password_hash", "last_login_at"}
)


def _user_write(p: Principal, obj: User, op: str) -> bool:
    if p.is_admin:
        return True
    if op == "update" and obj.id == p.user_id:
        return changed_fields(obj) <= SELF_EDITABLE_USER_FIELDS
    return False


def _ci_write(p: Principal, obj: ConfigItem, op: str) -> bool:
    if _drift_writer(p, obj, op):
        return True
    editable = {"description", "vendor", "version", "lifecycle", "service", "updated_at"}
    return op == "update" and obj.id in p.ci_ids and changed_fields(obj) <= editable


def _usage_write(p: Principal, obj: CIUsage, op: str) -> bool:
    return _drift_writer(p, obj, op) or obj.ci_id in p.ci_ids


def _token_write(p: Principal, obj: ApiToken, _op: str) -> bool:
    return p.is_admin or (p.user_id is not None and obj.user_id == p.user_id)


def _audit_write(p: Principal, _obj: AuditEvent, op: str) -> bool:
    return op == "create"  # append-only, for everyone including the system


def changed_fields(obj: Any) -> set[str]:
    state = inspect(obj)
    return {a.key for a in state.attrs if a.history.has_changes()}


def _install_rules() -> None:
    k = lambda p: p.kommuner  # noqa: E731 - short alias keeps the table below readable
    register(Kommune, lambda p: col(Kommune.id).in_(_ids(k(p))), _admin)
    register(
        KommuneContact, lambda p: col(KommuneContact.kommune_id).in_(_ids(k(p))), _kommune_steward
    )
    register(Site, lambda p: col(Site.kommune_id).in_(_ids(k(p))), _kommune_steward)
    register(User, _user_rule, _user_write)
    register(
        RoleGrant,
        lambda p: col(RoleGrant.user_id).in_(select(_user.id).where(_user_rule(p))),
        _admin,
    )
    register(ApiToken, lambda p: col(ApiToken.user_id) == p.user_id, _token_write)
    register(ConfigItem, lambda p: col(ConfigItem.id).in_(visible_ci_ids(p)), _ci_write)
    register(
        CIUsage,
        lambda p: or_(
            col(CIUsage.kommune_id).in_(_ids(k(p))), col(CIUsage.ci_id).in_(_ids(p.ci_ids))
        ),
        _usage_write,
    )
    register(CIRelation, lambda p: col(CIRelation.source_id).in_(visible_ci_ids(p)), _drift_writer)
    register(
        CIResponsibility,
        lambda p: col(CIResponsibility.ci_id).in_(visible_ci_ids(p)),
        _drift_writer,
    )
    register(
        MonitorTarget, lambda p: col(MonitorTarget.ci_id).in_(visible_ci_ids(p)), _drift_writer
    )
    register(
        AuditEvent,
        lambda p: (
            col(AuditEvent.kommune_id).in_(_ids(k(p))) if p.has(Role.KOMMUNE_CONTACT) else false()
        ),
        _audit_write,
    )
    # Job runs: written by the jobs' system sessions only, read by admins (and /metrics).
    register(
        JobRun,
        lambda p: false(),
        lambda p, o, op: p.is_system,
        global_read=lambda p: true() if p.is_admin else false(),
    )


_install_rules()


def read_criterion(model: type[SQLModel], p: Principal) -> ColumnElement[bool]:
    """The WHERE clause that limits ``model`` to what ``p`` may see."""
    if model in SYSTEM_ONLY:
        return true() if p.is_system else false()
    if p.is_system:
        return true()
    if p.global_read:
        rule = _global_rules.get(model)
        return rule(p) if rule is not None else true()
    return _read_rules[model](p)


def _filtered_for(p: Principal) -> list[type[SQLModel]]:
    if p.global_read:
        return [m for m in registered_models() if m in SYSTEM_ONLY or m in _global_rules]
    return list(registered_models())


def may_write(p: Principal, obj: Any, op: str) -> bool:
    model = type(obj)
    if model in SYSTEM_ONLY:
        return p.is_system
    rule = _write_rules.get(model)
    if rule is None:
        return True  # not tenant data (e.g. tables of packages without rules)
    if model is AuditEvent:
        return rule(p, obj, op)
    if p.is_system:
        return True
    return p.can_write_at_all and rule(p, obj, op)


# ---- session binding and hooks ----------------------------------------------------------------


def bind(session: Session, principal: Principal) -> Session:
    session.info["principal"] = principal
    return session


@contextmanager
def elevated(session: Session, reason: str) -> Iterator[Session]:
    """Act as the system inside the block, for side effects the user's action causes but the
    user may not do directly (e.g. a resolution reaching the children of a mass outage in other
    kommuner). Changes are flushed before the user's principal comes back."""
    previous = session.info.get("principal")
    session.info["principal"] = Principal.system(reason)
    try:
        yield session
        session.flush()
    finally:
        session.info["principal"] = previous


def principal_of(session: Session) -> Principal:
    p: Principal | None = session.info.get("principal")
    if p is None:
        raise NoPrincipal("this session has no principal; bind one with register.access.bind")
    return p


def _touches_registered(state: ORMExecuteState) -> bool:
    models = registered_models()
    return any(m.class_ in models for m in state.all_mappers)


def _orm_tables(statement: Any) -> set[str]:
    """Tables a statement names through their ORM entity, e.g. ``select(func.count())
    .select_from(Site)`` or ``Site.id`` in a subquery: the loader criteria filter those even
    where no entity is selected at the top level."""
    names = set()
    for element in visitors.iterate(statement):
        if "parententity" in getattr(element, "_annotations", {}):
            names.add(getattr(getattr(element, "table", element), "name", ""))
    return names


def _orm_models(state: ORMExecuteState) -> set[type[Any]]:
    """Every mapped class a statement names anywhere: its entities, joins, and the entities
    and columns in its subqueries and WHERE clause (aliases count as their class). The loader
    criteria act where an entity appears, so these are the only tables whose criteria the
    statement needs; building the criteria of every other table into each statement's cache
    key cost more than running the statement. (No model declares a relationship, so no
    eager load brings in a table the statement does not name.)"""
    models = {m.class_ for m in state.all_mappers}
    for element in visitors.iterate(state.statement):  # type: ignore[arg-type]
        entity = getattr(element, "_annotations", {}).get("parententity")
        if entity is not None:
            models.add(entity.mapper.class_)
    return models


def _refuse_core_reads(state: ORMExecuteState) -> None:
    """A select of bare tables (``Model.__table__``) carries no ORM entity, so the loader
    criteria would not apply; in a principal's session it is refused, not left unfiltered."""
    if state.all_mappers:
        return
    statement: Any = state.statement
    through_orm = _orm_tables(statement)
    for table in find_tables(statement, include_selects=True, include_joins=True):
        name = getattr(table, "name", None)  # selects and joins have none
        if name in _tenant_tables and name not in through_orm:
            raise AccessDenied(
                f"table {table.name} was read without its model; query the ORM entity so the "
                "access rules apply"
            )


#: Execution option of a statement the access rule cannot see into, whose caller applied it:
#: an ``insert()`` after :func:`check_write`, or a textual statement that reads no tenant
#: table (e.g. asking PostgreSQL to stem a search query).
ACCESS_CHECKED = "access_checked"
_TEXTUAL = "textual SQL is not run for a user: build it from the models so the access rules apply"


def _refuse_unruled_statements(state: ORMExecuteState) -> None:
    """In a principal's session, statements the rules cannot act on are refused: changes to
    tenant tables by UPDATE or DELETE statements (through the model or its bare table), rows
    added by an INSERT statement, and textual SQL, unless marked :data:`ACCESS_CHECKED`. A
    flush checks every row it writes; a statement would write past that check."""
    if state.execution_options.get(ACCESS_CHECKED):
        return
    statement: Any = state.statement
    if isinstance(statement, TextClause):
        raise AccessDenied(_TEXTUAL)
    name = getattr(getattr(statement, "table", None), "name", None)  # what DML writes to
    if name not in _tenant_tables:
        return
    if state.is_update or state.is_delete:
        raise AccessDenied("bulk changes to tenant data are only allowed for system jobs")
    if state.is_insert:
        raise AccessDenied(f"rows of {name} are added through the session (or after check_write)")


@event.listens_for(Session, "do_orm_execute")
def _filter_reads(state: ORMExecuteState) -> None:
    p: Principal | None = state.session.info.get("principal")
    if p is None:
        if _touches_registered(state):
            raise NoPrincipal("tenant tables were queried from a session without a principal")
        return
    if p.is_system:
        return
    if not state.is_select:
        _refuse_unruled_statements(state)
        return
    statement = state.statement
    if isinstance(statement, TextualSelect) and not state.execution_options.get(ACCESS_CHECKED):
        raise AccessDenied(_TEXTUAL)
    memo = _per_statement.get(statement)
    if memo is None:
        _refuse_core_reads(state)  # depends on the statement alone: checked once per object
        memo = {_MODELS: _orm_models(state)}
        with _memo_lock:
            _per_statement[statement] = memo
    filtered = memo.get(p)
    if filtered is None:
        criteria = _criteria_options(p)
        opts = [criteria[m] for m in memo[_MODELS] if m in criteria]
        filtered = statement.options(*opts) if opts else statement
        with _memo_lock:  # requests run in threads: no dict changes while one looks for the oldest
            if len(memo) > _PRINCIPALS_PER_STATEMENT:
                del memo[next(k for k in memo if k is not _MODELS)]  # the oldest principal
            memo[p] = filtered
    state.statement = filtered


#: What the read filter works out per statement object: the models it names, and for each
#: principal the statement with their criteria attached. Services build their frequent
#: statements once (sign-in, queue counts, ...); handing SQLAlchemy the same filtered object
#: on every run lets it reuse the cache key memoised on it, where a freshly optioned copy
#: had its key (criteria included) rebuilt each time. Weak: a statement built for one request
#: takes its entry with it.
_per_statement: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
_MODELS = object()
_memo_lock = threading.Lock()
_PRINCIPALS_PER_STATEMENT = 256


def check_write(session: Session, obj: Any, op: str) -> None:
    """Refuse (:class:`AccessDenied`) a write of ``obj`` the session's principal may not make:
    what every flush checks, for a row written by a statement instead (an ``insert()``)."""
    if type(obj) not in registered_models():
        return
    p: Principal | None = session.info.get("principal")
    if p is None:
        raise NoPrincipal(f"{op} of {type(obj).__name__} from a session without a principal")
    if not may_write(p, obj, op):
        raise AccessDenied(
            f"{p.username} may not {op} {type(obj).__name__} {getattr(obj, 'id', '')}".strip()
        )


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    checks = [(o, "create") for o in session.new]
    checks += [(o, "update") for o in session.dirty if session.is_modified(o)]
    checks += [(o, "delete") for o in session.deleted]
    for obj, op in checks:
        check_write(session, obj, op)
