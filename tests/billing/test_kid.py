"""KIDs are unique across the invoice and credit-note series, and pass their check digit."""

from __future__ import annotations

from sqlmodel import col, select

from billing import credit
from billing.document import kid_is_valid
from billing.models import Invoice
from tests.billing import uiworld
from tests.billing.conftest import act
from tests.billing.uiworld import Issued

issued = uiworld.issued  # the fixture


def test_a_credit_note_never_shares_a_kid_with_an_invoice(issued: Issued) -> None:
    world = issued.world
    # F-000001 (Alfa) and K-000001, its credit note: the same number in two series.
    act(world, world.admin, credit.credit, issued.invoice_a.id, "Feil antall")
    act(world, world.admin, credit.credit, issued.invoice_b.id, "Feil antall")
    with world.session() as s:
        rows = s.exec(
            select(Invoice.document_number, Invoice.kid).where(col(Invoice.number).is_not(None))
        ).all()
    numbers = {number: kid for number, kid in rows}
    assert {"F-000001", "K-000001", "F-000002", "K-000002"} <= set(numbers)
    kids = [kid for _, kid in rows]
    assert len(set(kids)) == len(kids), numbers
    assert all(kid is not None and kid_is_valid(kid) for kid in kids)
    assert all(kid is not None and len(kid) == 15 for kid in kids)
