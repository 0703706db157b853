"""Issue 16, item 8: crediting part of a line (a quantity), in several credit notes, never
beyond the line; the parts add up to the line exactly and every credit note's EHF validates."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlmodel import select

from billing.credit import credited_line_ids
from billing.models import InvoiceLine
from billing.outputs import render_files
from billing.validate import validate_ehf
from tests.billing import uiworld
from tests.billing.uiworld import Issued

issued = uiworld.issued  # the fixture


def test_part_of_a_line_is_credited_and_never_more_than_the_line(
    issued: Issued, api: Callable[..., TestClient]
) -> None:
    world = issued.world
    with world.session() as s:
        licences = s.exec(
            select(InvoiceLine).where(
                InvoiceLine.invoice_id == issued.invoice_a.id,
                InvoiceLine.service == "Lisens sak/arkiv",
            )
        ).one()
    assert (licences.quantity, licences.net_amount) == (Decimal(40), Decimal("3800.00"))
    admin = api(world.admin)
    path = f"/api/v1/billing/invoices/{issued.invoice_a.id}/credit-notes"
    first = admin.post(path, json={"reason": "10 for mange", "quantities": {licences.id: "10"}})
    assert first.status_code == 201, first.text
    assert Decimal(first.json()["net_total"]) == Decimal("950.00")
    too_many = admin.post(path, json={"reason": "igjen", "quantities": {licences.id: "31"}})
    assert too_many.status_code == 422 and "30" in too_many.text
    rest = admin.post(path, json={"reason": "resten", "quantities": {licences.id: "30"}})
    assert rest.status_code == 201, rest.text
    assert Decimal(first.json()["net_total"]) + Decimal(rest.json()["net_total"]) == Decimal(
        "3800.00"
    )
    again = admin.post(path, json={"reason": "en gang til", "line_ids": [licences.id]})
    assert again.status_code == 409
    with world.session() as s:
        assert licences.id in credited_line_ids(s, issued.invoice_a.id or 0)
        for note in (first.json(), rest.json()):
            assert validate_ehf((render_files(s, note["id"]) or {}).get("ehf", b"")) == []


def test_a_credited_line_is_billed_again_in_a_later_month(issued: Issued) -> None:
    from datetime import date

    import pytest

    from billing import counts, credit, run
    from billing.models import Invoice
    from fellesdrift.kernel.problems import Problem
    from tests.billing.conftest import act

    world = issued.world
    with world.session() as s:
        pool = s.exec(
            select(InvoiceLine).where(
                InvoiceLine.invoice_id == issued.invoice_b.id, InvoiceLine.category == 1
            )
        ).first()
    assert pool is not None
    note = act(world, world.admin, credit.credit, issued.invoice_b.id, "Feil nøkkel", [pool.id])
    with world.session() as s:
        credited = s.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == note.id)).one()  # type: ignore[attr-defined]
    november = date(2026, 11, 1)
    act(world, world.admin, credit.rebill, credited.id, date(2026, 11, 5))
    with pytest.raises(Problem) as twice:
        act(world, world.admin, credit.rebill, credited.id, date(2026, 11, 6))
    assert twice.value.status == 409
    act(world, world.admin, counts.snapshot_registers, november)
    act(world, world.admin, run.draft, november)
    with world.session() as s:
        lines = s.exec(
            select(InvoiceLine)
            .join(Invoice)
            .where(Invoice.kommune_id == world.b.id, Invoice.period_start == november)
        ).all()
    again = [x for x in lines if "fakturert på nytt" in x.description]
    assert [x.net_amount for x in again] == [pool.net_amount]
