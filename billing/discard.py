"""Discarding what a run drafted: its unissued invoices with their lines and details, or the
whole run while nothing of it is issued (a draft is recomputed at will; a price-model version
that is replaced discards the drafts made with it)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col

from billing.choices import RunState
from billing.errors import conflict
from billing.models import Invoice, InvoiceLine, InvoiceLineDetail, InvoiceRun

#: Bulk statements: the session holds none of these rows, so there is nothing to synchronise.
BULK = {"synchronize_session": False}


def clear_drafts(session: Session, run: InvoiceRun) -> None:
    """Remove the run's unissued invoices with their lines and details."""
    invoices = sa.select(col(Invoice.id)).where(
        col(Invoice.run_id) == run.id, col(Invoice.number).is_(None)
    )
    lines = sa.select(col(InvoiceLine.id)).where(col(InvoiceLine.invoice_id).in_(invoices))
    session.execute(
        sa.delete(InvoiceLineDetail).where(col(InvoiceLineDetail.line_id).in_(lines)),
        execution_options=BULK,
    )
    session.execute(
        sa.delete(InvoiceLine).where(col(InvoiceLine.invoice_id).in_(invoices)),
        execution_options=BULK,
    )
    session.execute(sa.delete(Invoice).where(col(Invoice.id).in_(invoices)), execution_options=BULK)


def discard_run(session: Session, run: InvoiceRun) -> None:
    """Delete a draft or reviewed run and its invoices (nothing of it was issued)."""
    if run.state == RunState.ISSUED:
        raise conflict(
            "run_issued_discard",
            "the invoice run for {month} is issued and cannot be discarded",
            month=f"{run.month:%Y-%m}",
        )
    clear_drafts(session, run)
    session.delete(run)
    session.flush()
