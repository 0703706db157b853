"""The agent workspace's world: on top of the ticket world (tests/tickets/conftest.py) an admin,
two assignment groups with members, and tickets in several queues."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import Session

from register.models import User
from servicedesk.tickets.models import Group, GroupMember, Ticket
from servicedesk.tickets.schemas import TicketCreate, TicketUpdate
from servicedesk.tickets.service import core
from tests.support.factories import Factory
from tests.tickets.conftest import World


@dataclass
class Desk:
    world: World
    admin: User
    network: Group
    clients: Group
    tickets: dict[str, Ticket] = field(default_factory=dict)


def tid(row: Ticket | Group) -> int:
    """The id of a stored row (typed as not None)."""
    assert row.id is not None
    return row.id


def file_ticket(session: Session, **kw: Any) -> Ticket:
    """A ticket filed through the service (history and notifications as in real life)."""
    ticket = core.create_ticket(session, TicketCreate(**({"title": "Skriveren virker ikke"} | kw)))
    session.commit()
    return ticket


def assign(session: Session, ticket: Ticket, **changes: Any) -> Ticket:
    fresh = core.get_ticket(session, ticket.id)  # type: ignore[arg-type]
    changed = core.update_ticket(
        session,
        ticket.id,  # type: ignore[arg-type]
        TicketUpdate(version=fresh.version, **changes),
    )
    session.commit()
    return changed


@pytest.fixture
def desk(world: World, make: Factory, as_user: Callable[[User], Session]) -> Desk:
    admin = make.user(None, "admin", "agent", username="admin1", email="admin1@drift.no")
    with make.session() as s:
        network = Group(key="nett", name="Nettverk")
        clients = Group(key="klient", name="Klientdrift")
        s.add_all([network, clients])
        s.flush()
        s.add_all(
            [
                GroupMember(group_id=network.id, user_id=world.agent.id),  # type: ignore[arg-type]
                GroupMember(group_id=clients.id, user_id=world.agent2.id),  # type: ignore[arg-type]
            ]
        )
        s.commit()
    return Desk(world, admin, network, clients)
