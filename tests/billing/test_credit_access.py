"""Credit notes, and who sees which invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import col, select

from billing import counts, credit, run
from billing.models import (
    CountItem,
    CountSnapshot,
    Invoice,
    InvoiceLine,
    InvoiceLineDetail,
    InvoiceRun,
    PriceElement,
)
from fellesdrift.kernel.problems import Problem
from tests.billing.conftest import MONTH, BillingWorld, act


def _issue(world: BillingWorld) -> None:
    act(world, world.admin, counts.snapshot_registers, MONTH)
    world.log(world.ticket(world.a), world.a, 50)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)


def _invoice_of(world: BillingWorld, kommune_id: int) -> Invoice:
    with world.session() as s:
        return s.exec(
            select(Invoice).where(Invoice.kommune_id == kommune_id, Invoice.kind == "invoice")
        ).one()


def test_a_full_credit_note_references_the_original(pg_world: BillingWorld) -> None:
    _issue(pg_world)
    original = _invoice_of(pg_world, pg_world.a.id)
    note = act(
        pg_world,
        pg_world.admin,
        credit.credit,
        original.id,
        "Feil antall timer",
        issue_date=date(2026, 11, 20),
    )
    assert isinstance(note, Invoice)
    assert (note.kind, note.document_number, note.original_id) == (
        "credit_note",
        "K-000001",
        original.id,
    )
    assert (note.net_total, note.payable) == (original.net_total, original.payable)
    with pg_world.session() as s:
        lines = s.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == note.id)).all()
        originals = s.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == original.id)).all()
        assert {x.original_line_id for x in lines} == {x.id for x in originals}
        hours = next(x for x in lines if x.category == 4)
        texts = s.exec(select(InvoiceLineDetail.text).where(InvoiceLineDetail.line_id == hours.id))
        assert [t.endswith(": 1 t") for t in texts] == [True]  # 50 min -> 4 quarters
    with pytest.raises(Problem, match="already credited"):
        act(pg_world, pg_world.admin, credit.credit, original.id, "igjen")


def test_a_partial_credit_and_its_own_gapless_series(pg_world: BillingWorld) -> None:
    _issue(pg_world)
    a = _invoice_of(pg_world, pg_world.a.id)
    b = _invoice_of(pg_world, pg_world.b.id)
    with pg_world.session() as s:
        line = s.exec(
            select(InvoiceLine).where(InvoiceLine.invoice_id == a.id, InvoiceLine.category == 2)
        ).one()
    first = act(pg_world, pg_world.admin, credit.credit, a.id, "Linjen ble sagt opp", [line.id])
    second = act(pg_world, pg_world.admin, credit.credit, b.id, "Feil nøkkel")
    assert [first.number, second.number] == [1, 2]  # type: ignore[attr-defined]
    assert first.net_total == Decimal("4500.00")  # type: ignore[attr-defined]
    with pytest.raises(Problem, match="not lines of"):
        act(pg_world, pg_world.admin, credit.credit, a.id, "x", [(line.id or 0) + 10_000])
    with pytest.raises(Problem, match="say why"):
        act(pg_world, pg_world.admin, credit.credit, a.id, "  ")


def test_a_draft_cannot_be_credited(pg_world: BillingWorld) -> None:
    act(pg_world, pg_world.admin, counts.snapshot_registers, MONTH)
    act(pg_world, pg_world.admin, run.draft, MONTH)
    draft = _invoice_of(pg_world, pg_world.a.id)
    with pytest.raises(Problem, match="not an issued invoice"):
        act(pg_world, pg_world.admin, credit.credit, draft.id, "x")


def _seen(world: BillingWorld, user, model) -> list:  # type: ignore[no-untyped-def]
    with world.session(user) as s:
        return list(s.exec(select(model)))


def test_finance_users_see_only_their_own_kommunes_issued_invoices(pg_world: BillingWorld) -> None:
    w = pg_world
    act(w, w.admin, counts.snapshot_registers, MONTH)
    act(w, w.admin, run.draft, MONTH)
    # Drafts are internal to the drift unit.
    assert _seen(w, w.finance_a, Invoice) == []
    assert _seen(w, w.finance_a, InvoiceLine) == []
    act(w, w.admin, run.review, MONTH)
    act(w, w.admin, run.issue, MONTH)
    seen = _seen(w, w.finance_a, Invoice)
    assert {i.kommune_id for i in seen} == {w.a.id}
    lines = _seen(w, w.finance_a, InvoiceLine)
    assert lines and {x.invoice_id for x in lines} == {seen[0].id}
    details = _seen(w, w.finance_a, InvoiceLineDetail)
    assert details and {d.line_id for d in details} <= {x.id for x in lines}
    assert {s.kommune_id for s in _seen(w, w.finance_a, CountSnapshot)} == {w.a.id}
    items = _seen(w, w.finance_b, CountItem)
    assert [i.label for i in items] == ["Okonomi-B"]
    # The price model and the runs are the same for everyone who pays.
    assert len(_seen(w, w.finance_b, PriceElement)) == 6
    assert len(_seen(w, w.finance_b, InvoiceRun)) == 1
    # Agents of the drift unit are not billing staff; the billing admin sees all.
    assert _seen(w, w.agent, Invoice) == [] and _seen(w, w.agent, CountSnapshot) == []
    assert len(_seen(w, w.admin, Invoice)) == 3
    # Another kommune's invoice by id: not there.
    other = _invoice_of(w, w.b.id)
    with w.session(w.finance_a) as s:
        assert s.exec(select(Invoice).where(col(Invoice.id) == other.id)).first() is None


def test_finance_users_cannot_change_invoices(pg_world: BillingWorld) -> None:
    w = pg_world
    _issue(w)
    with w.session(w.finance_a) as s:
        invoice = s.exec(select(Invoice)).one()
        invoice.note = "endret"
        s.add(invoice)
        with pytest.raises(Problem, match="may not update Invoice"):
            s.flush()
