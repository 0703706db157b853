"""TLP on invoices: the hours of a TLP:RED ticket are billed, but its title never reaches an
invoice (draft, page, CSV, PDF, EHF, API); an AMBER ticket's title shows only on the invoice of
the ticket's own kommune (AMBER: the organisations involved), CLEAR and GREEN titles always.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import select

from billing import counts, run
from billing.assemble import line_details
from billing.models import Invoice, InvoiceLine
from servicedesk.tickets.models import Ticket, TicketWatcher
from tests.billing.conftest import MONTH, BillingWorld, act, build_world
from tests.billing.uiworld import invoice_of
from tests.e2e import conftest as e2e
from tests.support.servers import serve_app

chromium = e2e.chromium  # the fixture

RED = "Innbrudd i lønnssystemet hos Alfa: passord lekket"
AMBER_OF_B = "Beta: sårbarhet i brannmur, ikke rettet"
AMBER_OF_A = "Alfa: sårbarhet i e-postfilteret"
GREEN = "Ny skriver i resepsjonen"


@dataclass
class Tlp:
    world: BillingWorld
    red: int
    amber_b: int
    invoice_a: Invoice


def _ticket(world: BillingWorld, kommune_id: int | None, title: str, tlp: str) -> int:
    with world.make.session() as s:
        t = Ticket(type="incident", kommune_id=kommune_id, title=title, tlp=tlp)
        s.add(t)
        s.flush()
        # The agent who logs the time is a named participant of the ticket.
        s.add(TicketWatcher(ticket_id=t.id, user_id=world.agent.id))
        s.commit()
        assert t.id is not None
        return t.id


@pytest.fixture
def tlp(engine: Engine) -> Tlp:
    world = build_world(engine)
    act(world, world.admin, counts.snapshot_registers, MONTH)
    red = _ticket(world, world.a.id, RED, "red")
    world.log(red, world.a, 90)
    # An AMBER ticket of Beta whose hours are charged to Alfa (work done for both).
    amber_b = _ticket(world, world.b.id, AMBER_OF_B, "amber")
    world.log(amber_b, world.a, 30)
    world.log(_ticket(world, world.a.id, AMBER_OF_A, "amber"), world.a, 15)
    world.log(_ticket(world, world.a.id, GREEN, "green"), world.a, 15)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)
    return Tlp(world, red, amber_b, invoice_of(world, world.a.id))


def _hour_texts(world: BillingWorld, invoice_id: int | None) -> list[str]:
    with world.session(world.admin) as s:
        lines = list(s.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)))
        return [d.text for rows in line_details(s, lines).values() for d in rows]


def test_the_specification_bills_red_hours_without_the_title(tlp: Tlp) -> None:
    texts = _hour_texts(tlp.world, tlp.invoice_a.id)
    red = [t for t in texts if t.startswith(f"#{tlp.red} ")]
    assert red == [f"#{tlp.red} Fortrolig sak (TLP:RED): 1,5 t"]
    amber_b = [t for t in texts if t.startswith(f"#{tlp.amber_b} ")]
    assert amber_b == [f"#{tlp.amber_b} Fortrolig sak (TLP:AMBER): 0,5 t"]
    assert any(AMBER_OF_A in t for t in texts)  # Alfa's own AMBER ticket, on Alfa's invoice
    assert any(GREEN in t for t in texts)
    assert not any(RED in t or AMBER_OF_B in t for t in texts)


def _no_secret(text: str) -> None:
    for secret in (RED, AMBER_OF_B, "Innbrudd", "brannmur"):
        assert secret not in text


def test_finance_sees_no_red_title_in_api_csv_pdf_or_ehf(
    tlp: Tlp, api: Callable[..., TestClient]
) -> None:
    client = api(tlp.world.finance_a)
    base = f"/api/v1/billing/invoices/{tlp.invoice_a.id}"
    detail = client.get(base)
    assert detail.status_code == 200
    _no_secret(detail.text)
    assert "Fortrolig sak (TLP:RED)" in detail.text
    _no_secret(client.get(f"{base}/csv").content.decode("utf-8-sig"))
    pdf = client.get(f"{base}/pdf").content
    text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Fortrolig sak" in text
    _no_secret(text)
    _no_secret(client.get(f"{base}/ehf").content.decode())


def test_the_invoice_page_shows_a_confidential_line(tlp: Tlp, app: Any, chromium: Any) -> None:
    with serve_app(app) as base:
        page = e2e.sign_in(chromium, base, tlp.world.finance_a.username, js=False)
        page.goto(f"/fakturering/fakturaer/{tlp.invoice_a.id}")
        body = page.locator("main")
        expect(body).to_contain_text(f"#{tlp.red} Fortrolig sak (TLP:RED)")
        expect(body).to_contain_text(AMBER_OF_A)
        expect(body).not_to_contain_text(RED)
        expect(body).not_to_contain_text(AMBER_OF_B)
