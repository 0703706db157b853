"""Issue 16, item 8: the EHF carries the buyer's order reference (BT-13), kontostreng on the
invoice and per line (BT-19, BT-133) and the buyer's contact, from the kommune's settings and the
price element; the documents still validate."""

from __future__ import annotations

from lxml import etree
from sqlmodel import select

from billing import counts, credit, run
from billing.models import Invoice, PriceElement
from billing.outputs import render_files
from billing.validate import validate_ehf
from register.models import Kommune, KommuneContact
from tests.billing.conftest import MONTH, BillingWorld, act

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def test_order_reference_kontostreng_and_contact_reach_the_ehf(pg_world: BillingWorld) -> None:
    world = pg_world
    with world.session() as s:
        alfa = s.get(Kommune, world.a.id)
        assert alfa is not None
        alfa.accounting_cost, alfa.order_reference = "1200.4300.120", "AVTALE-2026-17"
        s.add(alfa)
        s.add(
            KommuneContact(
                kommune_id=alfa.id,
                kind="finance",
                name="Kari Regnskap",
                email="faktura@alfa.kommune.no",
                phone="38 00 00 00",
            )
        )
        element = s.exec(select(PriceElement).where(PriceElement.code == "konsulent")).one()
        element.accounting_cost = "1200.4390.120"
        s.add(element)
        s.commit()
    act(world, world.admin, counts.snapshot_registers, MONTH)
    world.log(world.ticket(world.a), world.a, 45)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)
    with world.session() as s:
        invoice = s.exec(select(Invoice).where(Invoice.kommune_id == world.a.id)).one()
    note = act(world, world.admin, credit.credit, invoice.id, "Feil kontostreng")
    for invoice_id in (invoice.id, note.id):  # type: ignore[attr-defined]
        with world.session() as s:
            ehf = (render_files(s, invoice_id or 0) or {}).get("ehf", b"")
        assert validate_ehf(ehf) == [], invoice_id
        root = etree.fromstring(ehf)
        assert root.findtext("cbc:AccountingCost", namespaces=NS) == "1200.4300.120"
        assert root.findtext("cac:OrderReference/cbc:ID", namespaces=NS) == "AVTALE-2026-17"
        contact = root.find("cac:AccountingCustomerParty/cac:Party/cac:Contact", NS)
        assert contact is not None
        assert contact.findtext("cbc:Name", namespaces=NS) == "Kari Regnskap"
        assert contact.findtext("cbc:Telephone", namespaces=NS) == "38 00 00 00"
        costs = [e.text for e in root.iterfind(".//cbc:AccountingCost", NS)][1:]
        assert "1200.4390.120" in costs and set(costs) <= {"1200.4390.120", "1200.4300.120"}
