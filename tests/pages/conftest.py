"""A small world for the page tests: two kommuner, their people, the drift unit, some systems."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from register import auth
from register.choices import Role
from register.models import ConfigItem, Kommune, Site, User
from register.schemas import UsageIn
from register.service import cmdb
from tests.support.factories import PASSWORD, Factory


@cache
def _password_hash() -> str:
    """One argon2 hash of the test password for every person of the world (hashing is slow by
    design; six per test would dominate the suite's time)."""
    return auth.hash_password(PASSWORD)


def _person(make: Factory, kommune: Kommune | None, *roles: Role, **kw: Any) -> User:
    user = make.user(kommune, *roles, password=None, **kw)
    with make.session() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.password_hash = _password_hash()
        s.commit()
    return user


@dataclass
class World:
    lillesand: Kommune
    birkenes: Kommune
    radhuset: Site
    skolen: Site
    admin: User
    agent: User
    contact: User
    end_user: User
    other_contact: User
    fagsystem: ConfigItem
    server: ConfigItem
    other_system: ConfigItem


@pytest.fixture
def world(make: Factory) -> World:
    lillesand = make.kommune("Lillesand")
    birkenes = make.kommune("Birkenes")
    radhuset = make.site(lillesand, "radhuset", name="Rådhuset")
    skolen = make.site(birkenes, "skolen", name="Birkeland skole")
    fagsystem = make.ci(
        "visma-hrm",
        name="Visma HRM",
        kind="fagsystem",
        classification="fellessystem",
        criticality="high",
        finance_payroll=True,
    )
    server = make.ci("srv-app01", name="Applikasjonsserver 01", kind="server")
    other = make.ci(
        "birk-arkiv",
        name="Birkenes arkiv",
        kind="fagsystem",
        classification="virksomhetsspesifikt",
        owner_kommune_id=birkenes.id,
    )
    make.run(cmdb.set_usage, fagsystem.id, UsageIn(kommune_id=lillesand.id or 0, users_count=120))
    return World(
        lillesand=lillesand,
        birkenes=birkenes,
        radhuset=radhuset,
        skolen=skolen,
        admin=_person(make, None, Role.ADMIN, Role.AGENT, username="ada", full_name="Ada Admin"),
        agent=_person(make, None, Role.AGENT, username="arne", full_name="Arne Agent"),
        contact=_person(
            make,
            lillesand,
            Role.KOMMUNE_CONTACT,
            Role.END_USER,
            username="kari",
            full_name="Kari Kontakt",
        ),
        end_user=_person(make, lillesand, Role.END_USER, username="ola", full_name="Ola Nordmann"),
        other_contact=_person(
            make, birkenes, Role.KOMMUNE_CONTACT, username="berit", full_name="Berit Birkenes"
        ),
        fagsystem=fagsystem,
        server=server,
        other_system=other,
    )


def no_csrf(client: Any) -> Any:
    """The client without the CSRF header the fixture adds after sign-in."""
    client.headers.pop("X-CSRF-Token", None)
    return client
