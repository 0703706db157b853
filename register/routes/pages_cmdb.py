"""Pages: the systems register ("/systemer"): list with filters, detail with who answers for a
system, what it runs on and depends on, which kommuner use it and what is monitored; forms for
the drift unit's agents and admins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.problems import FieldError
from fellesdrift.kernel.web import render
from register.access import Principal, elevated
from register.choices import (
    CIKind,
    Classification,
    Criticality,
    Lifecycle,
    ProbeKind,
    RelationKind,
    Responsibility,
    Role,
)
from register.deps import CurrentPrincipal, PageDb
from register.models import (
    CIRelation,
    CIResponsibility,
    CIUsage,
    ConfigItem,
    Kommune,
    MonitorTarget,
    User,
)
from register.panels import ci_panels
from register.routes.common import CSRF
from register.routes.page_forms import (
    FormState,
    Posted,
    PostedForm,
    attempt,
    done,
    int_or_none,
    judge,
    paged,
    render_form,
    require,
)
from register.schemas import (
    CICreate,
    CIFields,
    CIUpdate,
    RelationIn,
    ResponsibilityIn,
    TargetIn,
    UsageIn,
)
from register.service import cmdb as svc
from register.service import get_visible

router = APIRouter(include_in_schema=False, dependencies=CSRF)

CHECKBOXES = ("life_and_health", "finance_payroll")
CI_FIELDS = list(CIFields.model_fields)
ENUMS: dict[str, type[Any]] = {
    "kind": CIKind,
    "classification": Classification,
    "criticality": Criticality,
    "lifecycle": Lifecycle,
}
#: The small forms on the detail page: name -> (id prefix, error field -> input name, labels).
DETAIL_FORMS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "responsibility": ("resp-", {"user_id": "username"}, {"kind": "field.responsibility"}),
    "relation": ("rel-", {"target_id": "target_key"}, {"kind": "cmdb.relation"}),
    "usage": ("use-", {}, {}),
    "target": ("mon-", {}, {}),
}


def may_edit(p: Principal) -> bool:
    """The drift unit's agents and admins keep the register."""
    return p.is_admin or (p.is_drift and Role.AGENT in p.roles)


def _kommuner(db: Session) -> dict[int, str]:
    rows = db.exec(select(Kommune.id, Kommune.name).order_by(Kommune.name)).all()
    return {kid: name for kid, name in rows if kid is not None}


def _names(db: Session, ids: list[int]) -> dict[int, str]:
    with elevated(db, "kommune names"):
        rows = db.exec(select(Kommune.id, Kommune.name).where(col(Kommune.id).in_(ids))).all()
    return {kid: name for kid, name in rows if kid is not None}


def _choices() -> dict[str, list[str]]:
    return {name: [v.value for v in enum] for name, enum in ENUMS.items()}


# ---- list ---------------------------------------------------------------------------------------


@router.get("/systemer", response_class=HTMLResponse)
def ci_list(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    q: str = "",
    kind: str = "",
    classification: str = "",
    criticality: str = "",
    lifecycle: str = "",
    kommune: str = "",
    after: str | None = None,
) -> Response:
    stmt = select(ConfigItem)
    filters = {
        "kind": kind,
        "classification": classification,
        "criticality": criticality,
        "lifecycle": lifecycle,
    }
    for name, value in filters.items():
        if value in {v.value for v in ENUMS[name]}:
            stmt = stmt.where(getattr(ConfigItem, name) == value)
    if q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(
            or_(
                col(ConfigItem.name).ilike(like),
                col(ConfigItem.key).ilike(like),
                col(ConfigItem.vendor).ilike(like),
                col(ConfigItem.service).ilike(like),
            )
        )
    kommune_id = int_or_none(kommune)
    if kommune_id is not None:
        users = select(CIUsage.ci_id).where(CIUsage.kommune_id == kommune_id)
        stmt = stmt.where(
            or_(ConfigItem.owner_kommune_id == kommune_id, col(ConfigItem.id).in_(users))
        )
    page = paged(request, db, stmt, ConfigItem.id, after)
    return render(
        request,
        "cmdb/ci_list.html",
        page=page,
        kommuner=_kommuner(db),
        filters=filters | {"q": q, "kommune": kommune},
        choices=_choices(),
        may_edit=may_edit(p),
    )


# ---- create and edit ----------------------------------------------------------------------------


def _ci_form(request: Request, db: Session, form: FormState, ci: ConfigItem | None) -> Response:
    return render_form(
        request,
        "cmdb/ci_form.html",
        form,
        ci=ci,
        kommuner=list(_kommuner(db).items()),
        choices=_choices(),
    )


@router.get("/systemer/ny", response_class=HTMLResponse)
def ci_new(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require(may_edit(p))
    form = FormState.blank(request, criticality="medium", lifecycle="in_production")
    return _ci_form(request, db, form, None)


@router.post("/systemer/ny", response_class=HTMLResponse)
def ci_create(request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm) -> Response:
    require(may_edit(p))
    data, errors = judge(CICreate, form, checkboxes=CHECKBOXES)
    created: list[ConfigItem] = []
    if data is not None:
        errors = attempt(db, lambda: created.append(svc.create_ci(db, data)))
    if errors:
        return _ci_form(request, db, FormState.posted(request, form, errors), None)
    return done(f"/systemer/{created[0].id}", "created")


@router.get("/systemer/{ci_id}/rediger", response_class=HTMLResponse)
def ci_edit(request: Request, db: PageDb, p: CurrentPrincipal, ci_id: int) -> Response:
    ci = get_visible(db, ConfigItem, ci_id)
    require(may_edit(p))
    return _ci_form(request, db, FormState.of(request, ci, CI_FIELDS), ci)


@router.post("/systemer/{ci_id}/rediger", response_class=HTMLResponse)
def ci_update(
    request: Request, db: PageDb, p: CurrentPrincipal, ci_id: int, form: PostedForm
) -> Response:
    ci = get_visible(db, ConfigItem, ci_id)
    require(may_edit(p))
    data, errors = judge(CIFields, form, checkboxes=CHECKBOXES, fixed={"kind": ci.kind})
    if data is not None:
        change = CIUpdate(**data.model_dump(exclude={"kind"}))
        errors = attempt(db, lambda: svc.update_ci(db, ci_id, change))
    if errors:
        ci = get_visible(db, ConfigItem, ci_id)
        state = FormState.posted(request, form, errors)
        return _ci_form(request, db, state, ci)
    return done(f"/systemer/{ci_id}", "saved")


@router.post("/systemer/{ci_id}/ut-av-drift")
def ci_retire(request: Request, db: PageDb, p: CurrentPrincipal, ci_id: int) -> Response:
    require(may_edit(p))
    svc.retire_ci(db, ci_id)
    return done(f"/systemer/{ci_id}", "retired")


# ---- detail -------------------------------------------------------------------------------------


def _detail_forms(request: Request) -> dict[str, FormState]:
    forms = {}
    for name, (prefix, aliases, labels) in DETAIL_FORMS.items():
        forms[name] = FormState.blank(request)
        forms[name].prefix, forms[name].aliases, forms[name].labels = prefix, aliases, labels
    forms["target"].values.update(interval_seconds=60, timeout_seconds=10, enabled=True)
    return forms


def _related(db: Session, rels: list[CIRelation], ci_id: int) -> list[dict[str, Any]]:
    """Relations with the other system's key and name; one the principal cannot see is shown
    without them."""
    other_ids = {r.target_id if r.source_id == ci_id else r.source_id for r in rels}
    others = {c.id: c for c in db.exec(select(ConfigItem).where(col(ConfigItem.id).in_(other_ids)))}
    return [
        {"rel": r, "other": others.get(r.target_id if r.source_id == ci_id else r.source_id)}
        for r in rels
    ]


def _detail(
    request: Request,
    db: Session,
    p: Principal,
    ci_id: int,
    forms: dict[str, FormState] | None = None,
) -> Response:
    ci = get_visible(db, ConfigItem, ci_id)
    forms = forms or _detail_forms(request)
    people = svc.responsibilities(db, ci_id)
    grouped = {r.value: [x for x in people if x["kind"] == r.value] for r in Responsibility}
    out, inc = svc.relations(db, ci_id)
    usage = svc.usage_of(db, ci_id)
    # Whoever sees the system sees who uses it, by name (a systemeier of one kommune does
    # not see the other kommuner' rows, but their names are no secret).
    kommuner = _kommuner(db) | _names(db, [u.kommune_id for u in usage])
    errors = any(f.errors for f in forms.values())
    return render(
        request,
        "cmdb/ci_detail.html",
        422 if errors else 200,
        ci=ci,
        owner=kommuner.get(ci.owner_kommune_id or 0, ""),
        responsibilities=grouped,
        warnings=svc.warnings_for(db, ci),
        outgoing=_related(db, out, ci_id),
        incoming=_related(db, inc, ci_id),
        usage=usage,
        users_total=sum(u.users_count for u in usage),
        kommuner=kommuner,
        targets=svc.targets_of(db, ci_id),
        panels=ci_panels(request, db, ci),
        forms=forms,
        has_errors=errors,
        may_edit=may_edit(p),
        choices=_choices(),
        probes=[k.value for k in ProbeKind],
        relation_kinds=[k.value for k in RelationKind],
        responsibility_kinds=[k.value for k in Responsibility],
    )


@router.get("/systemer/{ci_id}", response_class=HTMLResponse)
def ci_detail(request: Request, db: PageDb, p: CurrentPrincipal, ci_id: int) -> Response:
    return _detail(request, db, p, ci_id)


def _detail_post(
    request: Request,
    db: Session,
    p: Principal,
    ci_id: int,
    form: Posted,
    name: str,
    save: Callable[[], list[FieldError]],
) -> Response:
    """Run one of the detail page's small forms; on errors show the page with that form's
    errors and values, otherwise go back to the page with a confirmation."""
    get_visible(db, ConfigItem, ci_id)
    require(may_edit(p))
    errors = save()
    if errors:
        forms = _detail_forms(request)
        prefix, aliases, labels = DETAIL_FORMS[name]
        forms[name] = FormState.posted(
            request, form, errors, prefix=prefix, aliases=aliases, labels=labels
        )
        return _detail(request, db, p, ci_id, forms)
    return done(f"/systemer/{ci_id}", "added")


def _lookup(
    db: Session, form: Posted, name: str, model: Any, key: str, message: str
) -> tuple[int | None, FieldError | None]:
    """The id behind a typed key (a user name or a system key), or a field error."""
    raw = form.get(name).strip().lower()
    if not raw:
        return None, FieldError(name, "Field required", code="missing")
    found = db.exec(select(model.id).where(getattr(model, key) == raw)).first()
    return (found, None) if found is not None else (None, FieldError(name, message, raw))


def _judge_found(
    schema: Any, form: Any, id_field: str, found: int | None, missing: FieldError | None
) -> tuple[Any, list[FieldError]]:
    """Judge a form whose reference was looked up by a natural key; the lookup's error first."""
    data, errors = judge(schema, form, fixed={id_field: found or 0})
    return data, ([missing] if missing else []) + errors


@router.post("/systemer/{ci_id}/ansvar", response_class=HTMLResponse)
def responsibility_add(
    request: Request, db: PageDb, p: CurrentPrincipal, ci_id: int, form: PostedForm
) -> Response:
    def save() -> list[FieldError]:
        user_id, missing = _lookup(
            db, form, "username", User, "username", "no user with this user name"
        )
        data, errors = _judge_found(ResponsibilityIn, form, "user_id", user_id, missing)
        if data is None or errors:
            return errors
        return attempt(db, lambda: svc.add_responsibility(db, ci_id, data))

    return _detail_post(request, db, p, ci_id, form, "responsibility", save)


@router.post("/systemer/{ci_id}/relasjoner", response_class=HTMLResponse)
def relation_add(
    request: Request, db: PageDb, p: CurrentPrincipal, ci_id: int, form: PostedForm
) -> Response:
    def save() -> list[FieldError]:
        target_id, missing = _lookup(
            db, form, "target_key", ConfigItem, "key", "no system with this key"
        )
        data, errors = _judge_found(RelationIn, form, "target_id", target_id, missing)
        if data is None or errors:
            return errors
        return attempt(db, lambda: svc.add_relation(db, ci_id, data))

    return _detail_post(request, db, p, ci_id, form, "relation", save)


@router.post("/systemer/{ci_id}/bruk", response_class=HTMLResponse)
def usage_set(
    request: Request, db: PageDb, p: CurrentPrincipal, ci_id: int, form: PostedForm
) -> Response:
    def save() -> list[FieldError]:
        data, errors = judge(UsageIn, form)
        return errors if data is None else attempt(db, lambda: svc.set_usage(db, ci_id, data))

    return _detail_post(request, db, p, ci_id, form, "usage", save)


@router.post("/systemer/{ci_id}/overvaking", response_class=HTMLResponse)
def target_add(
    request: Request, db: PageDb, p: CurrentPrincipal, ci_id: int, form: PostedForm
) -> Response:
    def save() -> list[FieldError]:
        data, errors = judge(TargetIn, form, checkboxes=("enabled",))
        return errors if data is None else attempt(db, lambda: svc.add_target(db, ci_id, data))

    return _detail_post(request, db, p, ci_id, form, "target", save)


# ---- removals -----------------------------------------------------------------------------------


def _remove(db: Session, p: Principal, model: Any, row_id: int, ci_of: str) -> int:
    row = get_visible(db, model, row_id)
    require(may_edit(p))
    return int(getattr(row, ci_of))


@router.post("/systemer/ansvar/{row_id}/slett")
def responsibility_remove(db: PageDb, p: CurrentPrincipal, row_id: int) -> Response:
    ci_id = _remove(db, p, CIResponsibility, row_id, "ci_id")
    svc.remove_responsibility(db, row_id)
    return done(f"/systemer/{ci_id}", "removed")


@router.post("/systemer/relasjoner/{row_id}/slett")
def relation_remove(db: PageDb, p: CurrentPrincipal, row_id: int) -> Response:
    ci_id = _remove(db, p, CIRelation, row_id, "source_id")
    svc.remove_relation(db, row_id)
    return done(f"/systemer/{ci_id}", "removed")


@router.post("/systemer/bruk/{row_id}/slett")
def usage_remove(db: PageDb, p: CurrentPrincipal, row_id: int) -> Response:
    ci_id = _remove(db, p, CIUsage, row_id, "ci_id")
    svc.remove_usage(db, row_id)
    return done(f"/systemer/{ci_id}", "removed")


@router.post("/systemer/overvaking/{row_id}/slett")
def target_remove(db: PageDb, p: CurrentPrincipal, row_id: int) -> Response:
    ci_id = _remove(db, p, MonitorTarget, row_id, "ci_id")
    svc.remove_target(db, row_id)
    return done(f"/systemer/{ci_id}", "removed")
