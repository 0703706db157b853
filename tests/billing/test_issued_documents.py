"""Issued documents never change: the EHF, PDF and CSV of an issued invoice or credit note are
stored when it is issued and served as stored, whatever happens to the register or the supplier
afterwards; the database refuses to change or delete them (bokføringsloven)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from billing import credit
from billing.models import InvoiceFile, Supplier
from billing.validate import validate_ehf
from register.models import Kommune
from tests.billing import uiworld
from tests.billing.conftest import act
from tests.billing.uiworld import Issued
from tests.support.fixtures import Browser

issued = uiworld.issued  # the fixture
BASE = "/api/v1/billing/invoices"
KINDS = ("ehf", "pdf", "csv")


def _downloads(client: TestClient, invoice_id: int | None) -> dict[str, bytes]:
    out = {}
    for kind in KINDS:
        response = client.get(f"{BASE}/{invoice_id}/{kind}")
        assert response.status_code == 200, (kind, response.text[:300])
        out[kind] = response.content
    return out


def _change_master_data(issued: Issued) -> None:
    with issued.world.session() as s:
        kommune = s.get(Kommune, issued.world.a.id)
        assert kommune is not None
        kommune.address_line = "Flyttet vei 99"
        s.add(kommune)
        supplier = s.exec(select(Supplier)).one()
        supplier.vat_registered = True
        supplier.name = "Nytt navn IKT"
        s.add(supplier)
        s.commit()


def test_issued_documents_are_served_as_issued(
    issued: Issued, api: Callable[..., TestClient], browser: Callable[..., Browser]
) -> None:
    world = issued.world
    note = act(world, world.admin, credit.credit, issued.invoice_b.id, "Feil antall")
    finance_a, finance_b = api(world.finance_a), api(world.finance_b)
    before_a = _downloads(finance_a, issued.invoice_a.id)
    before_note = _downloads(finance_b, note.id)  # type: ignore[attr-defined]
    assert validate_ehf(before_a["ehf"]) == []
    assert validate_ehf(before_note["ehf"]) == []
    note_2 = act(world, world.admin, credit.credit, issued.invoice_a.id, "Feil pris")
    _change_master_data(issued)
    assert _downloads(finance_a, issued.invoice_a.id) == before_a
    assert _downloads(finance_b, note.id) == before_note  # type: ignore[attr-defined]
    # Downloaded for the first time after the change: made from the document as issued.
    first_time = _downloads(finance_a, note_2.id)  # type: ignore[attr-defined]
    assert b"Knutepunkt Test IKT" in first_time["ehf"] and b"Nytt navn" not in first_time["ehf"]
    assert validate_ehf(first_time["ehf"]) == []
    page = browser(world.finance_a).get(f"/fakturering/fakturaer/{issued.invoice_a.id}")
    assert page.status_code == 200 and issued.number_a in page.text


def test_the_database_refuses_to_change_or_delete_an_issued_document(
    issued: Issued, api: Callable[..., TestClient]
) -> None:
    _downloads(api(issued.world.finance_a), issued.invoice_a.id)
    with issued.world.session() as s:
        rows = s.exec(
            select(InvoiceFile.kind).where(InvoiceFile.invoice_id == issued.invoice_a.id)
        ).all()
    assert sorted(rows) == ["csv", "document", "ehf", "pdf"]
    table = InvoiceFile.__table__  # type: ignore[attr-defined]
    for statement in (
        sa.update(table).values(content=b"forged"),
        sa.delete(table),
    ):
        with issued.world.engine.connect() as connection, pytest.raises(DBAPIError) as caught:
            connection.execute(statement)
        assert "legal record" in str(caught.value)
