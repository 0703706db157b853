"""Pages of the billing admin: the monthly invoice runs (draft, re-run, review, issue with a
confirmation, discard) and credit notes for issued invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from billing import credit, run
from billing.credit import credited_line_ids
from billing.errors import fault
from billing.models import Invoice, InvoiceLine, InvoiceRun
from billing.numbering import today_in_oslo
from billing.reports import run_summary
from billing.routes.common import attempt, general, parse_month, require_admin
from fellesdrift.kernel.problems import FieldError, Problem
from fellesdrift.kernel.web import language_of
from register.deps import CurrentPrincipal, PageDb
from register.models import Kommune
from register.routes.common import CSRF
from register.routes.page_forms import FormState, PostedForm, done, render_form
from register.service import get_visible

router = APIRouter(include_in_schema=False, dependencies=CSRF)


def _runs(db: Session) -> list[InvoiceRun]:
    return list(db.exec(select(InvoiceRun).order_by(col(InvoiceRun.month).desc())))


def _list(request: Request, db: Session, form: FormState) -> Response:
    return render_form(request, "billing/run_list.html", form, runs=_runs(db), admin=True)


@router.get("/fakturering/kjoringer", response_class=HTMLResponse)
def run_list(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require_admin(p)
    today = today_in_oslo()
    last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    return _list(request, db, FormState.blank(request, month=f"{last:%Y-%m}"))


def _month_of(form: PostedForm) -> tuple[date | None, list[FieldError]]:
    try:
        return parse_month(form.get("month")), []
    except Problem as problem:
        return None, list(problem.errors)


@router.post("/fakturering/kjoringer", response_class=HTMLResponse)
def run_draft(request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm) -> Response:
    """Draft (or re-draft) a month; the errors of the run (a missing figure, an issued month)
    are shown by the form."""
    require_admin(p)
    month, errors = _month_of(form)
    if month is not None:
        errors = attempt(db, lambda: run.draft(db, month))
        errors = general(errors, ("month",), language_of(request))
    if errors or month is None:
        return _list(request, db, FormState.posted(request, form, errors))
    found = run.run_of(db, month)
    assert found is not None
    return done(f"/fakturering/kjoringer/{found.id}", "billing_drafted")


def _detail(
    request: Request, db: Session, the_run: InvoiceRun, errors: list[FieldError]
) -> Response:
    rows = run_summary(db, the_run.month)
    form = FormState(FormState.blank(request).lang, {}, errors)
    return render_form(
        request,
        "billing/run_detail.html",
        form,
        run=the_run,
        rows=rows,
        total=sum((r["payable"] for r in rows), Decimal("0.00")),
        admin=True,
    )


@router.get("/fakturering/kjoringer/{run_id:int}", response_class=HTMLResponse)
def run_detail(request: Request, db: PageDb, p: CurrentPrincipal, run_id: int) -> Response:
    require_admin(p)
    return _detail(request, db, get_visible(db, InvoiceRun, run_id), [])


def _act(request: Request, db: Session, run_id: int, action: str) -> Response:
    the_run = get_visible(db, InvoiceRun, run_id)
    month = the_run.month
    steps = {"draft": run.draft, "review": run.review, "discard": run.discard}
    errors = general(attempt(db, lambda: steps[action](db, month)), (), language_of(request))
    if errors:
        return _detail(request, db, get_visible(db, InvoiceRun, run_id), errors)
    if action == "discard":
        return done("/fakturering/kjoringer", "billing_discarded")
    return done(f"/fakturering/kjoringer/{run_id}", f"billing_{action}")


@router.post("/fakturering/kjoringer/{run_id:int}/utkast", response_class=HTMLResponse)
def run_redraft(request: Request, db: PageDb, p: CurrentPrincipal, run_id: int) -> Response:
    require_admin(p)
    return _act(request, db, run_id, "draft")


@router.post("/fakturering/kjoringer/{run_id:int}/kontroller", response_class=HTMLResponse)
def run_review(request: Request, db: PageDb, p: CurrentPrincipal, run_id: int) -> Response:
    require_admin(p)
    return _act(request, db, run_id, "review")


@router.post("/fakturering/kjoringer/{run_id:int}/forkast", response_class=HTMLResponse)
def run_discard(request: Request, db: PageDb, p: CurrentPrincipal, run_id: int) -> Response:
    require_admin(p)
    return _act(request, db, run_id, "discard")


def _confirm(request: Request, db: Session, the_run: InvoiceRun, form: FormState) -> Response:
    rows = run_summary(db, the_run.month)
    return render_form(request, "billing/run_issue.html", form, run=the_run, rows=rows, admin=True)


@router.get("/fakturering/kjoringer/{run_id:int}/utsted", response_class=HTMLResponse)
def run_issue_confirm(request: Request, db: PageDb, p: CurrentPrincipal, run_id: int) -> Response:
    """What will be issued, and a confirmation: issued invoices cannot be changed."""
    require_admin(p)
    the_run = get_visible(db, InvoiceRun, run_id)
    form = FormState.blank(request, issue_date=today_in_oslo().isoformat())
    return _confirm(request, db, the_run, form)


@router.post("/fakturering/kjoringer/{run_id:int}/utsted", response_class=HTMLResponse)
def run_issue(
    request: Request, db: PageDb, p: CurrentPrincipal, run_id: int, form: PostedForm
) -> Response:
    require_admin(p)
    the_run = get_visible(db, InvoiceRun, run_id)
    errors: list[FieldError] = []
    if form.get("confirm") != "on":
        errors.append(
            fault("confirm", "confirm_issue", "confirm that the invoices are to be issued")
        )
    issued: date | None = None
    try:
        issued = date.fromisoformat(form.get("issue_date").strip())
    except ValueError:
        errors.append(
            fault("issue_date", "not_a_date", "is not a date (YYYY-MM-DD)", form.get("issue_date"))
        )
    if not errors:
        month = the_run.month
        errors = attempt(db, lambda: run.issue(db, month, issue_date=issued))
        errors = general(errors, (), language_of(request))
    if errors:
        form_state = FormState.posted(request, form, errors)
        return _confirm(request, db, get_visible(db, InvoiceRun, run_id), form_state)
    return done(f"/fakturering/kjoringer/{run_id}", "billing_issued")


# ---- credit notes -------------------------------------------------------------------------------


def _credit_page(request: Request, db: Session, invoice: Invoice, form: FormState) -> Response:
    lines = db.exec(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(col(InvoiceLine.position))
    ).all()
    done_ids = credited_line_ids(db, invoice.id or 0)
    return render_form(
        request,
        "billing/credit_form.html",
        form,
        invoice=invoice,
        kommune=db.get(Kommune, invoice.kommune_id),
        lines=[x for x in lines if x.id not in done_ids],
        admin=True,
    )


@router.get("/fakturering/fakturaer/{invoice_id:int}/krediter", response_class=HTMLResponse)
def credit_form(request: Request, db: PageDb, p: CurrentPrincipal, invoice_id: int) -> Response:
    require_admin(p)
    invoice = get_visible(db, Invoice, invoice_id)
    return _credit_page(request, db, invoice, FormState.blank(request))


@router.post("/fakturering/fakturaer/{invoice_id:int}/krediter", response_class=HTMLResponse)
def credit_post(
    request: Request, db: PageDb, p: CurrentPrincipal, invoice_id: int, form: PostedForm
) -> Response:
    """Issue a credit note with a reason, for all lines or the lines ticked."""
    require_admin(p)
    get_visible(db, Invoice, invoice_id)
    chosen = [int(x) for x in form.getlist("line_ids") if x.isdigit()]
    made: list[Invoice] = []
    errors = attempt(
        db,
        lambda: made.append(credit.credit(db, invoice_id, form.get("reason"), chosen or None)),
    )
    errors = general(errors, ("reason", "line_ids"), language_of(request))
    if errors:
        state = FormState.posted(request, form, errors)
        return _credit_page(request, db, get_visible(db, Invoice, invoice_id), state)
    return done(f"/fakturering/fakturaer/{made[0].id}", "billing_credited")
