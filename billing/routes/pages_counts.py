"""Pages: the month's count snapshots (users, PCs, mailboxes, licences per kommune) and, for
the billing admin, a count-file import and a snapshot from the registers."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from billing import counts
from billing.choices import CountKind
from billing.errors import fault
from billing.models import CountSnapshot
from billing.numbering import today_in_oslo
from billing.routes.common import (
    attempt,
    general,
    kommune_names,
    month_text,
    parse_month,
    require_admin,
    require_reader,
)
from billing.routes.pages_prices import file_errors, upload_text
from billing.rules import is_billing_admin
from fellesdrift.kernel.problems import FieldError, Problem
from fellesdrift.kernel.web import language_of
from register.deps import CurrentPrincipal, PageDb
from register.routes.common import CSRF
from register.routes.page_forms import FormState, done, render_form

router = APIRouter(include_in_schema=False, dependencies=CSRF)


def _month_or_default(text: str) -> date:
    if text.strip():
        try:
            return parse_month(text)
        except Problem:
            pass
    today = today_in_oslo()
    return date(today.year, today.month, 1)


def _page(request: Request, db: Session, month: date, admin: bool, form: FormState) -> Response:
    rows = list(
        db.exec(
            select(CountSnapshot)
            .where(CountSnapshot.month == month)
            .order_by(
                col(CountSnapshot.kommune_id), col(CountSnapshot.kind), col(CountSnapshot.subject)
            )
        )
    )
    return render_form(
        request,
        "billing/counts.html",
        form,
        month=month_text(month),
        rows=rows,
        names=kommune_names(db, {r.kommune_id for r in rows}),
        kinds=[k.value for k in CountKind],
        admin=admin,
    )


@router.get("/fakturering/tellinger", response_class=HTMLResponse)
def count_list(request: Request, db: PageDb, p: CurrentPrincipal, month: str = "") -> Response:
    require_reader(p)
    the_month = _month_or_default(month)
    form = FormState.blank(request, month=month_text(the_month))
    return _page(request, db, the_month, is_billing_admin(p), form)


@router.post("/fakturering/tellinger/import", response_class=HTMLResponse)
async def count_import(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    """A count file for a month: every row stored, or none and each bad row named."""
    require_admin(p)
    posted = await request.form()
    month_raw = str(posted.get("month") or "")
    kind_raw = str(posted.get("kind") or "")
    values = {"month": month_raw, "kind": kind_raw}
    errors: list[FieldError] = []
    try:
        month = parse_month(month_raw)
    except Problem as problem:
        month, errors = _month_or_default(""), list(problem.errors)
    kind = CountKind(kind_raw) if kind_raw in {k.value for k in CountKind} else None
    if kind_raw and kind is None:
        errors.append(fault("kind", "not_count_kind", "is not a kind of count", kind_raw))
    filename, text, file_problems = await upload_text(request)
    errors += file_problems
    if not errors:
        found = attempt(db, lambda: counts.import_count_file(db, month, text, filename, kind))
        errors = file_errors(found, language_of(request))
    if errors:
        form = FormState(language_of(request), values, errors)
        return _page(request, db, month, True, form)
    return done(f"/fakturering/tellinger?month={month_text(month)}", "billing_counts_imported")


@router.post("/fakturering/tellinger/registre", response_class=HTMLResponse)
async def count_registers(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    """Snapshot the month's counts from the registers (user accounts, users of systems)."""
    require_admin(p)
    posted = await request.form()
    month_raw = str(posted.get("month") or "")
    try:
        month = parse_month(month_raw)
    except Problem as problem:
        form = FormState(language_of(request), {"month": month_raw}, list(problem.errors))
        return _page(request, db, _month_or_default(""), True, form)
    errors = attempt(db, lambda: counts.snapshot_registers(db, month))
    errors = general(errors, ("month",), language_of(request))
    if errors:
        form = FormState(language_of(request), {"month": month_raw}, errors)
        return _page(request, db, month, True, form)
    return done(f"/fakturering/tellinger?month={month_text(month)}", "billing_counts_taken")
