"""People, their roles and their API tokens."""

from __future__ import annotations

from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, Problem, conflict, invalid
from fellesdrift.kernel.types import utcnow
from register import auth
from register.access import elevated, principal_of
from register.choices import DRIFT_ROLES, KOMMUNE_ROLES, Role
from register.models import ApiToken, Kommune, RoleGrant, Site, User
from register.schemas import PasswordChange, TokenCreate, UserCreate, UserUpdate
from register.service import apply_changes, get_visible
from register.service.audit import record


def role_problems(roles: list[Role], kommune_id: int | None) -> list[FieldError]:
    """Roles that do not fit where the person belongs."""
    errors = []
    for role in roles:
        if kommune_id is None and role in KOMMUNE_ROLES:
            errors.append(FieldError("roles", "is a role for employees of a kommune", role.value))
        if kommune_id is not None and role in DRIFT_ROLES:
            errors.append(FieldError("roles", "is a role for staff of the drift unit", role.value))
    if not roles:
        errors.append(FieldError("roles", "at least one role is required"))
    return errors


def _check_placement(session: Session, kommune_id: int | None, site_id: int | None) -> None:
    if kommune_id is not None:
        get_visible(session, Kommune, kommune_id)
    if site_id is not None:
        site = get_visible(session, Site, site_id)
        if site.kommune_id != kommune_id:
            raise invalid(FieldError("site_id", "belongs to another kommune", site_id))


def create_user(session: Session, data: UserCreate) -> User:
    errors = role_problems(data.roles, data.kommune_id)
    if errors:
        raise invalid(errors)
    _check_placement(session, data.kommune_id, data.site_id)
    taken = session.connection().execute(select(User.id).where(User.username == data.username))
    if taken.first() is not None:
        raise conflict(f"user name {data.username!r} is taken")
    user = User(
        **data.model_dump(exclude={"roles", "password"}),
        password_hash=auth.hash_password(data.password) if data.password else None,
    )
    session.add(user)
    session.flush()
    for role in sorted(set(data.roles)):
        session.add(RoleGrant(user_id=user.id, role=role.value))  # type: ignore[arg-type]
    record(
        session,
        "create",
        "user",
        user.id,
        user.kommune_id,
        f"{user.username} roles={','.join(sorted(r.value for r in set(data.roles)))}",
    )
    return user


def roles_of(session: Session, user_id: int) -> list[str]:
    return sorted(session.exec(select(RoleGrant.role).where(RoleGrant.user_id == user_id)).all())


def set_roles(session: Session, user: User, roles: list[Role]) -> list[str]:
    errors = role_problems(roles, user.kommune_id)
    if errors:
        raise invalid(errors)
    current = {
        g.role: g for g in session.exec(select(RoleGrant).where(RoleGrant.user_id == user.id))
    }
    wanted = {r.value for r in roles}
    if (
        user.id == principal_of(session).user_id
        and Role.ADMIN.value in current
        and Role.ADMIN.value not in wanted
    ):
        raise conflict("you cannot take the admin role from yourself")
    for name in set(current) - wanted:
        session.delete(current[name])
    for name in wanted - set(current):
        session.add(RoleGrant(user_id=user.id, role=name))  # type: ignore[arg-type]
    if set(current) != wanted:
        return [f"roles: {sorted(current)} -> {sorted(wanted)}"]
    return []


def update_user(session: Session, user_id: int, data: UserUpdate) -> User:
    user = get_visible(session, User, user_id)
    changes = data.model_dump(exclude_unset=True)
    roles = changes.pop("roles", None)
    if "site_id" in changes:
        _check_placement(session, user.kommune_id, changes["site_id"])
    if changes.get("active") is False and user.id == principal_of(session).user_id:
        raise conflict("you cannot deactivate yourself")
    lines = apply_changes(user, changes)
    if roles is not None:
        lines += set_roles(session, user, [Role(r) for r in roles])
    if changes.get("active") is False:
        end_sessions_of(session, user.id)  # type: ignore[arg-type]
    if lines:
        record(session, "update", "user", user.id, user.kommune_id, lines)
    return user


def end_sessions_of(session: Session, user_id: int, keep_cookie: str | None = None) -> int:
    """Sign a user out everywhere, but for the browser whose session cookie is ``keep_cookie``
    (done as the system: sessions are not tenant data). Returns how many sign-ins ended."""
    from register.models import WebSession

    table = WebSession.__table__  # type: ignore[attr-defined]
    stmt = table.delete().where(table.c.user_id == user_id)
    if keep_cookie:
        stmt = stmt.where(table.c.id != auth.digest(keep_cookie))
    return int(session.connection().execute(stmt).rowcount or 0)


def revoke_tokens_of(session: Session, user_id: int) -> int:
    """Revoke every live API token of a user (as the system: an admin may do it for anyone)."""
    now = utcnow()
    with elevated(session, "password"):
        tokens = session.exec(
            select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
        ).all()
        for token in tokens:
            token.revoked_at = now
        session.flush()
    return len(tokens)


def replace_password(
    session: Session,
    user: User,
    password: str,
    *,
    keep_cookie: str | None = None,
    keep_tokens: bool = False,
    by_admin: bool = False,
) -> None:
    """The one way a password is replaced, by its owner or by an admin: every other sign-in
    ends (whoever knew the old password is out), and the API tokens are revoked unless the
    caller chooses to keep them (tokens minted with a stolen password would outlive it)."""
    user.password_hash = auth.hash_password(password)
    ended = end_sessions_of(session, user.id, keep_cookie)  # type: ignore[arg-type]
    revoked = 0 if keep_tokens else revoke_tokens_of(session, user.id)  # type: ignore[arg-type]
    what = "password set by admin" if by_admin else "password changed"
    summary = f"{what}; {ended} other sign-ins ended; {revoked} API tokens revoked"
    record(session, "password", "user", user.id, user.kommune_id, summary)


def change_password(
    session: Session, user_id: int, data: PasswordChange, keep_cookie: str | None = None
) -> None:
    """A person changes their own password (the current one is required). ``keep_cookie``:
    the session cookie of the browser they did it in, which stays signed in."""
    user = get_visible(session, User, user_id)
    if not auth.verify_password(user.password_hash, data.current_password):
        raise invalid(FieldError("current_password", "is not your current password"))
    replace_password(
        session, user, data.new_password, keep_cookie=keep_cookie, keep_tokens=data.keep_tokens
    )


def set_password(session: Session, user_id: int, password: str, keep_tokens: bool = False) -> None:
    """An admin sets someone's password (e.g. first sign-in); all their sessions end."""
    user = get_visible(session, User, user_id)
    replace_password(session, user, password, keep_tokens=keep_tokens, by_admin=True)


def users_by_ids(session: Session, ids: list[int]) -> dict[int, User]:
    rows = session.exec(select(User).where(col(User.id).in_(ids))).all()
    return {u.id: u for u in rows if u.id is not None}


# ---- tokens ------------------------------------------------------------------------------------


def create_token(session: Session, data: TokenCreate) -> tuple[ApiToken, str]:
    p = principal_of(session)
    if p.user_id is None:
        raise Problem(400, "Bad request", "tokens belong to a user")
    scopes = auth.parse_scopes(data.scopes)
    if "admin" in scopes and not p.is_admin:
        raise invalid(FieldError("scopes", "only admins can create admin tokens", "admin"))
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise invalid(FieldError("expires_at", "is in the past", data.expires_at.isoformat()))
    token, raw = auth.issue_token(session, p.user_id, data.name, scopes, data.expires_at)
    record(session, "create", "token", token.id, p.kommune_id, f"{token.name} ({token.scopes})")
    return token, raw


def revoke_token(session: Session, token_id: int) -> ApiToken:
    token = get_visible(session, ApiToken, token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(session, "revoke", "token", token.id, None, token.name)
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    p = principal_of(session)
    stmt = select(ApiToken).where(ApiToken.user_id == p.user_id)
    return list(session.exec(stmt.order_by(col(ApiToken.created_at).desc())).all())
