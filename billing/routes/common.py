"""Shared by billing's pages and API: who may come in, months in URLs, invoice look-ups and
the document downloads.

Every look-up reads through the request's session, so the access rules of ``billing.rules``
decide what exists for the caller: a kommune's finance user finds only their kommune's issued
invoices; another kommune's invoice is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.responses import Response
from sqlmodel import Session, col, select

from billing.assemble import assemble
from billing.counts import first_of_month
from billing.document import InvoiceDocument
from billing.errors import fault
from billing.models import Invoice, InvoiceRun
from billing.outputs import RENDERERS, render_files
from billing.rules import is_billing_admin, is_finance
from fellesdrift.kernel.problems import FieldError, Problem, forbidden, invalid
from fellesdrift.kernel.web import field_message
from register.access import Principal
from register.models import Kommune
from register.routes import page_forms


def require_reader(p: Principal) -> None:
    """Billing is for a kommune's finance staff and the drift unit's billing admin."""
    if not (is_billing_admin(p) or is_finance(p)):
        raise forbidden("billing is for finance users and the billing admin")


def require_admin(p: Principal) -> None:
    if not is_billing_admin(p):
        raise forbidden("only the billing admin runs, reviews and issues invoices")


def parse_month(text: str, field: str = "month") -> date:
    """``YYYY-MM`` (or a date in the month) as the month's first day; 422 naming the field."""
    value = text.strip()
    try:
        if len(value) == 7:
            return date.fromisoformat(f"{value}-01")
        return first_of_month(date.fromisoformat(value))
    except ValueError:
        raise invalid(fault(field, "not_a_month", "is not a month (YYYY-MM)", text)) from None


def general(errors: list[FieldError], inputs: tuple[str, ...], lang: str) -> list[FieldError]:
    """Errors about things other than the form's inputs (an element of the price model, a
    kommune without figures) go to the summary without a link, naming what they are about
    (as the model names it) with the message in the page's language."""
    out = []
    for e in errors:
        if e.field.split(".")[0] in inputs or not e.field:
            out.append(e)
        else:
            shown = f" ({e.value})" if e.value not in (None, "") else ""
            out.append(FieldError("", f"{e.field}{shown}: {field_message(e, lang)}"))
    return out


def attempt(db: Session, action: Callable[[], object]) -> list[FieldError]:
    """``register.routes.page_forms.attempt`` that keeps a refusal's catalogue key: a 409
    of billing (an issued run, a credited line) comes back as an error the page translates."""

    def coded() -> None:
        try:
            action()
            db.flush()
        except Problem as problem:
            if problem.errors or not problem.code:
                raise
            error = FieldError("", problem.detail, code=problem.code, params=problem.params)
            raise Problem(problem.status, problem.title, problem.detail, [error]) from problem

    return page_forms.attempt(db, coded)


def month_text(month: date) -> str:
    return f"{month:%Y-%m}"


def kommune_names(db: Session, ids: set[int] | None = None) -> dict[int, str]:
    stmt = select(Kommune.id, Kommune.name).order_by(col(Kommune.name))
    if ids is not None:
        stmt = stmt.where(col(Kommune.id).in_(sorted(ids)))
    return {kid: name for kid, name in db.exec(stmt).all() if kid is not None}


def visible_kommuner(db: Session) -> list[Kommune]:
    """The kommuner the caller may pick: all for the billing admin, the own for finance."""
    return list(db.exec(select(Kommune).order_by(col(Kommune.name))).all())


def runs_by_id(db: Session, ids: set[int]) -> dict[int, InvoiceRun]:
    if not ids:
        return {}
    rows = db.exec(select(InvoiceRun).where(col(InvoiceRun.id).in_(sorted(ids)))).all()
    return {r.id: r for r in rows if r.id is not None}


@dataclass(frozen=True)
class InvoiceFilter:
    kommune_id: int | None = None
    month: date | None = None
    kind: str | None = None
    issued_only: bool = True


def invoice_query(f: InvoiceFilter) -> Any:
    stmt = select(Invoice)
    if f.issued_only:
        stmt = stmt.where(col(Invoice.number).is_not(None))
    if f.kommune_id is not None:
        stmt = stmt.where(Invoice.kommune_id == f.kommune_id)
    if f.month is not None:
        stmt = stmt.where(Invoice.period_start == f.month)
    if f.kind in ("invoice", "credit_note"):
        stmt = stmt.where(Invoice.kind == f.kind)
    return stmt


# ---- documents ----------------------------------------------------------------------------------

DOCUMENT_KINDS = ("pdf", "csv", "ehf")
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "ehf": "application/xml",
}
SUFFIXES = {"pdf": "pdf", "csv": "csv", "ehf": "xml"}


_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "AE", "Ø": "O", "Å": "A"})


def download_name(doc: InvoiceDocument, suffix: str) -> str:
    """``F-000123_Arendal.pdf``: the number and the customer, so a folder of downloads from
    several kommuner (the billing admin's) stays readable; ASCII for every browser."""
    customer = re.sub(r"[^A-Za-z0-9.-]+", "-", doc.customer.name.translate(_FOLD)).strip("-")
    return f"{doc.number}_{customer}.{suffix}" if customer else f"{doc.number}.{suffix}"


def document_response(db: Session, invoice_id: int, kind: str, lang: str) -> Response:
    """An invoice's PDF, CSV or EHF as a download; 404 for an invoice the caller cannot see."""
    if kind not in RENDERERS:
        raise invalid(fault("kind", "not_document_kind", "is not pdf, csv or ehf", kind))
    doc = assemble(db, invoice_id)
    # An issued invoice's documents are served as stored when it was issued (the legal
    # record, in Norwegian); drafts and invoices issued before they were stored are rendered.
    files = render_files(db, invoice_id)
    body = files[kind] if files is not None else None
    if body is None:
        body = RENDERERS[kind](doc, lang)
    filename = download_name(doc, SUFFIXES[kind])
    return Response(
        body,
        media_type=MEDIA_TYPES[kind],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
