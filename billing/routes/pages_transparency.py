"""Pages: transparency. Per service of a month its cost, its key and each kommune's share
(a finance user sees their own kommune's share of every pool), and for the board two keys
side by side with a chart ("/fakturering/nokler")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from billing import docformat
from billing.choices import KeyKind
from billing.compute import key_text
from billing.errors import fault
from billing.numbering import today_in_oslo
from billing.reports import KeyComparison, compare_keys, key_text_of, service_costs
from billing.routes.chart import grouped_bars
from billing.routes.common import (
    kommune_names,
    month_text,
    parse_month,
    require_admin,
    require_reader,
)
from billing.routes.price_forms import Names, elements_of, fixed_key, key_spec_text, pairs
from billing.rules import is_billing_admin
from billing.run import run_of
from billing.schemas import KeyIn
from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.problems import FieldError, Problem, from_validation_errors
from fellesdrift.kernel.web import language_of, render
from register.deps import CurrentPrincipal, PageDb
from register.routes.common import CSRF
from register.routes.page_forms import FormState, Posted, render_form

router = APIRouter(include_in_schema=False, dependencies=CSRF)


def _last_month() -> date:
    today = today_in_oslo()
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


def key_texts(db: Any, month: date) -> dict[str, str]:
    """Each shared service's key as the month's price model wrote it ("1/3 likt + 2/3
    innbyggere", a fixed key with its percentages)."""
    the_run = run_of(db, month)
    if the_run is None:
        return {}
    names = Names(db)
    out = {}
    for e in elements_of(db, the_run.version_id):
        if e.category == 1 and e.key_kind:
            spec = key_spec_text(e, names) if e.key_kind == KeyKind.FIXED else ""
            out[e.service] = f"{key_text(e)} ({spec})" if spec else key_text(e)
    return out


@router.get("/fakturering/tjenester", response_class=HTMLResponse)
def services(request: Request, db: PageDb, p: CurrentPrincipal, month: str = "") -> Response:
    require_reader(p)
    try:
        the_month = parse_month(month) if month.strip() else _last_month()
        error = ""
    except Problem:
        the_month, error = _last_month(), month
    costs = service_costs(db, the_month)
    names = kommune_names(db, {k for c in costs for k in c.shares})
    return render(
        request,
        "billing/services.html",
        month=month_text(the_month),
        bad_month=error,
        costs=costs,
        names=names,
        keys=key_texts(db, the_month),
        admin=is_billing_admin(p),
    )


# ---- two keys side by side ----------------------------------------------------------------------

KEY_INPUTS = ("month", "pool", "a_kind", "a_spec", "b_kind", "b_spec", "inhabitants_date")


def key_from(kind: str, spec: str, prefix: str) -> tuple[KeyIn | None, list[FieldError]]:
    """A key from the form: its kind and, for fixed and weighted keys, ``name=value`` pairs."""
    if kind not in {k.value for k in KeyKind}:
        return None, [fault(f"{prefix}_kind", "choose_key", "choose a key")]
    if kind == KeyKind.FIXED:
        key, errors = fixed_key(spec)
        return key, [
            FieldError(f"{prefix}_spec", e.message, e.value, code=e.code, params=e.params)
            for e in errors
        ]
    data: dict[str, Any] = {"kind": kind}
    if kind == KeyKind.MIX:
        data["mix"] = [{"key": k, "weight": w} for k, w in pairs(spec)]
    try:
        return KeyIn.model_validate(data), []
    except ValidationError as exc:
        return None, [
            FieldError(f"{prefix}_spec", e.message, e.value, code=e.code, params=e.params)
            for e in from_validation_errors(exc.errors())
        ]


def _judge(form: Posted) -> tuple[dict[str, Any] | None, list[FieldError]]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    try:
        out["month"] = parse_month(form.get("month"))
    except Problem as problem:
        errors += problem.errors
    try:
        out["pool"] = Decimal(form.get("pool").strip().replace(" ", "").replace(",", "."))
        if out["pool"] < 0 or out["pool"] != out["pool"].quantize(Decimal("0.01")):
            raise InvalidOperation
    except InvalidOperation:
        errors.append(
            fault("pool", "not_amount", "is not an amount in kroner and øre", form.get("pool"))
        )
    for prefix in ("a", "b"):
        out[f"key_{prefix}"], found = key_from(
            form.get(f"{prefix}_kind"), form.get(f"{prefix}_spec"), prefix
        )
        errors += found
    day = form.get("inhabitants_date").strip()
    try:
        out["inhabitants_date"] = date.fromisoformat(day) if day else None
    except ValueError:
        errors.append(fault("inhabitants_date", "not_a_date", "is not a date (YYYY-MM-DD)", day))
    return (None, errors) if errors else (out, [])


def _compare(db: Any, data: dict[str, Any]) -> tuple[list[KeyComparison], list[FieldError]]:
    try:
        return compare_keys(
            db,
            data["month"],
            data["pool"],
            data["key_a"],
            data["key_b"],
            data["inhabitants_date"],
        ), []
    except Problem as problem:
        if problem.status not in (409, 422):
            raise
        coded = FieldError("month", problem.detail, code=problem.code, params=problem.params)
        return [], list(problem.errors) or [coded]


@router.get("/fakturering/nokler", response_class=HTMLResponse)
def keys(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    """Compare two keys. A GET form: nothing changes, and a comparison can be linked to."""
    require_admin(p)
    query = request.query_params
    lang = language_of(request)
    if "pool" not in query:
        values = {
            "month": month_text(_last_month()),
            "pool": "100000.00",
            "a_kind": "mix",
            "a_spec": "equal=1/3, inhabitants=2/3",
            "b_kind": "mix",
            "b_spec": "equal=30%, inhabitants=70%",
        }
        return _keys_page(request, FormState(lang, values), [], None)
    form = Posted({k: query.getlist(k) for k in KEY_INPUTS if k in query})
    data, errors = _judge(form)
    rows: list[KeyComparison] = []
    if data is not None:
        rows, errors = _compare(db, data)
    state = FormState(lang, form.as_values(), errors)
    texts = (
        (key_text_of(data["key_a"]), key_text_of(data["key_b"])) if data and not errors else None
    )
    return _keys_page(request, state, rows, texts)


def _keys_page(
    request: Request, form: FormState, rows: list[KeyComparison], texts: tuple[str, str] | None
) -> Response:
    lang = language_of(request)
    names = (translate("billing.keys.a", lang), translate("billing.keys.b", lang))
    chart = grouped_bars(
        [(r.kommune, r.amount_a, r.amount_b) for r in rows], docformat.kroner, names
    )
    return render_form(
        request,
        "billing/keys.html",
        form,
        rows=rows,
        chart=chart,
        texts=texts,
        key_kinds=[k.value for k in KeyKind],
        admin=True,
    )
