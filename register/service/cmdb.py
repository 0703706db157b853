"""The systems register: configuration items, who answers for them, what they run on and
depend on, which kommuner use them, and what the collectors poll."""

from __future__ import annotations

from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, conflict, invalid
from fellesdrift.kernel.types import utcnow
from register.access import AccessDenied, may_write, principal_of
from register.choices import CIKind, Lifecycle, RelationKind, Responsibility
from register.models import (
    CIRelation,
    CIResponsibility,
    CIUsage,
    ConfigItem,
    Kommune,
    MonitorTarget,
    User,
)
from register.schemas import (
    CICreate,
    CIUpdate,
    RelationIn,
    ResponsibilityIn,
    TargetIn,
    UsageIn,
)
from register.service import apply_changes, get_visible
from register.service.audit import record

MIN_ADMINISTRATORS = 2


def create_ci(session: Session, data: CICreate) -> ConfigItem:
    taken = session.connection().execute(select(ConfigItem.id).where(ConfigItem.key == data.key))
    if taken.first() is not None:
        raise conflict(f"system key {data.key!r} is taken")
    if data.owner_kommune_id is not None:
        get_visible(session, Kommune, data.owner_kommune_id)
    ci = ConfigItem(**data.model_dump())
    session.add(ci)
    session.flush()
    record(session, "create", "ci", ci.id, ci.owner_kommune_id, f"{ci.key} {ci.name}")
    return ci


def update_ci(session: Session, ci_id: int, data: CIUpdate) -> ConfigItem:
    ci = get_visible(session, ConfigItem, ci_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("owner_kommune_id") is not None:
        get_visible(session, Kommune, changes["owner_kommune_id"])
    if (
        ci.kind == CIKind.FAGSYSTEM
        and "classification" in changes
        and not changes["classification"]
    ):
        raise invalid(FieldError("classification", "a fagsystem must be classified"))
    lines = apply_changes(ci, changes)
    if lines:
        ci.updated_at = utcnow()
        record(session, "update", "ci", ci.id, ci.owner_kommune_id, lines)
    return ci


def retire_ci(session: Session, ci_id: int) -> ConfigItem:
    """CIs are retired, not deleted: tickets, SLAs and invoices refer to them."""
    ci = get_visible(session, ConfigItem, ci_id)
    ci.lifecycle = Lifecycle.RETIRED.value
    ci.updated_at = utcnow()
    for target in session.exec(select(MonitorTarget).where(MonitorTarget.ci_id == ci.id)):
        target.enabled = False
    record(session, "retire", "ci", ci.id, ci.owner_kommune_id, ci.key)
    return ci


def warnings_for(session: Session, ci: ConfigItem) -> list[str]:
    """Gaps in who answers for a system (catalogue keys; the page translates them)."""
    kinds = list(
        session.exec(select(CIResponsibility.kind).where(CIResponsibility.ci_id == ci.id)).all()
    )
    warnings = []
    if ci.kind == CIKind.FAGSYSTEM:
        if Responsibility.SYSTEMEIER.value not in kinds:
            warnings.append("warning.no_systemeier")
        if kinds.count(Responsibility.SYSTEMADMINISTRATOR.value) < MIN_ADMINISTRATORS:
            warnings.append("warning.few_systemadministratorer")
    if (
        ci.lifecycle != Lifecycle.RETIRED
        and kinds.count(Responsibility.TEKNISK_SYSTEMADMINISTRATOR.value) < MIN_ADMINISTRATORS
    ):
        warnings.append("warning.few_tekniske")
    return warnings


# ---- responsibilities --------------------------------------------------------------------------


def add_responsibility(session: Session, ci_id: int, data: ResponsibilityIn) -> CIResponsibility:
    ci = get_visible(session, ConfigItem, ci_id)
    row = CIResponsibility(ci_id=ci.id, user_id=data.user_id, kind=data.kind.value)  # type: ignore[arg-type]
    # Refuse before looking anyone up: the lookup below sees every kommune's people, and its
    # answers (no such user, already named) would tell a refused caller who exists.
    if not may_write(principal_of(session), row, "create"):
        raise AccessDenied("only the drift unit names the people responsible for a system")
    # People are named from the whole directory, as the system: a kommune's systemeier may be
    # appointed by the drift unit without the drift unit's principal seeing every user.
    person = (
        session.connection()
        .execute(select(User.id, User.kommune_id, User.active).where(User.id == data.user_id))
        .first()
    )
    if person is None or not person.active:
        raise invalid(FieldError("user_id", "no active user with this id", data.user_id))
    if data.kind == Responsibility.TEKNISK_SYSTEMADMINISTRATOR and person.kommune_id is not None:
        raise invalid(
            FieldError(
                "user_id",
                "the teknisk systemadministrator is staff of the drift unit",
                data.user_id,
            )
        )
    clash = session.exec(
        select(CIResponsibility.id).where(
            CIResponsibility.ci_id == ci.id,
            CIResponsibility.user_id == data.user_id,
            CIResponsibility.kind == data.kind.value,
        )
    ).first()
    if clash is not None:
        raise conflict("this person already has this role on the system")
    if data.kind == Responsibility.SYSTEMEIER:
        existing = session.exec(
            select(CIResponsibility).where(
                CIResponsibility.ci_id == ci.id,
                CIResponsibility.kind == Responsibility.SYSTEMEIER.value,
            )
        ).first()
        if existing is not None:
            raise conflict("the system already has a systemeier; remove that one first")
    session.add(row)
    session.flush()
    record(
        session,
        "assign",
        "ci",
        ci.id,
        ci.owner_kommune_id,
        f"{data.kind.value}: user {data.user_id}",
    )
    return row


def remove_responsibility(session: Session, responsibility_id: int) -> None:
    row = get_visible(session, CIResponsibility, responsibility_id)
    session.delete(row)
    record(session, "unassign", "ci", row.ci_id, None, f"{row.kind}: user {row.user_id}")


def responsibilities(session: Session, ci_id: int) -> list[dict[str, object]]:
    """The people named on a system, with name and e-mail: they are its points of contact,
    shown to everyone who can see the system."""
    rows = session.exec(select(CIResponsibility).where(CIResponsibility.ci_id == ci_id)).all()
    ids = [r.user_id for r in rows]
    people = {
        r.id: r
        for r in session.connection().execute(
            select(User.id, User.full_name, User.email).where(col(User.id).in_(ids))
        )
    }
    return [
        {
            "id": r.id,
            "ci_id": r.ci_id,
            "user_id": r.user_id,
            "kind": r.kind,
            "name": people[r.user_id].full_name if r.user_id in people else "",
            "email": people[r.user_id].email if r.user_id in people else "",
        }
        for r in sorted(rows, key=lambda r: (r.kind, r.user_id))
    ]


# ---- relations ---------------------------------------------------------------------------------


def _reaches(session: Session, start: int, goal: int, kind: str) -> bool:
    """Whether ``goal`` is reachable from ``start`` along relations of ``kind`` (system-wide)."""
    table = CIRelation.__table__.c  # type: ignore[attr-defined]
    seen, frontier = {start}, [start]
    while frontier:
        rows = session.connection().execute(
            select(table.target_id).where(table.source_id.in_(frontier), table.kind == kind)
        )
        frontier = [t for (t,) in rows if t not in seen]
        if goal in frontier:
            return True
        seen.update(frontier)
    return False


def add_relation(session: Session, ci_id: int, data: RelationIn) -> CIRelation:
    source = get_visible(session, ConfigItem, ci_id)
    target = get_visible(session, ConfigItem, data.target_id)
    if source.id == target.id:
        raise invalid(FieldError("target_id", "a system cannot relate to itself", data.target_id))
    if data.kind == RelationKind.RUNS_ON and target.kind not in (
        CIKind.SERVER,
        CIKind.DATABASE,
        CIKind.NETWORK_DEVICE,
    ):
        raise invalid(
            FieldError(
                "target_id", "a system runs on a server, database or network device", target.key
            )
        )
    if _reaches(session, target.id, source.id, data.kind.value):  # type: ignore[arg-type]
        raise invalid(FieldError("target_id", "would create a cycle of relations", target.key))
    clash = session.exec(
        select(CIRelation.id).where(
            CIRelation.source_id == source.id,
            CIRelation.target_id == target.id,
            CIRelation.kind == data.kind.value,
        )
    ).first()
    if clash is not None:
        raise conflict("this relation already exists")
    rel = CIRelation(source_id=source.id, target_id=target.id, kind=data.kind.value)  # type: ignore[arg-type]
    session.add(rel)
    session.flush()
    record(
        session,
        "relate",
        "ci",
        source.id,
        source.owner_kommune_id,
        f"{data.kind.value} {target.key}",
    )
    return rel


def remove_relation(session: Session, relation_id: int) -> None:
    rel = get_visible(session, CIRelation, relation_id)
    session.delete(rel)
    record(session, "unrelate", "ci", rel.source_id, None, f"{rel.kind} {rel.target_id}")


def relations(session: Session, ci_id: int) -> tuple[list[CIRelation], list[CIRelation]]:
    """(outgoing, incoming) relations of a system that the principal may see."""
    out = session.exec(select(CIRelation).where(CIRelation.source_id == ci_id)).all()
    inc = session.exec(select(CIRelation).where(CIRelation.target_id == ci_id)).all()
    return list(out), list(inc)


# ---- usage -------------------------------------------------------------------------------------


def set_usage(session: Session, ci_id: int, data: UsageIn) -> CIUsage:
    ci = get_visible(session, ConfigItem, ci_id)
    get_visible(session, Kommune, data.kommune_id)
    row = session.exec(
        select(CIUsage).where(CIUsage.ci_id == ci.id, CIUsage.kommune_id == data.kommune_id)
    ).first()
    if row is None:
        row = CIUsage(ci_id=ci.id, kommune_id=data.kommune_id, users_count=data.users_count)  # type: ignore[arg-type]
        session.add(row)
    elif row.users_count == data.users_count:
        return row
    else:
        row.users_count = data.users_count
    session.flush()
    record(session, "usage", "ci", ci.id, data.kommune_id, f"users={data.users_count}")
    return row


def remove_usage(session: Session, usage_id: int) -> None:
    row = get_visible(session, CIUsage, usage_id)
    session.delete(row)
    record(session, "usage", "ci", row.ci_id, row.kommune_id, "no longer used")


def usage_of(session: Session, ci_id: int) -> list[CIUsage]:
    return list(session.exec(select(CIUsage).where(CIUsage.ci_id == ci_id)).all())


# ---- monitoring targets ------------------------------------------------------------------------


def add_target(session: Session, ci_id: int, data: TargetIn) -> MonitorTarget:
    ci = get_visible(session, ConfigItem, ci_id)
    clash = session.exec(
        select(MonitorTarget.id).where(
            MonitorTarget.ci_id == ci.id,
            MonitorTarget.probe == data.probe.value,
            MonitorTarget.target == data.target,
        )
    ).first()
    if clash is not None:
        raise conflict(f"{data.probe.value} {data.target!r} is already monitored on {ci.key}")
    row = MonitorTarget(ci_id=ci.id, **data.model_dump())  # type: ignore[arg-type]
    session.add(row)
    session.flush()
    record(
        session, "monitor", "ci", ci.id, ci.owner_kommune_id, f"{data.probe.value} {data.target}"
    )
    return row


def update_target(session: Session, target_id: int, data: TargetIn) -> MonitorTarget:
    row = get_visible(session, MonitorTarget, target_id)
    clash = session.exec(
        select(MonitorTarget.id).where(
            MonitorTarget.ci_id == row.ci_id,
            MonitorTarget.probe == data.probe.value,
            MonitorTarget.target == data.target,
            MonitorTarget.id != row.id,
        )
    ).first()
    if clash is not None:
        raise conflict(f"{data.probe.value} {data.target!r} is already monitored on this system")
    lines = apply_changes(row, data.model_dump())
    if lines:
        record(session, "monitor", "ci", row.ci_id, None, lines)
    return row


def remove_target(session: Session, target_id: int) -> None:
    row = get_visible(session, MonitorTarget, target_id)
    session.delete(row)
    record(session, "unmonitor", "ci", row.ci_id, None, f"{row.probe} {row.target}")


def targets_of(session: Session, ci_id: int) -> list[MonitorTarget]:
    return list(session.exec(select(MonitorTarget).where(MonitorTarget.ci_id == ci_id)).all())
