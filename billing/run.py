"""The monthly invoice run: draft, review, issue.

* ``draft`` computes every kommune's invoice for the month. It is deterministic and
  idempotent: re-running replaces the draft (and sends a reviewed run back to draft).
* ``review`` marks the draft as checked by the billing admin.
* ``issue`` recomputes the run and refuses if any input changed since the draft; then, in the
  caller's one transaction, it takes gapless numbers, sets KID and dates, and locks the time
  entries, count snapshots and purchases it billed. Issued invoices are never changed again;
  corrections are credit notes (``billing.credit``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from billing.choices import InvoiceKind, RunState
from billing.compute import Context, LineDraft, compute
from billing.counts import first_of_month, require_ended
from billing.discard import clear_drafts, discard_run
from billing.errors import conflict
from billing.inputs import Inputs, entry_sums_of, fingerprint, gather, month_end
from billing.models import CountSnapshot, Invoice, InvoiceRun, Purchase
from billing.numbering import (
    INVOICE_SERIES,
    OSLO,
    document_number,
    due_date,
    kid_for,
    prefix_of,
    supplier_of,
    take_numbers,
    today_in_oslo,
    vat_of,
)
from billing.outputs import store_documents
from billing.permissions import require_billing_admin
from billing.pricemodel import inhabitants_on, reference_date
from billing.store import insert_details, write_invoice
from fellesdrift.kernel.problems import not_found
from fellesdrift.kernel.types import utcnow
from register.access import elevated
from register.models import ConfigItem, Kommune
from register.service.audit import record

#: ``progress(step, done, total)``: called as the run advances (the CLI draws a bar with it).
Progress = Callable[[str, int, int], None]


def _quiet(_step: str, _done: int, _total: int) -> None:
    return None


def run_of(session: Session, month: date) -> InvoiceRun | None:
    return session.exec(select(InvoiceRun).where(InvoiceRun.month == first_of_month(month))).first()


def _context(session: Session, inputs: Inputs) -> Context:
    days = {reference_date(e, inputs.version.valid_from) for e in inputs.elements if e.key_kind}
    inhabitants = {day: inhabitants_on(session, day) for day in days}
    ci_ids = [e.ci_id for e in inputs.elements if e.ci_id is not None]
    systems = {
        c.id: c.key for c in session.exec(select(ConfigItem).where(col(ConfigItem.id).in_(ci_ids)))
    }
    vat = vat_of(supplier_of(session))
    return Context(inputs, vat, inhabitants, systems)  # type: ignore[arg-type]


def calculate(session: Session, month: date) -> tuple[Inputs, dict[int, list[LineDraft]], str]:
    """The month's lines per kommune and the fingerprint of their inputs (no writes)."""
    inputs = gather(session, month)
    digest = fingerprint(session, month, entry_sums_of(inputs.raw_time))
    return inputs, compute(_context(session, inputs)), digest


def draft(session: Session, month: date, progress: Progress = _quiet) -> InvoiceRun:
    """Draft (or re-draft) the month's invoices; refuses an issued month."""
    p = require_billing_admin(session)
    month = require_ended(month)
    with elevated(session, "billing: draft"):
        run = run_of(session, month)
        if run is not None and run.state == RunState.ISSUED:
            raise conflict(
                "run_issued",
                "the invoice run for {month} is issued; correct it with credit notes",
                month=f"{month:%Y-%m}",
            )
        progress("gather", 0, 1)
        inputs, lines, digest = calculate(session, month)
        progress("gather", 1, 1)
        run = _reset(session, run, month, inputs, digest, p.user_id)
        kommuner = {k.id: k for k in inputs.kommuner}
        details: list[tuple[object, ...]] = []
        for i, (kommune_id, drafts) in enumerate(lines.items(), start=1):
            details += write_invoice(session, run, kommuner[kommune_id], inputs, drafts)
            progress("write", i, len(lines))
        insert_details(session, details)
    record(session, "draft", "invoice_run", f"{month:%Y-%m}", None, f"{len(lines)} invoices")
    return run


def _reset(
    session: Session,
    run: InvoiceRun | None,
    month: date,
    inputs: Inputs,
    digest: str,
    user_id: int | None,
) -> InvoiceRun:
    if run is None:
        run = InvoiceRun(month=month, version_id=inputs.version.id, input_digest=digest)  # type: ignore[arg-type]
    else:
        clear_drafts(session, run)
    run.state = RunState.DRAFT.value
    run.version_id = inputs.version.id  # type: ignore[assignment]
    run.input_digest = digest
    run.drafted_at, run.drafted_by_id = utcnow(), user_id
    run.reviewed_at = run.reviewed_by_id = None
    session.add(run)
    session.flush()
    return run


def _existing(session: Session, month: date) -> InvoiceRun:
    run = run_of(session, month)
    if run is None:
        raise not_found(f"invoice run for {month:%Y-%m}")
    return run


def review(session: Session, month: date) -> InvoiceRun:
    """Mark the month's draft as reviewed."""
    p = require_billing_admin(session)
    with elevated(session, "billing: review"):
        run = _existing(session, first_of_month(month))
        if run.state != RunState.DRAFT:
            raise conflict(
                "run_not_draft",
                "the invoice run for {month} is {state}, not a draft",
                month=f"{run.month:%Y-%m}",
                state=run.state,
            )
        run.state = RunState.REVIEWED.value
        run.reviewed_at, run.reviewed_by_id = utcnow(), p.user_id
    record(session, "review", "invoice_run", f"{run.month:%Y-%m}")
    return run


def issue(
    session: Session, month: date, issue_date: date | None = None, progress: Progress = _quiet
) -> list[Invoice]:
    """Issue the reviewed run: numbers, KID, dates; lock what it billed. All in the caller's
    transaction: on any error nothing is issued and no number is used."""
    p = require_billing_admin(session)
    with elevated(session, "billing: issue"):
        run = _lock(session, _existing(session, require_ended(month)))
        if run.state == RunState.ISSUED:
            raise conflict(
                "run_already_issued",
                "the invoice run for {month} was already issued on {issued}; it cannot be "
                "issued again (correct it with credit notes)",
                month=f"{run.month:%Y-%m}",
                issued=f"{run.issued_at.astimezone(OSLO):%Y-%m-%d}" if run.issued_at else "?",
            )
        if run.state != RunState.REVIEWED:
            raise conflict(
                "run_not_reviewed",
                "the invoice run for {month} is {state}; it is issued after review",
                month=f"{run.month:%Y-%m}",
                state=run.state,
            )
        progress("verify", 0, 1)
        if fingerprint(session, run.month) != run.input_digest:
            raise conflict(
                "inputs_changed",
                "the inputs of {month} changed after the draft (time entries, "
                "counts, purchases, prices or the register); draft and review it again",
                month=f"{run.month:%Y-%m}",
            )
        progress("verify", 1, 1)
        invoices = _number(session, run, issue_date or today_in_oslo())
        for n, invoice in enumerate(invoices, start=1):
            # Every invoice must make a valid document (party, KID, account) before it is
            # issued; the document is frozen with it (its files are made from that).
            store_documents(session, invoice.id)  # type: ignore[arg-type]
            progress("documents", n, len(invoices))
        _lock_inputs(session, run)
        run.state = RunState.ISSUED.value
        run.issued_at, run.issued_by_id = utcnow(), p.user_id
        progress("issue", 1, 1)
    record(session, "issue", "invoice_run", f"{run.month:%Y-%m}", None, f"{len(invoices)} invoices")
    return invoices


def _lock(session: Session, run: InvoiceRun) -> InvoiceRun:
    """Hold the run's row for the transaction, so two issues of one month cannot interleave."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.select(col(InvoiceRun.id)).where(col(InvoiceRun.id) == run.id).with_for_update()
        )
        session.refresh(run)
    return run


def _number(session: Session, run: InvoiceRun, issued: date) -> list[Invoice]:
    supplier = supplier_of(session)
    rows = session.exec(
        select(Invoice, Kommune)
        .join(Kommune, col(Kommune.id) == col(Invoice.kommune_id))
        .where(Invoice.run_id == run.id, Invoice.kind == InvoiceKind.INVOICE.value)
        .order_by(col(Kommune.kommunenummer), col(Invoice.id))
    ).all()
    numbers = take_numbers(session, INVOICE_SERIES, len(rows))
    prefix = prefix_of(session, INVOICE_SERIES)
    for (invoice, kommune), number in zip(rows, numbers, strict=True):
        invoice.number = number
        invoice.document_number = document_number(prefix, number)
        invoice.kid = kid_for(supplier, kommune.kommunenummer, number)
        invoice.issue_date, invoice.due_date = issued, due_date(supplier, issued)
        session.add(invoice)
    session.flush()
    return [invoice for invoice, _ in rows]


def _lock_inputs(session: Session, run: InvoiceRun) -> None:
    """Lock what the run billed. Time entries are locked by their month: once the run is
    issued, ``billing.locks`` refuses any change to an entry of that month (one state change
    instead of rewriting a million rows; ``billing.locks.invoice_of_entry`` names the invoice).
    The month's count snapshots and purchases are marked with the run and invoice."""
    end = month_end(run.month)
    invoice = Invoice.__table__.c  # type: ignore[attr-defined]
    ours = sa.and_(invoice.run_id == run.id, invoice.kind == InvoiceKind.INVOICE.value)
    session.execute(
        sa.update(CountSnapshot)
        .where(col(CountSnapshot.month) == run.month)
        .values(locked_run_id=run.id)
        .execution_options(synchronize_session=False)
    )
    purchase = Purchase.__table__.c  # type: ignore[attr-defined]
    session.execute(
        sa.update(Purchase)
        .where(
            col(Purchase.purchase_date) >= run.month,
            col(Purchase.purchase_date) <= end,
            col(Purchase.invoice_id).is_(None),
            purchase.kommune_id == invoice.kommune_id,
            ours,
        )
        .values(invoice_id=invoice.id)
        .execution_options(synchronize_session=False)
    )


def discard(session: Session, month: date) -> None:
    require_billing_admin(session)
    with elevated(session, "billing: discard"):
        discard_run(session, _existing(session, first_of_month(month)))
    record(session, "discard", "invoice_run", f"{first_of_month(month):%Y-%m}")
