"""The monthly run: draft, review, issue; determinism, locking, numbering and bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import col, func, select

from billing import counts, run
from billing.assemble import line_details
from billing.document import kid_is_valid
from billing.locks import invoice_of_entry
from billing.models import CountSnapshot, Invoice, InvoiceLine, InvoiceRun
from fellesdrift.kernel.problems import Problem
from fellesdrift.kernel.web import problem_detail
from servicedesk.tickets.models import TimeEntry
from tests.billing.conftest import MONTH, BillingWorld, act


def _prepare(world: BillingWorld) -> None:
    act(world, world.admin, counts.snapshot_registers, MONTH)
    t_a = world.ticket(world.a, "Skriver virker ikke")
    t_b = world.ticket(world.b, "Ny bruker")
    world.log(t_a, world.a, 20)  # 2 quarters -> 0.5 h
    world.log(t_a, world.a, 15)  # 1 quarter -> 0.25 h
    world.log(t_a, world.a, 61, work_type="after_hours")  # 5 quarters -> 1.25 h
    world.log(t_b, world.b, 45)
    world.log(t_b, world.b, 600, billable=False)
    world.log(t_b, world.b, 30, day=date(2026, 11, 2))  # next month


def _lines(world: BillingWorld, kommune_id: int) -> list[InvoiceLine]:
    with world.session() as s:
        return list(
            s.exec(
                select(InvoiceLine)
                .join(Invoice)
                .where(Invoice.kommune_id == kommune_id, Invoice.kind == "invoice")
                .order_by(col(InvoiceLine.position))
            )
        )


def test_a_draft_bills_all_four_categories(world: BillingWorld) -> None:
    _prepare(world)
    act(world, world.admin, run.draft, MONTH)
    a = {(line.category, line.description): line for line in _lines(world, world.a.id)}
    # Category 1: the pool split 1/3 equal + 2/3 by inhabitants (30 000 of 45 000)
    infra = a[(1, "Felles teknisk infrastruktur")]
    assert infra.net_amount == Decimal("55555.56")  # 1/9 + 4/9 of 100 000, rounded
    assert infra.pool_amount == Decimal("100000.00") and infra.key_kind == "mix"
    # An annual budget of 100 000 over 12 months, 50 % fixed share; October gets no extra øre
    assert a[(1, "Informasjonssikkerhet")].net_amount == Decimal("4166.66")
    assert a[(2, "Fiberlinje Rådhuset")].net_amount == Decimal("4500.00")
    licences = a[(3, "Lisens sak/arkiv")]
    assert (licences.quantity, licences.net_amount) == (Decimal(40), Decimal("3800.00"))
    assert a[(3, "Brukerkonto")].quantity == Decimal(1)  # okonomi-a is A's only account
    office = a[(4, "Konsulenttimer (kontortid)")]
    assert (office.quantity, office.unit_price, office.net_amount) == (
        Decimal("0.75"),
        Decimal("650.00"),
        Decimal("487.50"),
    )
    after = a[(4, "Konsulenttimer (utenfor kontortid)")]
    assert (after.quantity, after.net_amount) == (Decimal("1.25"), Decimal("1218.75"))
    assert {line.vat_category for line in a.values()} == {"O"}


def test_category_one_shares_sum_to_the_pool_over_all_kommuner(world: BillingWorld) -> None:
    _prepare(world)
    act(world, world.admin, run.draft, MONTH)
    with world.session() as s:
        lines = s.exec(select(InvoiceLine).where(InvoiceLine.category == 1)).all()
    by_service: dict[str, Decimal] = {}
    for line in lines:
        by_service[line.service] = by_service.get(line.service, Decimal(0)) + line.net_amount
    assert by_service == {
        "Felles teknisk infrastruktur": Decimal("100000.00"),
        "Informasjonssikkerhet": Decimal("8333.33"),  # 100 000 / 12; the øre left go to Jan-Apr
    }


def test_the_specification_names_counted_users_and_hours_per_ticket(world: BillingWorld) -> None:
    _prepare(world)
    act(world, world.admin, run.draft, MONTH)
    lines = _lines(world, world.a.id)
    by_description = {line.description: line for line in lines}
    with world.session() as s:
        details = line_details(s, lines)
    accounts = details[by_description["Brukerkonto"].id or 0]
    assert [(d.text, d.quantity, d.amount) for d in accounts] == [
        ("Okonomi-A", Decimal(1), Decimal("42.50"))
    ]
    office = details[by_description["Konsulenttimer (kontortid)"].id or 0]
    assert len(office) == 1 and office[0].text.endswith("Skriver virker ikke: 0,75 t")


def test_a_redraft_replaces_the_draft_and_is_identical(world: BillingWorld) -> None:
    _prepare(world)
    act(world, world.admin, run.draft, MONTH)

    def snapshot() -> list[tuple]:
        with world.session() as s:
            rows = s.exec(
                select(
                    Invoice.kommune_id,
                    InvoiceLine.position,
                    InvoiceLine.net_amount,
                    InvoiceLine.quantity,
                    InvoiceLine.description,
                )
                .join(Invoice)
                .order_by(col(Invoice.kommune_id), col(InvoiceLine.position))
            )
            return list(rows)

    first = snapshot()
    act(world, world.admin, run.draft, MONTH)
    assert snapshot() == first
    with world.session() as s:
        assert s.exec(select(func.count()).select_from(Invoice)).one() == 3
        assert s.exec(select(func.count()).select_from(InvoiceRun)).one() == 1


def test_issuing_numbers_gaplessly_and_locks_what_it_billed(world: BillingWorld) -> None:
    _prepare(world)
    act(world, world.admin, run.draft, MONTH)
    act(world, world.admin, run.review, MONTH)
    act(world, world.admin, run.issue, MONTH, issue_date=date(2026, 11, 2))
    with world.session() as s:
        invoices = s.exec(select(Invoice).order_by(col(Invoice.number))).all()
        assert [i.document_number for i in invoices] == ["F-000001", "F-000002", "F-000003"]
        assert all(kid_is_valid(i.kid or "") for i in invoices)
        assert {i.due_date for i in invoices} == {date(2026, 12, 2)}
        refs = {e.minutes: invoice_of_entry(s, e) for e in s.exec(select(TimeEntry))}
        by_kommune = {i.kommune_id: i.document_number for i in invoices}
        assert refs[20] == by_kommune[world.a.id or 0] and refs[45] == by_kommune[world.b.id or 0]
        assert refs[600] is None  # not billable
        assert refs[30] is None  # November, not invoiced yet
        assert all(snap.locked_run_id for snap in s.exec(select(CountSnapshot)))
        assert s.exec(select(InvoiceRun)).one().state == "issued"
    # The next month continues the series.
    november = date(2026, 11, 1)
    act(world, world.admin, counts.snapshot_registers, november)
    act(world, world.admin, run.draft, november)
    act(world, world.admin, run.review, november)
    act(world, world.admin, run.issue, november)
    with world.session() as s:
        numbers = s.exec(select(Invoice.number).order_by(col(Invoice.number))).all()
        assert numbers == [1, 2, 3, 4, 5, 6]


def test_an_issued_run_is_immutable(world: BillingWorld) -> None:
    _prepare(world)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)
    with pytest.raises(Problem, match="issued; correct it with credit notes"):
        act(world, world.admin, run.draft, MONTH)
    with pytest.raises(Problem, match="issued and cannot be discarded"):
        act(world, world.admin, run.discard, MONTH)
    with pytest.raises(Problem, match="is invoiced; its counts are final"):
        act(world, world.admin, counts.snapshot_registers, MONTH)


def test_a_time_entry_in_an_invoiced_month_is_refused(world: BillingWorld) -> None:
    _prepare(world)
    for step in (run.draft, run.review, run.issue):
        act(world, world.admin, step, MONTH)
    ticket = world.ticket(world.a)
    with pytest.raises(Problem, match=r"2026-10 is invoiced"):
        world.log(ticket, world.a, 30, day=date(2026, 10, 31))
    with world.session() as s:
        entry = s.exec(select(TimeEntry).where(TimeEntry.minutes == 30)).one()  # November's
        entry.work_date = date(2026, 10, 5)
        s.add(entry)
        with pytest.raises(Problem, match="is invoiced"):
            s.flush()
    world.log(ticket, world.a, 30, day=date(2026, 11, 30))  # an open month is fine


def test_inputs_changed_after_review_stop_the_issue(world: BillingWorld) -> None:
    _prepare(world)
    act(world, world.admin, run.draft, MONTH)
    act(world, world.admin, run.review, MONTH)
    world.log(world.ticket(world.c), world.c, 15)
    with pytest.raises(Problem, match="changed after the draft"):
        act(world, world.admin, run.issue, MONTH)
    with world.session() as s:
        assert s.exec(select(Invoice.number).where(col(Invoice.number).is_not(None))).all() == []
        assert s.exec(select(InvoiceRun)).one().state == "reviewed"
        assert all(invoice_of_entry(s, e) is None for e in s.exec(select(TimeEntry)))
    # Drafted and reviewed again, it issues from number 1: nothing was used up.
    act(world, world.admin, run.draft, MONTH)
    act(world, world.admin, run.review, MONTH)
    invoices = act(world, world.admin, run.issue, MONTH)
    assert sorted(i.number for i in invoices) == [1, 2, 3]  # type: ignore[attr-defined]


def test_issue_needs_a_review_first(world: BillingWorld) -> None:
    _prepare(world)
    act(world, world.admin, run.draft, MONTH)
    with pytest.raises(Problem, match="issued after review"):
        act(world, world.admin, run.issue, MONTH)


def test_issuing_an_issued_month_again_names_the_real_reason(world: BillingWorld) -> None:
    # It said "the invoice run for 2026-10 is issued; it is issued after review".
    _prepare(world)
    act(world, world.admin, run.draft, MONTH)
    act(world, world.admin, run.review, MONTH)
    act(world, world.admin, run.issue, MONTH)
    with pytest.raises(Problem) as refused:
        act(world, world.admin, run.issue, MONTH)
    problem = refused.value
    assert problem.status == 409
    assert problem.detail.startswith(f"the invoice run for {MONTH:%Y-%m} was already issued on ")
    assert "cannot be issued again" in problem.detail and "after review" not in problem.detail
    assert problem_detail(problem, "nb").startswith(
        f"fakturakjøringen for {MONTH:%Y-%m} ble allerede utstedt "
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("rate", "work type 'travel', which element 'konsulent' has no rate for"),
        ("count", "no count of user_accounts for 2026-10"),
        ("inhabitants", "has no inhabitants figure for 2026-01-01"),
    ],
)
def test_bad_input_names_the_item_and_drafts_nothing(
    world: BillingWorld, setup: str, message: str
) -> None:
    if setup != "count":
        act(world, world.admin, counts.snapshot_registers, MONTH)
    if setup == "rate":
        world.log(world.ticket(world.a), world.a, 30, work_type="travel")
    if setup == "inhabitants":
        world.make.kommune("Delta", inhabitants=None, inhabitants_date=None)
    with pytest.raises(Problem, match=message) as caught:
        act(world, world.admin, run.draft, MONTH)
    assert caught.value.status == 422
    with world.session() as s:
        assert s.exec(select(func.count()).select_from(InvoiceRun)).one() == 0
        assert s.exec(select(func.count()).select_from(Invoice)).one() == 0


def test_only_the_billing_admin_runs_billing(world: BillingWorld) -> None:
    _prepare(world)
    for user in (world.finance_a, world.agent):
        with pytest.raises(Problem, match="only the billing admin") as caught:
            act(world, user, run.draft, MONTH)
        assert caught.value.status == 403
