"""REST API of billing: invoices and their documents, the monthly runs, credit notes and the
year to date. A kommune's finance user reads their own kommune's issued invoices; the billing
admin reads all (drafts too) and runs, reviews, issues and credits."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session, col, select

from billing import credit, run
from billing.assemble import line_details
from billing.models import Invoice, InvoiceLine, InvoiceRun
from billing.reports import year_to_date
from billing.routes.common import (
    InvoiceFilter,
    document_response,
    invoice_query,
    parse_month,
    require_admin,
    require_reader,
)
from billing.routes.shapes import (
    CreditIn,
    DetailOut,
    InvoiceDetailOut,
    InvoiceOut,
    IssueIn,
    LineOut,
    MonthTotalsOut,
    RunIn,
    RunOut,
)
from billing.rules import is_billing_admin
from fellesdrift.kernel.web import language_of
from register.deps import ApiDb, ApiPrincipal
from register.models import Kommune
from register.routes.common import CSRF, After, Limit, link_next, page_of
from register.schemas import Page
from register.service import get_visible

router = APIRouter(prefix="/api/v1/billing", tags=["billing"], dependencies=CSRF)

Month = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")


@router.get("/invoices", response_model=Page[InvoiceOut])
def list_invoices(
    request: Request,
    response: Response,
    db: ApiDb,
    p: ApiPrincipal,
    limit: Limit = 50,
    after: After = None,
    kommune_id: int | None = Query(None, ge=1, le=2**31 - 1),
    month: str | None = Month,
    kind: str | None = Query(None, pattern="^(invoice|credit_note)$"),
    include_drafts: bool = Query(False, description="Billing admin: drafts too"),
) -> dict[str, Any]:
    """Issued invoices and credit notes the caller may see, oldest first (keyset pages)."""
    require_reader(p)
    f = InvoiceFilter(
        kommune_id=kommune_id,
        month=parse_month(month) if month else None,
        kind=kind,
        issued_only=not (include_drafts and is_billing_admin(p)),
    )
    page = page_of(db, invoice_query(f), Invoice.id, limit, after, InvoiceOut)
    response.headers.update(link_next(request, page["next"]))
    return page


def invoice_detail(db: Session, invoice: Invoice) -> InvoiceDetailOut:
    lines = list(
        db.exec(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(col(InvoiceLine.position))
        )
    )
    details = line_details(db, lines)
    out = []
    for line in lines:
        row = LineOut.model_validate(line)
        row.details = [DetailOut(**d.__dict__) for d in details.get(line.id or 0, [])]
        out.append(row)
    return InvoiceDetailOut(**InvoiceOut.model_validate(invoice).model_dump(), lines=out)


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetailOut)
def get_invoice(db: ApiDb, p: ApiPrincipal, invoice_id: int) -> InvoiceDetailOut:
    """One invoice with its lines per category and service and each line's specification
    (the users counted, the hours per ticket)."""
    require_reader(p)
    return invoice_detail(db, get_visible(db, Invoice, invoice_id))


def _document(request: Request, db: Session, p: Any, invoice_id: int, kind: str) -> Response:
    require_reader(p)
    return document_response(db, invoice_id, kind, language_of(request))


DOC_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {}}}


@router.get("/invoices/{invoice_id}/pdf", response_class=Response, responses=DOC_RESPONSES)
def invoice_pdf(request: Request, db: ApiDb, p: ApiPrincipal, invoice_id: int) -> Response:
    """The invoice as PDF, with the specification per category and service."""
    return _document(request, db, p, invoice_id, "pdf")


@router.get("/invoices/{invoice_id}/csv", response_class=Response, responses=DOC_RESPONSES)
def invoice_csv(request: Request, db: ApiDb, p: ApiPrincipal, invoice_id: int) -> Response:
    """The specification as CSV (one row per specification row)."""
    return _document(request, db, p, invoice_id, "csv")


@router.get("/invoices/{invoice_id}/ehf", response_class=Response, responses=DOC_RESPONSES)
def invoice_ehf(request: Request, db: ApiDb, p: ApiPrincipal, invoice_id: int) -> Response:
    """The invoice as EHF (Peppol BIS Billing 3.0 UBL XML), the PDF embedded."""
    return _document(request, db, p, invoice_id, "ehf")


@router.post("/invoices/{invoice_id}/credit-notes", response_model=InvoiceOut, status_code=201)
def credit_invoice(db: ApiDb, p: ApiPrincipal, invoice_id: int, data: CreditIn) -> Invoice:
    """Credit an issued invoice (all its lines, or ``line_ids``); 409 if already credited."""
    require_admin(p)
    get_visible(db, Invoice, invoice_id)
    return credit.credit(db, invoice_id, data.reason, data.line_ids, quantities=data.quantities)


@router.get("/year-to-date", response_model=list[MonthTotalsOut])
def year_to_date_api(
    db: ApiDb,
    p: ApiPrincipal,
    kommune_id: int = Query(ge=1, le=2**31 - 1),
    year: int = Query(ge=2000, le=2999),
) -> list[MonthTotalsOut]:
    """A kommune's issued invoices and credit notes per month of the year, per category."""
    require_reader(p)
    get_visible(db, Kommune, kommune_id)
    rows = year_to_date(db, kommune_id, year)
    return [
        MonthTotalsOut(
            month=m.month, by_category=dict(m.by_category), net=m.net, vat=m.vat, payable=m.payable
        )
        for m in rows
    ]


# ---- runs ---------------------------------------------------------------------------------------


@router.get("/runs", response_model=list[RunOut], tags=["billing runs"])
def list_runs(db: ApiDb, p: ApiPrincipal) -> list[InvoiceRun]:
    require_admin(p)
    return list(db.exec(select(InvoiceRun).order_by(col(InvoiceRun.month).desc())))


@router.post("/runs", response_model=RunOut, tags=["billing runs"])
def draft_run(db: ApiDb, p: ApiPrincipal, data: RunIn) -> InvoiceRun:
    """Draft the month's invoices; a draft (or reviewed run) of the month is replaced, an
    issued month is a 409."""
    require_admin(p)
    return run.draft(db, parse_month(data.month))


def _run(db: Session, run_id: int) -> InvoiceRun:
    return get_visible(db, InvoiceRun, run_id)


@router.get("/runs/{run_id}", response_model=RunOut, tags=["billing runs"])
def get_run(db: ApiDb, p: ApiPrincipal, run_id: int) -> InvoiceRun:
    require_admin(p)
    return _run(db, run_id)


@router.post("/runs/{run_id}/review", response_model=RunOut, tags=["billing runs"])
def review_run(db: ApiDb, p: ApiPrincipal, run_id: int) -> InvoiceRun:
    """Mark the draft as reviewed (409 unless it is a draft)."""
    require_admin(p)
    return run.review(db, _run(db, run_id).month)


@router.post("/runs/{run_id}/issue", response_model=list[InvoiceOut], tags=["billing runs"])
def issue_run(
    db: ApiDb, p: ApiPrincipal, run_id: int, data: IssueIn | None = None
) -> list[Invoice]:
    """Issue the reviewed run: numbers, KID, dates; locks what it billed (409 unless
    reviewed, or if an input changed since the draft)."""
    require_admin(p)
    issued: date | None = data.issue_date if data else None
    return run.issue(db, _run(db, run_id).month, issue_date=issued)


@router.delete("/runs/{run_id}", status_code=204, tags=["billing runs"])
def discard_run(db: ApiDb, p: ApiPrincipal, run_id: int) -> Response:
    """Discard a draft or reviewed run (409 for an issued one)."""
    require_admin(p)
    run.discard(db, _run(db, run_id).month)
    return Response(status_code=204)
