"""Helpers for the ticket API tests: filing tickets through the API, reading stored rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from servicedesk.tickets.models import Ticket
from tests.support.factories import Factory

Api = Callable[..., TestClient]
Stored = Callable[[int], Ticket]


def file_ticket(client: TestClient, **fields: Any) -> dict[str, Any]:
    """File a ticket through the API (201) and return it."""
    body = {"title": "Skriveren virker ikke"} | fields
    response = client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def move(client: TestClient, ticket: dict[str, Any], status: str, **fields: Any) -> dict[str, Any]:
    """A transition that must succeed; returns the ticket after it."""
    body = {"version": ticket["version"], "status": status} | fields
    response = client.post(f"/api/v1/tickets/{ticket['id']}/transitions", json=body)
    assert response.status_code == 200, response.text
    moved: dict[str, Any] = response.json()
    return moved


@pytest.fixture
def stored(make: Factory) -> Stored:
    """``stored(ticket_id)``: the ticket as the database has it (read as the system)."""

    def load(ticket_id: int) -> Ticket:
        with make.session() as s:
            ticket = s.get(Ticket, ticket_id)
            assert ticket is not None
            return ticket

    return load


# The portal's catalogue (an item without approval, one approved by the systemeier of the shared
# system, one approved by the requester's kommune contact) serves the API tests too.
from tests.tickets.portal.conftest import Catalogue, items  # noqa: E402, F401
