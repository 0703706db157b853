"""Billing fixtures: a small world of three kommuner with a price model, counts, tickets and
time entries, on PostgreSQL and on SQLite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from billing import pricemodel
from billing.models import Supplier
from fellesdrift.kernel.db import make_engine
from register import auth
from register.access import Principal, bind
from register.choices import Role
from register.models import ConfigItem, Kommune, User
from register.schemas import UsageIn
from register.service import cmdb
from servicedesk.tickets.models import Ticket, TimeEntry
from tests.support.factories import Factory

#: OpenPeppol's own Schematron may not be shipped here (no licence to redistribute it; see
#: billing/validation/README.md). Where the team keeps a copy in shared/ beside the project,
#: every EHF test runs it too, through the same setting an operator would use.
SHARED_PEPPOL_RULES = Path(__file__).resolve().parents[3] / "shared" / "peppol"


@pytest.fixture(autouse=True, scope="session")
def official_peppol_rules() -> Iterator[None]:
    found = sorted(SHARED_PEPPOL_RULES.glob("PEPPOL-EN16931-UBL*.sch"))
    if found and "FELLESDRIFT_PEPPOL_SCHEMATRON" not in os.environ:
        os.environ["FELLESDRIFT_PEPPOL_SCHEMATRON"] = str(found[-1])
        yield
        del os.environ["FELLESDRIFT_PEPPOL_SCHEMATRON"]
    else:
        yield


MONTH = date(2026, 10, 1)

PRICE_MODEL = """
versions:
  - name: Prismodell 2026
    valid_from: 2026-01-01
    valid_to: 2026-12-31
    inhabitants: [{date: 2026-01-01, figures: {alfa: 30000, beta: 12000, gamma: 3000}}]
    elements:
      - code: infra
        category: 1
        service: Felles teknisk infrastruktur
        monthly_amount: "100000.00"
        key: {mix: [{key: equal, weight: 1/3}, {key: inhabitants, weight: 2/3}]}
      - code: sikkerhet
        category: 1
        service: Informasjonssikkerhet
        annual_budget: "100000.00"
        key: {fixed: {alfa: 50, beta: 30, gamma: 20}}
      - code: linje-alfa
        category: 2
        service: Fiberlinje Rådhuset
        monthly_amount: "4500.00"
        owner: {kind: site, kommune: alfa, site: radhus}
      - code: brukerkonto
        category: 3
        service: Brukerkonto
        count: user_accounts
        unit_price: "42.50"
      - code: lisens-arkiv
        category: 3
        service: Lisens sak/arkiv
        count: licences
        system: arkiv
        unit_price: "95.00"
      - code: konsulent
        category: 4
        service: Konsulenttimer
        rates: {office_hours: "650.00", after_hours: "975.00"}
        rounding: up_per_entry
        rounding_minutes: 15
"""


@dataclass
class BillingWorld:
    engine: Engine
    make: Factory
    a: Kommune
    b: Kommune
    c: Kommune
    admin: User
    finance_a: User
    finance_b: User
    agent: User
    arkiv: ConfigItem

    def session(self, user: User | None = None) -> Session:
        """A session as ``user`` (the system when None); the caller commits."""
        session = bind(Session(self.engine, expire_on_commit=False), Principal.system("test"))
        if user is not None:
            loaded = session.get(User, user.id)
            assert loaded is not None
            bind(session, auth.principal_for(session, loaded))
        return session

    def ticket(self, kommune: Kommune, title: str = "Skriver virker ikke") -> int:
        with self.make.session() as s:
            t = Ticket(type="incident", kommune_id=kommune.id, title=title)
            s.add(t)
            s.commit()
            assert t.id is not None
            return t.id

    def log(self, ticket_id: int, kommune: Kommune, minutes: int, day: date = MONTH, **kw) -> int:
        with self.make.session() as s:
            e = TimeEntry(
                ticket_id=ticket_id,
                user_id=self.agent.id,
                work_date=day,
                minutes=minutes,
                kommune_id=kommune.id,
                **kw,
            )
            s.add(e)
            s.commit()
            assert e.id is not None
            return e.id


SUPPLIER = dict(
    name="Knutepunkt Test IKT",
    orgnr="998877660",
    street="Gata 1",
    postal_code="4611",
    city="Kristiansand",
    bank_account="28011000004",
    vat_registered=False,
)


def build_world(engine: Engine, vat_registered: bool = False) -> BillingWorld:
    make = Factory(engine)
    a = make.kommune("Alfa", buyer_reference="ALFA-IT")
    b = make.kommune("Beta", buyer_reference="BETA-IT")
    c = make.kommune("Gamma", buyer_reference="GAMMA-IT")
    make.site(a, "radhus", name="Rådhuset")
    arkiv = make.ci("arkiv", name="Sak/arkiv", kind="fagsystem", classification="fellessystem")
    make.run(cmdb.set_usage, arkiv.id, UsageIn(kommune_id=a.id, users_count=40))
    make.run(cmdb.set_usage, arkiv.id, UsageIn(kommune_id=b.id, users_count=15))
    world = BillingWorld(
        engine=engine,
        make=make,
        a=a,
        b=b,
        c=c,
        admin=make.user(None, Role.BILLING_ADMIN, username="faktura"),
        finance_a=make.user(a, Role.FINANCE, username="okonomi-a"),
        finance_b=make.user(b, Role.FINANCE, username="okonomi-b"),
        agent=make.user(None, Role.AGENT, username="agent"),
        arkiv=arkiv,
    )
    with make.session() as s:
        s.add(Supplier(**SUPPLIER | {"vat_registered": vat_registered}))
        pricemodel.import_yaml(s, PRICE_MODEL)
        s.commit()
    return world


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("sqlite", marks=pytest.mark.sqlite),
    ]
)
def any_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a fresh migrated database, on each backend in turn."""
    url = request.getfixturevalue("pg_url" if request.param == "postgres" else "sqlite_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_world(pg_engine: Engine) -> BillingWorld:
    return build_world(pg_engine)


@pytest.fixture
def world(any_engine: Engine) -> BillingWorld:
    return build_world(any_engine)


Act = Callable[..., object]


def act(world: BillingWorld, user: User | None, fn: Act, *args: object, **kw: object) -> object:
    """Call a billing function as ``user`` and commit."""
    with world.session(user) as s:
        result = fn(s, *args, **kw)
        s.commit()
        return result


ZERO = Decimal("0.00")
