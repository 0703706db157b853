"""Who the alert integration acts as: the system user ``alertmanager``.

Incidents need a requester and every timeline entry an author, and the people reading them
should see that the monitoring opened them, not a colleague. The user belongs to the drift unit,
holds the agent role (it opens, reopens and resolves incidents in every kommune, as an agent
does) and has no password and no e-mail: nobody can sign in as it and it is sent nothing. It is
created on first use; an existing account of that name must be such a drift-unit account.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from fellesdrift.kernel.settings import Settings
from register import auth
from register.access import Principal, bind
from register.choices import Role
from register.models import RoleGrant, User
from register.service.audit import record

USERNAME = "alertmanager"
FULL_NAME = "Alertmanager (automatisk varsling)"


class IntegrationUserError(RuntimeError):
    """The ``alertmanager`` account exists but is not a drift-unit account."""


def _system(engine: Engine, settings: Settings, reason: str) -> Session:
    session = bind(Session(engine, expire_on_commit=False), Principal.system(reason))
    session.info["settings"] = settings
    return session


def ensure_user(engine: Engine, settings: Settings) -> int:
    """The id of the integration user, created (with the agent role) if missing. Safe when
    several workers do it at once: the loser of the unique user name reads the winner's."""
    for _attempt in range(2):
        with _system(engine, settings, "alerts:user") as session:
            user = session.exec(select(User).where(User.username == USERNAME)).first()
            try:
                user = user or _create(session)
                _grant_agent(session, user)
                session.commit()
            except IntegrityError:
                session.rollback()
                continue
            assert user.id is not None
            return user.id
    raise IntegrationUserError(f"could not create the {USERNAME!r} user")


def _create(session: Session) -> User:
    user = User(username=USERNAME, full_name=FULL_NAME, password_hash=None, language="nb")
    session.add(user)
    session.flush()
    record(session, "create", "user", user.id, None, f"{USERNAME} roles=agent (alert integration)")
    return user


def _grant_agent(session: Session, user: User) -> None:
    if user.kommune_id is not None:
        raise IntegrationUserError(
            f"the user {USERNAME!r} belongs to a kommune; the alert integration needs this user "
            "name for a drift-unit account: rename the existing user"
        )
    granted = session.exec(
        select(RoleGrant).where(RoleGrant.user_id == user.id, RoleGrant.role == Role.AGENT.value)
    ).first()
    if granted is None:
        session.add(RoleGrant(user_id=user.id, role=Role.AGENT.value))  # type: ignore[arg-type]
        session.flush()


def integration_session(engine: Engine, settings: Settings, user_id: int) -> Session:
    """A session acting as the integration user, under the access layer's rules for agents."""
    session = Session(engine, expire_on_commit=False)
    session.info["settings"] = settings
    with _system(engine, settings, "alerts:principal") as lookup:
        user = lookup.get(User, user_id)
        if user is None:
            raise IntegrationUserError(f"the {USERNAME!r} user has gone")
        principal = auth.principal_for(lookup, user)
    return bind(session, principal)
