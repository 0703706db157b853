"""A small world for change tests: a life-and-health system used by two kommuner, with its
systemeier, a server it runs on, drift staff and three CAB members."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from register import auth
from register.access import Principal, bind
from register.choices import Role
from register.models import ConfigItem, Kommune, User
from register.schemas import RelationIn, ResponsibilityIn, UsageIn
from register.service import cmdb
from sla.calendar import OSLO, SERVICE_DESK
from tests.support.factories import Factory

RISK_LOW = {
    "reach": "one_unit",
    "downtime": "none",
    "tested": "yes",
    "backout": "simple",
    "experience": "routine",
}
RISK_HIGH = dict(RISK_LOW, reach="several_kommuner", downtime="long", tested="no")


@dataclass
class World:
    make: Factory
    a: Kommune
    b: Kommune
    health: ConfigItem  # life and health, window Tuesday 20-24
    server: ConfigItem  # the health system runs on it
    plain: ConfigItem  # an ordinary system of kommune b
    agent: User
    agent2: User
    eier: User  # systemeier of health
    plain_eier: User
    cab: list[User]
    contact_a: User
    contact_other: User

    @contextmanager
    def as_(self, user: User) -> Iterator[Session]:
        with Session(self.make.engine, expire_on_commit=False) as s:
            bind(s, Principal.system("test"))
            owner = s.get(User, user.id)
            assert owner is not None
            bind(s, auth.principal_for(s, owner))
            yield s
            s.commit()

    def run(self, user: User, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        with self.as_(user) as s:
            return fn(s, *args, **kw)


def next_window(weeks: int = 2) -> tuple[datetime, datetime]:
    """A Tuesday 20:30-22:00 (Oslo) at least ``weeks`` weeks ahead and past the lead time."""
    earliest = SERVICE_DESK.add_working_days(datetime.now(OSLO), 5).date() + timedelta(
        weeks=weeks - 1
    )
    day = earliest + timedelta(days=(1 - earliest.weekday()) % 7)
    start = datetime(day.year, day.month, day.day, 20, 30, tzinfo=OSLO)
    return start, start + timedelta(minutes=90)


@pytest.fixture
def world(make: Factory) -> World:
    a, b, other = make.kommune("Alfa"), make.kommune("Bravo"), make.kommune("Charlie")
    health = make.ci(
        "journal",
        name="Helsejournal",
        kind="fagsystem",
        classification="sektorsystem",
        life_and_health=True,
        maintenance_window="tue 20:00-24:00",
    )
    server = make.ci("journal-db", name="Journal DB", kind="server")
    plain = make.ci(
        "skole",
        name="Skolesystem",
        kind="fagsystem",
        classification="sektorsystem",
        owner_kommune_id=b.id,
    )
    make.run(cmdb.add_relation, health.id, RelationIn(target_id=server.id, kind="runs_on"))  # type: ignore[arg-type]
    for k in (a, b):
        make.run(cmdb.set_usage, health.id, UsageIn(kommune_id=k.id, users_count=10))
    agent, agent2 = make.user(None, Role.AGENT), make.user(None, Role.AGENT)
    eier, plain_eier = make.user(a, Role.SYSTEMEIER), make.user(b, Role.SYSTEMEIER)
    make.run(
        cmdb.add_responsibility, health.id, ResponsibilityIn(user_id=eier.id, kind="systemeier")
    )  # type: ignore[arg-type]
    make.run(
        cmdb.add_responsibility,
        plain.id,
        ResponsibilityIn(user_id=plain_eier.id, kind="systemeier"),
    )  # type: ignore[arg-type]
    cab = [make.user(None, Role.AGENT, Role.CAB_MEMBER, email=f"cab{i}@drift.no") for i in (1, 2)]
    cab.append(make.user(a, Role.CAB_MEMBER, email="cab@alfa.no"))
    contact_a = make.user(a, Role.KOMMUNE_CONTACT)
    contact_other = make.user(other, Role.KOMMUNE_CONTACT)
    return World(
        make,
        a,
        b,
        health,
        server,
        plain,
        agent,
        agent2,
        eier,
        plain_eier,
        cab,
        contact_a,
        contact_other,
    )
