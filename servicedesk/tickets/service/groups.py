"""Assignment groups (the teams whose queues the agents work), their members, and the
impact x urgency -> priority matrix. Changed by admins; every change goes to the audit trail."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, forbidden, invalid
from register.access import elevated, principal_of
from register.choices import Role
from register.models import RoleGrant, User
from register.service import audit, get_visible
from servicedesk.tickets.choices import DEFAULT_PRIORITY_MATRIX
from servicedesk.tickets.models import Group, GroupMember, PriorityRule

LEVELS = (1, 2, 3, 4)
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    key: str = Field(min_length=2, max_length=60)
    name: str = Field(min_length=2, max_length=120)
    email: str = Field(default="", max_length=200)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError(
                "may contain only a-z, 0-9, '_' and '-' and must start with a letter or digit"
            )
        return value


def _require_admin(session: Session) -> None:
    if not principal_of(session).is_admin:
        raise forbidden("only admins change assignment groups and the priority matrix")


def groups(session: Session) -> list[Group]:
    return list(session.exec(select(Group).order_by(col(Group.name))).all())


def create_group(session: Session, data: GroupIn) -> Group:
    _require_admin(session)
    if session.exec(select(Group.id).where(Group.key == data.key)).first() is not None:
        raise invalid(FieldError("key", "is taken", data.key))
    group = Group(**data.model_dump())
    session.add(group)
    session.flush()
    audit.record(session, "create", "group", group.id, summary=f"{group.key}: {group.name}")
    return group


def update_group(session: Session, group_id: int, data: GroupIn) -> Group:
    _require_admin(session)
    group = get_visible(session, Group, group_id)
    clash = session.exec(
        select(Group.id).where(Group.key == data.key, col(Group.id) != group_id)
    ).first()
    if clash is not None:
        raise invalid(FieldError("key", "is taken", data.key))
    lines = [
        f"{k}: {getattr(group, k)!r} -> {v!r}"
        for k, v in data.model_dump().items()
        if getattr(group, k) != v
    ]
    for name, value in data.model_dump().items():
        setattr(group, name, value)
    if lines:
        audit.record(session, "update", "group", group_id, summary=lines)
    return group


def members(session: Session, group_id: int) -> list[User]:
    """The group's members by name (drift staff: an agent sees every one of them). Who works
    in which team is the drift unit's business: others are refused."""
    if not principal_of(session).global_read:
        raise forbidden("the members of assignment groups are shown to the drift unit")
    ids = select(GroupMember.user_id).where(GroupMember.group_id == group_id)
    with elevated(session, "directory"):
        return list(
            session.exec(
                select(User).where(col(User.id).in_(ids)).order_by(col(User.full_name))
            ).all()
        )


def group_ids_of(session: Session, user_id: int | None) -> list[int]:
    if user_id is None:
        return []
    stmt = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
    return list(session.exec(stmt).all())


def _agents_select(*columns: Any) -> Any:
    """Active staff of the drift unit with the agent role, by name."""
    granted = select(RoleGrant.user_id).where(RoleGrant.role == Role.AGENT.value)
    return (
        select(*columns)
        .where(
            col(User.kommune_id).is_(None),
            col(User.active).is_(True),
            col(User.id).in_(granted),
        )
        .order_by(col(User.full_name))
    )


def agents(session: Session) -> list[User]:
    """Active staff of the drift unit with the agent role: who can be assigned tickets."""
    with elevated(session, "directory"):
        return list(session.exec(_agents_select(User)).all())


def agent_names(session: Session) -> list[tuple[int, str]]:
    """(id, name) of each agent, as :func:`agents` orders them: for the workspace's lists and
    pickers, without loading whole user rows."""
    with elevated(session, "directory"):
        rows = session.exec(_agents_select(User.id, User.full_name, User.username)).all()
    return [(uid, full_name or username) for uid, full_name, username in rows if uid is not None]


def add_member(session: Session, group_id: int, username: str) -> GroupMember:
    _require_admin(session)
    group = get_visible(session, Group, group_id)
    wanted = username.strip().lower()
    user = next((u for u in agents(session) if u.username.lower() == wanted), None)
    return _add(session, group, user, username)


def add_member_id(session: Session, group_id: int, user_id: int) -> GroupMember:
    """As :func:`add_member`, naming the agent by id (the API)."""
    _require_admin(session)
    group = get_visible(session, Group, group_id)
    user = next((u for u in agents(session) if u.id == user_id), None)
    return _add(session, group, user, user_id, "user_id")


def _add(
    session: Session, group: Group, user: User | None, given: object, field: str = "username"
) -> GroupMember:
    """Make ``user`` (found among the agents, else None) a member; errors name ``field``."""
    group_id = group.id
    assert group_id is not None
    if user is None or user.id is None:
        what = "user name" if field == "username" else "id"
        raise invalid(FieldError(field, f"no agent of the drift unit with this {what}", given))
    existing = session.exec(
        select(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id == user.id)
    ).first()
    if existing is not None:
        raise invalid(FieldError(field, "is already a member", given))
    member = GroupMember(group_id=group_id, user_id=user.id)
    session.add(member)
    session.flush()
    audit.record(session, "add_member", "group", group.id, summary=user.username)
    return member


def remove_member(session: Session, group_id: int, user_id: int) -> None:
    _require_admin(session)
    row = session.exec(
        select(GroupMember).where(GroupMember.group_id == group_id, GroupMember.user_id == user_id)
    ).first()
    if row is None:
        from fellesdrift.kernel.problems import not_found

        raise not_found(f"Member {user_id} of group {group_id}")
    session.delete(row)
    session.flush()
    audit.record(session, "remove_member", "group", group_id, summary=str(user_id))


def priority_matrix(session: Session) -> dict[tuple[int, int], int]:
    """The configured matrix, with the default for every cell not configured."""
    matrix = dict(DEFAULT_PRIORITY_MATRIX)
    for rule in session.exec(select(PriorityRule)).all():
        matrix[(rule.impact, rule.urgency)] = rule.priority
    return matrix


def set_priority_matrix(session: Session, matrix: dict[tuple[int, int], int]) -> int:
    """Store every cell of ``matrix`` (impact, urgency -> priority); returns how many changed.
    Tickets keep their priority until their impact or urgency is next changed."""
    _require_admin(session)
    bad = [
        FieldError(f"p{i}{u}", "must be 1, 2, 3 or 4", matrix.get((i, u)))
        for i in LEVELS
        for u in LEVELS
        if matrix.get((i, u)) not in LEVELS
    ]
    if bad:
        raise invalid(bad)
    stored = {(r.impact, r.urgency): r for r in session.exec(select(PriorityRule)).all()}
    current = priority_matrix(session)
    changed = []
    for (impact, urgency), priority in sorted(matrix.items()):
        rule = stored.get((impact, urgency))
        if rule is None:
            session.add(PriorityRule(impact=impact, urgency=urgency, priority=priority))
        elif rule.priority != priority:
            rule.priority = priority
        if current[(impact, urgency)] != priority:
            changed.append(f"{impact}x{urgency}: P{current[(impact, urgency)]} -> P{priority}")
    session.flush()
    if changed:
        audit.record(session, "update", "priority_matrix", "-", summary=changed)
    return len(changed)
