"""Sign-in, browser sessions, CSRF, login throttling and API tokens.

Everything here runs on a session bound to the system principal: it is what decides who the
principal of a request is. Passwords are argon2id hashes; session ids and API tokens are 256-bit
random values of which only a SHA-256 digest is stored, so a database dump grants no access.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import String, bindparam, cast, exists, func, update
from sqlalchemy import select as sqlalchemy_select
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, Problem, invalid
from fellesdrift.kernel.settings import Settings
from fellesdrift.kernel.types import utcnow
from register.access import Principal
from register.choices import Responsibility, Role, TokenScope
from register.models import (
    ApiToken,
    CIResponsibility,
    Kommune,
    LoginThrottle,
    RoleGrant,
    User,
    WebSession,
)

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 12
_grant = RoleGrant.__table__.c  # type: ignore[attr-defined]
_resp = CIResponsibility.__table__.c  # type: ignore[attr-defined]
_kommune = Kommune.__table__.c  # type: ignore[attr-defined]
TOKEN_PREFIX = "fd_"  # noqa: S105 - a prefix that marks our tokens, not a secret


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise invalid(FieldError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters"))
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Throttled(Problem):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "Too many failed sign-ins",
            f"Too many failed sign-ins for this user name; try again in {retry_after} seconds",
        )
        self.retry_after = retry_after


class BadCredentials(Problem):
    def __init__(self) -> None:
        super().__init__(401, "Wrong user name or password", "Wrong user name or password")


def _throttle_row(session: Session, key: str) -> LoginThrottle:
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(key=key)
        session.add(row)
    return row


def authenticate(session: Session, settings: Settings, username: str, password: str) -> User:
    """Check a user name and password, applying the lock-out; commits the outcome."""
    key = username.strip().lower()[:120]
    now = utcnow()
    row = _throttle_row(session, key)
    if row.locked_until and row.locked_until > now:
        retry = int((row.locked_until - now).total_seconds()) + 1
        session.commit()
        raise Throttled(retry)
    user = session.exec(select(User).where(User.username == key)).first()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= settings.login_max_failures:
            seconds = min(
                settings.login_lockout_seconds * 2**row.lockouts, settings.login_lockout_max_seconds
            )
            row.locked_until = now + timedelta(seconds=seconds)
            row.lockouts += 1
            row.failures = 0
        session.commit()
        raise BadCredentials()
    session.delete(row)
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = _hasher.hash(password)
    session.commit()
    return user


@dataclass
class NewSession:
    cookie_value: str
    csrf_token: str
    expires_at: datetime


def start_session(session: Session, settings: Settings, user: User) -> NewSession:
    raw = secrets.token_urlsafe(32)
    row = WebSession(
        id=digest(raw),
        user_id=user.id,  # type: ignore[arg-type]
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=settings.session_hours),
    )
    session.add(row)
    session.commit()
    return NewSession(raw, row.csrf_token, row.expires_at)


def end_session(session: Session, cookie_value: str) -> None:
    row = session.get(WebSession, digest(cookie_value))
    if row is not None:
        session.delete(row)
        session.commit()


def csrf_ok(expected: str, given: str | None) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a tampered token).
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


# ---- principals --------------------------------------------------------------------------------


def kommune_history(session: Session, kommune_id: int) -> frozenset[int]:
    """The kommune and every kommune it (transitively) succeeded."""
    seen = {kommune_id}
    frontier = [kommune_id]
    while frontier:
        rows = session.exec(select(Kommune.id).where(col(Kommune.successor_id).in_(frontier))).all()
        frontier = [r for r in rows if r is not None and r not in seen]
        seen.update(frontier)
    return frozenset(seen)


_SYSTEM_KINDS = [Responsibility.SYSTEMEIER.value, Responsibility.SYSTEMADMINISTRATOR.value]


def _principal_facts(user_id: Any, kommune_id: Any) -> tuple[Any, Any, Any, Any]:
    """What makes a user a principal besides their row, as four scalar subqueries: the roles,
    the systems they are systemeier or systemadministrator of (comma-separated), whether
    their kommune succeeded another, and the kommune's last day (if it ended).
    ``user_id``/``kommune_id`` are values or columns."""
    roles_of = sqlalchemy_select(func.aggregate_strings(_grant.role, ",")).where(
        _grant.user_id == user_id
    )
    systems_of = sqlalchemy_select(func.aggregate_strings(cast(_resp.ci_id, String), ",")).where(
        _resp.user_id == user_id, _resp.kind.in_(_SYSTEM_KINDS)
    )
    # EXISTS as a column of the enclosing SELECT, so it correlates with the user's row (wrapped
    # in a SELECT of its own it would read app_user afresh and ask whether any kommune merged).
    merged = exists().where(_kommune.successor_id == kommune_id)
    return (
        roles_of.scalar_subquery(),
        systems_of.scalar_subquery(),
        merged,
        sqlalchemy_select(_kommune.valid_to).where(_kommune.id == kommune_id).scalar_subquery(),
    )


def principal_for(session: Session, user: User, scopes: frozenset[str] | None = None) -> Principal:
    """Who ``user`` is to the access layer: roles, kommune history and systems, read fresh on
    every call (a revoked role counts from the next request) in one round trip."""
    # Core tables, read by the system for the access layer, not through it.
    facts = session.execute(sqlalchemy_select(*_principal_facts(user.id, user.kommune_id))).one()
    return _principal(session, user, scopes, *facts)


@dataclass(frozen=True)
class _UserFacts:
    """What a principal takes from its user's row."""

    id: int
    username: str
    kommune_id: int | None
    language: str
    full_name: str


def _principal(
    session: Session,
    user: User | _UserFacts,
    scopes: frozenset[str] | None,
    role_list: str | None,
    system_list: str | None,
    has_predecessors: bool | None,
    kommune_valid_to: date | None = None,
) -> Principal:
    roles = frozenset(Role(r) for r in (role_list or "").split(",") if r)
    ci_ids: frozenset[int] = frozenset()
    if roles & {Role.SYSTEMEIER, Role.SYSTEMADMINISTRATOR}:
        ci_ids = frozenset(int(c) for c in (system_list or "").split(",") if c)
    kommuner: frozenset[int] = frozenset()
    if user.kommune_id:
        if has_predecessors:
            kommuner = kommune_history(session, user.kommune_id)
        else:
            kommuner = frozenset({user.kommune_id})
    return Principal(
        user_id=user.id,
        username=user.username,
        kommune_id=user.kommune_id,
        roles=roles,
        kommuner=kommuner,
        ci_ids=ci_ids,
        scopes=scopes,
        language=user.language,
        full_name=user.full_name,
        kommune_valid_to=kommune_valid_to,
    )


def _sign_in_lookup(credential: Any, key: Any, *columns: Any) -> Any:
    """One statement for a credential table (web sessions, API tokens): the credential's
    ``columns``, its user's and the user's principal facts, by the digest in parameter
    ``digest``. Built once, so SQLAlchemy keys and compiles it once; plain columns, not
    entities, because nothing here is edited through the ORM."""
    facts = _principal_facts(col(User.id), col(User.kommune_id))
    return (
        sqlalchemy_select(
            *columns,
            col(User.id).label("user_id"),
            col(User.username),
            col(User.kommune_id),
            col(User.language),
            col(User.full_name),
            col(User.active),
            *[fact.label(f"fact_{i}") for i, fact in enumerate(facts)],
        )
        .join(User, col(User.id) == credential.user_id)
        .where(key == bindparam("digest"))
    )


def _principal_of_row(session: Session, row: Any, scopes: frozenset[str] | None) -> Principal:
    return _principal(
        session,
        _UserFacts(row.user_id, row.username, row.kommune_id, row.language, row.full_name),
        scopes,
        row.fact_0,
        row.fact_1,
        row.fact_2,
        row.fact_3,
    )


_COOKIE_LOOKUP = _sign_in_lookup(
    WebSession,
    WebSession.id,
    col(WebSession.id).label("session_id"),
    WebSession.csrf_token,
    WebSession.expires_at,
    WebSession.last_seen_at,
)


def cookie_lookup(session: Session, cookie_value: str) -> tuple[str, Principal] | None:
    """The live sign-in for a session cookie, as its CSRF token and who it is (an active
    user), in one round trip; records the last-seen time every five minutes."""
    row = session.execute(_COOKIE_LOOKUP, {"digest": digest(cookie_value)}).first()
    if row is None:
        return None
    now = utcnow()
    if row.expires_at <= now or not row.active:
        return None
    if (now - row.last_seen_at) > timedelta(minutes=5):
        session.execute(
            update(WebSession).where(col(WebSession.id) == row.session_id).values(last_seen_at=now)
        )
        session.commit()
    return row.csrf_token, _principal_of_row(session, row, None)


# ---- API tokens --------------------------------------------------------------------------------


def parse_scopes(raw: str | list[str]) -> frozenset[str]:
    items = raw.split(",") if isinstance(raw, str) else raw
    scopes = frozenset(s.strip() for s in items if s.strip())
    known = {s.value for s in TokenScope}
    unknown = sorted(scopes - known)
    if unknown or not scopes:
        raise invalid(
            FieldError(
                "scopes",
                f"unknown or missing scope; use one or more of {', '.join(sorted(known))}",
                ",".join(unknown) or raw,
            )
        )
    return scopes


def issue_token(
    session: Session,
    user_id: int,
    name: str,
    scopes: frozenset[str],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; the plain value is returned once and never stored."""
    if not name.strip():
        raise invalid(FieldError("name", "must not be empty", name))
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user_id,
        name=name.strip(),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=digest(raw),
        scopes=",".join(sorted(scopes)),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, raw


_TOKEN_LOOKUP = _sign_in_lookup(
    ApiToken,
    ApiToken.token_hash,
    col(ApiToken.id).label("token_id"),
    ApiToken.scopes,
    ApiToken.revoked_at,
    ApiToken.expires_at,
    ApiToken.last_used_at,
)


def token_lookup(session: Session, raw: str) -> Principal | None:
    """The principal a bearer value acts as (the live token's user with the token's scopes),
    in one round trip; records the last-used time every minute."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    row = session.execute(_TOKEN_LOOKUP, {"digest": digest(raw)}).first()
    if row is None:
        return None
    now = utcnow()
    if row.revoked_at or (row.expires_at and row.expires_at <= now) or not row.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(seconds=60):
        session.execute(
            update(ApiToken).where(col(ApiToken.id) == row.token_id).values(last_used_at=now)
        )
        session.commit()
    return _principal_of_row(session, row, frozenset(row.scopes.split(",")))
