"""The billing world of tests/billing/conftest.py with October issued, for the page and API
tests: kommune Alfa (with hours on a ticket) and Beta each have an issued invoice."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from billing import counts, run
from billing.models import Invoice
from register.choices import Role
from register.models import User
from tests.billing.conftest import MONTH, BillingWorld, act, build_world


@dataclass
class Issued:
    world: BillingWorld
    invoice_a: Invoice
    invoice_b: Invoice
    end_user_a: User
    ticket_title: str = "Skriver på rådhuset virker ikke"

    @property
    def number_a(self) -> str:
        assert self.invoice_a.document_number is not None
        return self.invoice_a.document_number

    @property
    def number_b(self) -> str:
        assert self.invoice_b.document_number is not None
        return self.invoice_b.document_number


def invoice_of(world: BillingWorld, kommune_id: int) -> Invoice:
    with world.session() as s:
        return s.exec(
            select(Invoice).where(Invoice.kommune_id == kommune_id, Invoice.kind == "invoice")
        ).one()


def issue_october(world: BillingWorld, title: str) -> None:
    act(world, world.admin, counts.snapshot_registers, MONTH)
    world.log(world.ticket(world.a, title), world.a, 50)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)


@pytest.fixture
def issued(engine: Engine) -> Issued:
    world = build_world(engine)
    issue_october(world, Issued.ticket_title)
    end_user = world.make.user(world.a, Role.END_USER, username="ansatt-a")
    return Issued(world, invoice_of(world, world.a.id), invoice_of(world, world.b.id), end_user)
