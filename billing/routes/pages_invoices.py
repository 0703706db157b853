"""Pages: invoices for a kommune's finance staff and the billing admin ("/fakturering").

The list, one invoice with its lines per category and service down to the users counted and
the hours per ticket, the downloads (PDF, CSV, EHF) and the year to date per kommune.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from billing import docformat
from billing.assemble import assemble
from billing.choices import CATEGORIES
from billing.credit import credited_line_ids
from billing.models import Invoice, InvoiceLine, InvoiceRun
from billing.numbering import today_in_oslo
from billing.pdf import categories
from billing.reports import year_to_date
from billing.routes.common import (
    InvoiceFilter,
    document_response,
    invoice_query,
    kommune_names,
    parse_month,
    require_reader,
    runs_by_id,
    visible_kommuner,
)
from billing.rules import is_billing_admin
from fellesdrift.kernel.web import add_template_global, language_of, render
from register.deps import CurrentPrincipal, PageDb
from register.models import Kommune
from register.routes.common import CSRF
from register.routes.page_forms import int_or_none, paged
from register.service import get_visible

router = APIRouter(include_in_schema=False, dependencies=CSRF)

for _name, _fn in {
    "kroner": docformat.kroner,
    "unit_price": docformat.unit_price,
    "grouped": docformat.grouped,
    "day": docformat.day,
    "unit_label": docformat.unit_label,
    "vat_label": docformat.vat_label,
}.items():
    add_template_global(f"billing_{_name}", _fn)


def _percent(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{docformat.grouped((value * 100).quantize(Decimal('0.01')), 2)}\u00a0%"


add_template_global("billing_percent", _percent)


@router.get("/fakturering", response_class=HTMLResponse)
def start(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require_reader(p)
    admin = is_billing_admin(p)
    recent = db.exec(invoice_query(InvoiceFilter()).order_by(col(Invoice.id).desc()).limit(10))
    runs: list[InvoiceRun] = []
    if admin:
        runs = list(db.exec(select(InvoiceRun).order_by(col(InvoiceRun.month).desc()).limit(6)))
    rows = list(recent)
    return render(
        request,
        "billing/start.html",
        admin=admin,
        invoices=rows,
        names=kommune_names(db, {i.kommune_id for i in rows}),
        runs=list(runs),
        kommuner=visible_kommuner(db),
    )


@router.get("/fakturering/fakturaer", response_class=HTMLResponse)
def invoice_list(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    kommune: str = "",
    month: str = "",
    kind: str = "",
    drafts: str = "",
    after: str | None = None,
) -> Response:
    require_reader(p)
    admin = is_billing_admin(p)
    month_value = parse_month(month) if month.strip() else None
    f = InvoiceFilter(
        kommune_id=int_or_none(kommune),
        month=month_value,
        kind=kind or None,
        issued_only=not (admin and drafts == "on"),
    )
    page = paged(request, db, invoice_query(f), Invoice.id, after)
    ids = {i.kommune_id for i in page.rows}
    return render(
        request,
        "billing/invoice_list.html",
        page=page,
        names=kommune_names(db, ids),
        kommuner=visible_kommuner(db),
        admin=admin,
        filters={"kommune": kommune, "month": month, "kind": kind, "drafts": drafts},
    )


@router.get("/fakturering/fakturaer/{invoice_id:int}", response_class=HTMLResponse)
def invoice_detail(request: Request, db: PageDb, p: CurrentPrincipal, invoice_id: int) -> Response:
    require_reader(p)
    invoice = get_visible(db, Invoice, invoice_id)
    doc = assemble(db, invoice_id)
    run = runs_by_id(db, {invoice.run_id}).get(invoice.run_id)
    notes = db.exec(select(Invoice).where(Invoice.original_id == invoice.id)).all()
    original = get_visible(db, Invoice, invoice.original_id) if invoice.original_id else None
    credited = credited_line_ids(db, invoice_id) if invoice.kind == "invoice" else set()
    lines = db.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    return render(
        request,
        "billing/invoice_detail.html",
        invoice=invoice,
        doc=doc,
        groups=categories(doc),
        rows={str(x.position): x for x in lines},
        run=run,
        kommune=db.get(Kommune, invoice.kommune_id),
        credit_notes=list(notes),
        original=original,
        fully_credited=bool(credited) and len(credited) >= len(doc.lines),
        admin=is_billing_admin(p),
    )


def _download(
    request: Request, db: PageDb, p: CurrentPrincipal, invoice_id: int, kind: str
) -> Response:
    require_reader(p)
    return document_response(db, invoice_id, kind, language_of(request))


@router.get("/fakturering/fakturaer/{invoice_id:int}/pdf")
def invoice_pdf(request: Request, db: PageDb, p: CurrentPrincipal, invoice_id: int) -> Response:
    return _download(request, db, p, invoice_id, "pdf")


@router.get("/fakturering/fakturaer/{invoice_id:int}/csv")
def invoice_csv(request: Request, db: PageDb, p: CurrentPrincipal, invoice_id: int) -> Response:
    return _download(request, db, p, invoice_id, "csv")


@router.get("/fakturering/fakturaer/{invoice_id:int}/ehf")
def invoice_ehf(request: Request, db: PageDb, p: CurrentPrincipal, invoice_id: int) -> Response:
    return _download(request, db, p, invoice_id, "ehf")


@router.get("/fakturering/hittil-i-ar", response_class=HTMLResponse)
def ytd(
    request: Request, db: PageDb, p: CurrentPrincipal, kommune: str = "", year: str = ""
) -> Response:
    """A kommune's invoiced amounts per month and category from January (finance: their own)."""
    require_reader(p)
    kommuner = visible_kommuner(db)
    chosen = int_or_none(kommune) or (p.kommune_id if not is_billing_admin(p) else None)
    if chosen is None and kommuner:
        chosen = kommuner[0].id
    the_year = int_or_none(year) or today_in_oslo().year
    the_year = min(max(the_year, 2000), 2999)
    months = []
    selected = None
    if chosen is not None:
        selected = get_visible(db, Kommune, chosen)
        months = year_to_date(db, chosen, the_year)
    zero = Decimal("0.00")
    totals = {
        "by_category": {
            c: sum((m.by_category.get(c, zero) for m in months), zero) for c in CATEGORIES
        },
        "net": sum((m.net for m in months), zero),
        "vat": sum((m.vat for m in months), zero),
        "payable": sum((m.payable for m in months), zero),
    }
    return render(
        request,
        "billing/ytd.html",
        kommuner=kommuner,
        kommune=selected,
        year=the_year,
        months=months,
        totals=totals,
        categories=CATEGORIES,
        first_day=date(the_year, 1, 1),
        admin=is_billing_admin(p),
    )
