"""SLA fixtures on top of the ticket world: the agreements of tests/sla imported, a critical
system (journal, life and health) used by Alfa, and an assignment group with a lead."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from register.models import ConfigItem, User
from register.schemas import UsageIn
from register.service import cmdb
from servicedesk.tickets.clock_models import TicketClock, TicketClockEvent
from servicedesk.tickets.models import Group
from sla import importer
from tests.sla.conftest import AGREEMENTS
from tests.support.factories import Factory
from tests.tickets.conftest import World


@dataclass
class SlaWorld:
    journal: ConfigItem
    group: Group
    lead: User


@pytest.fixture
def sla(world: World, make: Factory) -> SlaWorld:
    journal = make.ci(
        "journal", name="Journalsystem", kind="fagsystem", classification="fellessystem",
        life_and_health=True,
    )  # fmt: skip
    for k in (world.a, world.b):
        make.run(cmdb.set_usage, journal.id, UsageIn(kommune_id=k.id, users_count=40))
    lead = make.user(None, "agent", username="gruppeleder", email="leder@drift.no")

    def add_group(s: Session) -> Group:
        group = Group(key="helse", name="Helse", lead_id=lead.id)
        s.add(group)
        s.flush()
        return group

    group = make.run(add_group)
    make.run(importer.import_yaml, AGREEMENTS, "avtaler.yaml")
    return SlaWorld(journal, group, lead)


def clocks(make: Factory, ticket_id: int) -> dict[str, TicketClock]:
    with make.session() as s:
        rows = s.exec(select(TicketClock).where(TicketClock.ticket_id == ticket_id))
        return {r.kind: r for r in rows}


def events(make: Factory, ticket_id: int, kind: str) -> list[str]:
    with make.session() as s:
        rows = s.exec(
            select(TicketClockEvent)
            .where(TicketClockEvent.ticket_id == ticket_id, TicketClockEvent.kind == kind)
            .order_by(TicketClockEvent.id)  # type: ignore[arg-type]
        )
        return [r.event for r in rows]
