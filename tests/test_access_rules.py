"""The access layer itself: every table has a rule, and the hooks apply the rules.

The route-level view (every route x every role) is in tests/test_isolation_matrix.py; here the
hooks are tested directly on sessions, the way a new service function or a job would use them.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, func, insert, literal, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from register import auth
from register.access import (
    ACCESS_CHECKED,
    AccessDenied,
    NoPrincipal,
    Principal,
    bind,
    registered_models,
)
from register.choices import Role
from register.models import (
    AuditEvent,
    Kommune,
    RoleGrant,
    Site,
    User,
    WebSession,
)
from tests.support.factories import Factory

#: Tables that hold no tenant data and therefore need no rule, each with the reason. Keep this
#: empty unless a table truly holds nothing of any kommune or person.
NOT_TENANT_DATA: dict[str, str] = {}

#: The packages whose modules may define tables.
PACKAGES = ("fellesdrift", "register", "servicedesk", "sla", "billing")

_CLEAN_IMPORT = """
import json
from sqlmodel import SQLModel
import fellesdrift.assembly.tables
from register.access import registered_models
registered = {m.__table__.name for m in registered_models()}
print(json.dumps({"tables": sorted(SQLModel.metadata.tables), "registered": sorted(registered)}))
"""


def _clean_interpreter_view() -> dict[str, list[str]]:
    """Tables and registered tables after importing only ``fellesdrift.assembly.tables``, as the
    app, the migrations and the CLI do, in a fresh interpreter (nothing else imported first)."""
    result = subprocess.run(
        [sys.executable, "-c", _CLEAN_IMPORT], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    view: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return view


def _import_every_module() -> None:
    for name in PACKAGES:
        try:
            package = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            # Alembic's env and revisions run only inside Alembic; they define no tables.
            if ".migrations." in info.name or info.name.endswith("__main__"):
                continue
            importlib.import_module(info.name)


def test_every_table_has_an_access_rule() -> None:
    view = _clean_interpreter_view()
    missing = sorted(set(view["tables"]) - set(view["registered"]) - set(NOT_TENANT_DATA))
    assert not missing, (
        f"tables without an access rule: {missing}. Register each with "
        "register.access.register(model, read, write) in a module that importing the "
        "models imports too (see servicedesk/tickets/__init__.py), or, if it holds no tenant "
        "data at all, list it in NOT_TENANT_DATA with the reason."
    )
    stale = sorted(set(NOT_TENANT_DATA) - set(view["tables"]))
    assert not stale, f"NOT_TENANT_DATA names tables that no longer exist: {stale}"


def test_every_table_is_known_to_fellesdrift_tables() -> None:
    """A models module that fellesdrift.assembly.tables does not import would miss the migrations
    and possibly its rules."""
    _import_every_module()
    everything = set(SQLModel.metadata.tables)
    assert everything - set(_clean_interpreter_view()["tables"]) == set()


def test_registered_models_are_mapped_tables() -> None:
    for model in registered_models():
        assert model.__table__.name in SQLModel.metadata.tables  # type: ignore[attr-defined]


# ---- the hooks -----------------------------------------------------------------------------------


@pytest.fixture
def make(pg_engine: Engine) -> Factory:
    return Factory(pg_engine)


AsUser = Callable[..., Session]


@pytest.fixture
def as_user(pg_engine: Engine) -> Iterator[AsUser]:
    sessions: list[Session] = []

    def open_session(user: User, scopes: frozenset[str] | None = None) -> Session:
        session = Session(pg_engine, expire_on_commit=False)
        with Session(pg_engine) as lookup:
            bind(lookup, Principal.system("test"))
            principal = auth.principal_for(lookup, lookup.get(User, user.id), scopes)  # type: ignore[arg-type]
        sessions.append(session)
        return bind(session, principal)

    yield open_session
    for session in sessions:
        session.close()


def _count(make: Factory, model: type[SQLModel], *where: object) -> int:
    with make.session() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()  # type: ignore[arg-type]


def test_a_session_without_a_principal_touches_no_tenant_table(
    make: Factory, pg_engine: Engine
) -> None:
    site = make.site(make.kommune())
    with Session(pg_engine) as session:
        assert session.exec(select(literal(1))).one() == 1  # not tenant data: allowed
        for model in registered_models():
            with pytest.raises(NoPrincipal):
                session.exec(select(model)).all()
        with pytest.raises(NoPrincipal):
            session.get(Site, site.id)
        with pytest.raises(NoPrincipal):
            session.exec(select(Site.name).join(Kommune, col(Kommune.id) == Site.kommune_id)).all()
        session.add(Site(kommune_id=site.kommune_id, code="sneaky", name="Sneaky"))
        with pytest.raises(NoPrincipal):
            session.flush()
    assert _count(make, Site, Site.code == "sneaky") == 0


def test_bulk_changes_are_for_system_jobs_only(make: Factory, as_user: AsUser) -> None:
    k = make.kommune()
    site = make.site(k, name="Rådhus")
    admin = make.user(None, Role.ADMIN, password=None)
    session = as_user(admin)
    with pytest.raises(AccessDenied):
        session.exec(update(Site).values(name="Renamed"))
    session.rollback()
    with pytest.raises(AccessDenied):
        session.exec(delete(Site).where(col(Site.id) == site.id))
    session.rollback()
    with pytest.raises(AccessDenied):
        session.exec(update(User).values(active=False))
    session.rollback()
    assert _count(make, Site, Site.name == "Rådhus") == 1
    # The system principal (jobs, the CLI) may.
    with make.session() as system:
        system.exec(update(Site).where(col(Site.id) == site.id).values(name="Renamed"))
        system.commit()
    assert _count(make, Site, Site.name == "Renamed") == 1


def test_statements_past_the_rules_are_refused_for_users(make: Factory, as_user: AsUser) -> None:
    """What a flush would check, a statement could write past: an UPDATE or DELETE through a
    bare table, an INSERT statement, textual SQL. In a user's session each is refused (and
    stores nothing) unless its caller marks it as checked; the system principal may."""
    a, b = make.kommune(), make.kommune()
    site = make.site(a, name="Rådhus")
    contact = make.user(a, Role.KOMMUNE_CONTACT, password=None)
    session = as_user(contact)
    table = Site.__table__  # type: ignore[attr-defined]
    refused = [
        table.update().where(table.c.id == site.id).values(name="Renamed"),
        table.delete().where(table.c.id == site.id),
        insert(Site).values(kommune_id=b.id, code="in-b", name="In B"),
        table.insert().values(kommune_id=b.id, code="in-b", name="In B"),
        text("UPDATE site SET name = 'Renamed'"),
        text("SELECT id FROM site"),
        text("SELECT id FROM site").columns(table.c.id),
    ]
    for statement in refused:
        with pytest.raises(AccessDenied):
            session.execute(statement)
        session.rollback()
    assert _count(make, Site, Site.name == "Rådhus") == 1
    assert _count(make, Site, Site.code == "in-b") == 0
    # Marked by its caller (who applied the rule), a statement runs.
    checked = {ACCESS_CHECKED: True}
    assert session.execute(text("SELECT 1"), execution_options=checked).scalar() == 1
    session.execute(
        insert(Site).values(kommune_id=a.id, code="ok", name="Ok"), execution_options=checked
    )
    session.commit()
    assert _count(make, Site, Site.code == "ok") == 1
    # The system principal's statements are not limited.
    with make.session() as system:
        system.execute(table.update().where(table.c.id == site.id).values(name="Renamed"))
        system.commit()
    assert _count(make, Site, Site.name == "Renamed") == 1


def test_a_kommune_contact_cannot_write_into_another_kommune(
    make: Factory, as_user: AsUser
) -> None:
    a, b = make.kommune(), make.kommune()
    own_site = make.site(a)
    contact = make.user(a, Role.KOMMUNE_CONTACT, password=None)
    session = as_user(contact)

    session.add(Site(kommune_id=b.id, code="in-b", name="In B"))  # type: ignore[arg-type]
    with pytest.raises(AccessDenied):
        session.commit()
    session.rollback()
    # Nor by moving one of its own sites across.
    mine = session.get(Site, own_site.id)
    assert mine is not None
    mine.kommune_id = b.id  # type: ignore[assignment]
    with pytest.raises(AccessDenied):
        session.commit()
    session.rollback()
    # Its own kommune is fine.
    session.add(Site(kommune_id=a.id, code="in-a", name="In A"))  # type: ignore[arg-type]
    session.commit()
    assert _count(make, Site, Site.code == "in-b") == 0
    assert _count(make, Site, Site.kommune_id == b.id) == 0
    assert _count(make, Site, Site.code == "in-a") == 1


def test_an_end_user_edits_only_the_self_editable_fields_of_their_own_row(
    make: Factory, as_user: AsUser
) -> None:
    a, b = make.kommune(), make.kommune()
    site = make.site(a)
    user = make.user(a, password=None)
    colleague = make.user(a, password=None)
    session = as_user(user)

    me = session.get(User, user.id)
    assert me is not None
    me.full_name, me.phone, me.email, me.language = "Kari N.", "+47 99", "k@example.no", "en"
    session.commit()
    for name, value in [
        ("kommune_id", b.id),
        ("site_id", site.id),
        ("active", False),
        ("username", "someone-else"),
    ]:
        me = session.get(User, user.id)
        assert me is not None
        setattr(me, name, value)
        with pytest.raises(AccessDenied):
            session.commit()
        session.rollback()
    # Roles are not self-service either.
    session.add(RoleGrant(user_id=user.id, role=Role.KOMMUNE_CONTACT.value))  # type: ignore[arg-type]
    with pytest.raises(AccessDenied):
        session.commit()
    session.rollback()
    # A colleague's row is not even visible.
    assert session.get(User, colleague.id) is None
    with make.session() as s:
        stored = s.get(User, user.id)
        assert stored is not None
        grants = s.exec(select(RoleGrant.role).where(RoleGrant.user_id == user.id)).all()
    assert (stored.full_name, stored.kommune_id, stored.site_id, stored.active) == (
        "Kari N.", a.id, None, True,
    )  # fmt: skip
    assert stored.username == user.username and grants == ["end_user"]


def test_reads_are_filtered_in_gets_joins_subqueries_and_counts(
    make: Factory, as_user: AsUser
) -> None:
    a, b = make.kommune(), make.kommune()
    mine, theirs = make.site(a), make.site(b)
    contact = make.user(a, Role.KOMMUNE_CONTACT, password=None)
    session = as_user(contact)

    assert session.get(Site, theirs.id) is None
    assert session.get(Kommune, b.id) is None
    assert session.exec(select(func.count()).select_from(Site)).one() == 1
    joined = session.exec(
        select(Site.id, Kommune.name).join(Kommune, col(Kommune.id) == Site.kommune_id)
    ).all()
    assert [row[0] for row in joined] == [mine.id]
    in_b = select(Site.kommune_id).where(Site.id == theirs.id).scalar_subquery()
    assert session.exec(select(Kommune).where(Kommune.id == in_b)).all() == []
    assert session.exec(select(Site.id).where(Site.code == theirs.code)).all() == []


def test_one_statement_object_is_filtered_for_each_principal_in_turn(
    make: Factory, as_user: AsUser
) -> None:
    # Services build frequent statements once; the read filter keeps the filtered form per
    # statement object and principal, which must never hand one principal another's rows.
    a, b = make.kommune(), make.kommune()
    site_a, site_b = make.site(a), make.site(b)
    in_a = as_user(make.user(a, Role.KOMMUNE_CONTACT, password=None))
    in_b = as_user(make.user(b, Role.KOMMUNE_CONTACT, password=None))
    sites = select(Site.id).order_by(Site.id)
    counted = select(func.count()).select_from(Site)
    for _ in range(3):
        assert in_a.exec(sites).all() == [site_a.id]
        assert in_b.exec(sites).all() == [site_b.id]
        assert in_a.exec(counted).one() == in_b.exec(counted).one() == 1
    bare = select(Site.__table__.c.id)  # type: ignore[attr-defined]
    for _ in range(2):  # refused every time, not only the first
        with pytest.raises(AccessDenied):
            in_a.execute(bare)


def test_a_read_only_token_writes_nothing_even_for_an_admin(make: Factory, as_user: AsUser) -> None:
    k = make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    session = as_user(admin, frozenset({"read"}))
    assert session.get(Kommune, k.id) is not None
    session.add(Site(kommune_id=k.id, code="ro", name="Read only"))  # type: ignore[arg-type]
    with pytest.raises(AccessDenied):
        session.commit()
    session.rollback()
    writer = as_user(admin, frozenset({"read", "write"}))
    writer.add(Site(kommune_id=k.id, code="rw", name="Read write"))  # type: ignore[arg-type]
    writer.commit()
    assert _count(make, Site, Site.code == "ro") == 0
    assert _count(make, Site, Site.code == "rw") == 1


def test_sessions_and_throttling_are_for_the_system_only(
    make: Factory, as_user: AsUser, pg_engine: Engine
) -> None:
    from fellesdrift.kernel.settings import load_settings
    from tests.support.fixtures import SECRET

    admin = make.user(None, Role.ADMIN, password=None)
    with make.session() as s:
        settings = load_settings(database_url="sqlite://", secret_key=SECRET)
        auth.start_session(s, settings, s.get(User, admin.id))  # type: ignore[arg-type]
    session = as_user(admin)
    assert session.exec(select(WebSession)).all() == []
    row = WebSession(id="x" * 64, user_id=admin.id, csrf_token="y", expires_at=admin.created_at)  # type: ignore[arg-type]
    session.add(row)
    with pytest.raises(AccessDenied):
        session.commit()
    session.rollback()
    assert _count(make, WebSession) == 1


def test_the_audit_trail_is_append_only(make: Factory, as_user: AsUser) -> None:
    make.kommune()
    admin = make.user(None, Role.ADMIN, password=None)
    session = as_user(admin)
    event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).first()
    assert event is not None
    event.summary = "rewritten history"
    with pytest.raises(AccessDenied):
        session.commit()
    session.rollback()
    event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).first()
    session.delete(event)
    with pytest.raises(AccessDenied):
        session.commit()
    session.rollback()
    assert _count(make, AuditEvent, AuditEvent.summary == "rewritten history") == 0


def test_plain_table_reads_are_refused_in_a_principals_session(
    make: Factory, as_user: AsUser
) -> None:
    """``Model.__table__`` carries no entity, so the read criteria could not apply to it."""
    k = make.kommune()
    make.site(k)
    session = as_user(make.user(k, Role.KOMMUNE_CONTACT, password=None))
    table = Site.__table__  # type: ignore[attr-defined]
    for statement in (
        select(table),
        select(table.c.name),
        select(func.count()).select_from(table),
    ):
        with pytest.raises(AccessDenied):
            session.exec(statement).all()
        session.rollback()
    # Through the entity the same questions are answered, filtered.
    assert session.exec(select(func.count()).select_from(Site)).one() == 1
