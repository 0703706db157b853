"""Ticket fixtures: a world of kommuner, people and systems, and a session per person."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlmodel import Session

from register import auth
from register.access import Principal, bind
from register.models import ConfigItem, Kommune, User
from register.schemas import ContactIn, ResponsibilityIn, UsageIn
from register.service import cmdb, kommuner
from tests.support.factories import Factory


@dataclass
class World:
    a: Kommune
    b: Kommune
    c: Kommune
    user_a: User
    user_b: User
    user_c: User
    contact_a: User
    agent: User
    agent2: User
    owner: User
    shared: ConfigItem


@pytest.fixture
def world(make: Factory) -> World:
    a, b, c = make.kommune("Alfa"), make.kommune("Beta"), make.kommune("Gamma")
    shared = make.ci("epost", name="E-post", kind="fagsystem", classification="fellessystem")
    owner = make.user(a, "end_user", "systemeier", username="eier", email="eier@alfa.no")
    make.run(
        cmdb.add_responsibility, shared.id, ResponsibilityIn(user_id=owner.id, kind="systemeier")
    )
    for k in (a, b, c):
        make.run(cmdb.set_usage, shared.id, UsageIn(kommune_id=k.id, users_count=10))
        make.run(
            kommuner.add_contact,
            k.id,
            ContactIn(kind="leadership", name=f"Leder {k.name}", email=f"leder@{k.slug}.no"),
        )
    return World(
        a=a,
        b=b,
        c=c,
        user_a=make.user(a, username="anne", email="anne@alfa.no"),
        user_b=make.user(b, username="bjorn", email="bjorn@beta.no"),
        user_c=make.user(c, username="cecilie", email="cecilie@gamma.no"),
        contact_a=make.user(a, "end_user", "kommune_contact", username="kontakt-a"),
        agent=make.user(None, "agent", username="agent1", email="agent1@drift.no"),
        agent2=make.user(None, "agent", username="agent2", email="agent2@drift.no"),
        owner=owner,
        shared=shared,
    )


@pytest.fixture
def as_user(make: Factory) -> Iterator[Callable[[User], Session]]:
    """``as_user(user)`` opens a session bound to that user's principal (closed afterwards)."""
    sessions: list[Session] = []

    def open_session(user: User) -> Session:
        session = bind(Session(make.engine, expire_on_commit=False), Principal.system("load"))
        loaded = session.get(User, user.id)
        assert loaded is not None
        bind(session, auth.principal_for(session, loaded))
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        session.close()
