"""Pages: kommuner (list, detail with contacts, sites and merger history, edit, end/merge) and
their sites and organisational units.

Admins manage kommuner; a kommune contact manages the contacts and sites of their own kommune.
Reads go through the access layer, so a kommune user who opens another kommune's page gets 404.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.web import render
from register.access import Principal
from register.choices import ContactKind, Role, SiteKind
from register.deps import CurrentPrincipal, PageDb
from register.models import Kommune, KommuneContact, Site
from register.routes.common import CSRF
from register.routes.page_forms import (
    FormState,
    PostedForm,
    attempt,
    done,
    judge,
    paged,
    render_form,
    require,
)
from register.schemas import (
    ContactIn,
    KommuneCreate,
    KommuneEnd,
    KommuneFields,
    KommuneUpdate,
    SiteIn,
    SiteUpdate,
)
from register.service import get_visible
from register.service import kommuner as svc

router = APIRouter(include_in_schema=False, dependencies=CSRF)

OSLO = ZoneInfo("Europe/Oslo")
KOMMUNE_FIELDS = list(KommuneFields.model_fields)
SITE_FIELDS = ["code", "name", "kind", "parent_id", "address"]
SITES_ON_DETAIL = 20


def today() -> date:
    return datetime.now(OSLO).date()


def may_steward(p: Principal, kommune_id: int) -> bool:
    """Admins, and a kommune contact for their own kommune (and the kommuner it succeeded)."""
    return p.is_admin or (Role.KOMMUNE_CONTACT in p.roles and kommune_id in p.kommuner)


def _names(db: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = db.exec(select(Kommune.id, Kommune.name).where(col(Kommune.id).in_(wanted))).all()
    return {kid: name for kid, name in rows if kid is not None}


# ---- kommuner -----------------------------------------------------------------------------------


@router.get("/kommuner", response_class=HTMLResponse)
def kommune_list(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    q: str = "",
    status: str = "",
    after: str | None = None,
) -> Response:
    stmt = select(Kommune)
    if q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(
            or_(col(Kommune.name).ilike(like), col(Kommune.kommunenummer).ilike(like))
        )
    if status == "active":
        stmt = stmt.where(or_(col(Kommune.valid_to).is_(None), col(Kommune.valid_to) >= today()))
    elif status == "ended":
        stmt = stmt.where(col(Kommune.valid_to) < today())
    page = paged(request, db, stmt, Kommune.id, after)
    successors = _names(db, {k.successor_id for k in page.rows})
    return render(
        request,
        "register/kommune_list.html",
        page=page,
        successors=successors,
        q=q,
        status_filter=status,
        today=today(),
    )


def _kommune_form(request: Request, form: FormState, kommune: Kommune | None) -> Response:
    return render_form(request, "register/kommune_form.html", form, kommune=kommune)


@router.get("/kommuner/ny", response_class=HTMLResponse)
def kommune_new(request: Request, p: CurrentPrincipal) -> Response:
    require(p.is_admin)
    return _kommune_form(request, FormState.blank(request), None)


@router.post("/kommuner/ny", response_class=HTMLResponse)
def kommune_create(request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm) -> Response:
    require(p.is_admin)
    data, errors = judge(KommuneCreate, form)
    created: list[Kommune] = []
    if data is not None:
        errors = attempt(db, lambda: created.append(svc.create_kommune(db, data)))
    if errors:
        return _kommune_form(request, FormState.posted(request, form, errors), None)
    return done(f"/kommuner/{created[0].id}", "created")


@router.get("/kommuner/{kommune_id}", response_class=HTMLResponse)
def kommune_detail(request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    predecessors = db.exec(
        select(Kommune).where(Kommune.successor_id == kommune.id).order_by(Kommune.name)
    ).all()
    successor = db.get(Kommune, kommune.successor_id) if kommune.successor_id else None
    site_stmt = select(Site).where(Site.kommune_id == kommune.id)
    sites = db.exec(site_stmt.order_by(Site.name).limit(SITES_ON_DETAIL)).all()
    site_count = db.exec(
        select(func.count()).select_from(Site).where(Site.kommune_id == kommune.id)
    ).one()
    return render(
        request,
        "register/kommune_detail.html",
        kommune=kommune,
        contacts=svc.contacts_of(db, kommune.id),  # type: ignore[arg-type]
        predecessors=predecessors,
        successor=successor,
        successor_hidden=kommune.successor_id is not None and successor is None,
        sites=sites,
        site_count=site_count,
        may_admin=p.is_admin,
        may_steward=may_steward(p, kommune.id),  # type: ignore[arg-type]
        today=today(),
    )


@router.get("/kommuner/{kommune_id}/rediger", response_class=HTMLResponse)
def kommune_edit(request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    require(p.is_admin)
    return _kommune_form(request, FormState.of(request, kommune, KOMMUNE_FIELDS), kommune)


@router.post("/kommuner/{kommune_id}/rediger", response_class=HTMLResponse)
def kommune_update(
    request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int, form: PostedForm
) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    require(p.is_admin)
    data, errors = judge(KommuneFields, form)
    if data is not None:
        change = KommuneUpdate(**data.model_dump())
        errors = attempt(db, lambda: svc.update_kommune(db, kommune_id, change))
    if errors:
        return _kommune_form(request, FormState.posted(request, form, errors), kommune)
    return done(f"/kommuner/{kommune_id}", "saved")


def _end_form(request: Request, db: Session, kommune: Kommune, form: FormState) -> Response:
    candidates = db.exec(
        select(Kommune)
        .where(Kommune.id != kommune.id, col(Kommune.valid_to).is_(None))
        .order_by(Kommune.name)
    ).all()
    options = [(k.id, k.name) for k in candidates]
    return render_form(
        request, "register/kommune_end.html", form, kommune=kommune, successors=options
    )


@router.get("/kommuner/{kommune_id}/avslutt", response_class=HTMLResponse)
def kommune_end_form(
    request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int
) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    require(p.is_admin)
    form = FormState.of(request, kommune, ["valid_to", "successor_id"])
    return _end_form(request, db, kommune, form)


@router.post("/kommuner/{kommune_id}/avslutt", response_class=HTMLResponse)
def kommune_end(
    request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int, form: PostedForm
) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    require(p.is_admin)
    data, errors = judge(KommuneEnd, form)
    if data is not None:
        errors = attempt(db, lambda: svc.end_kommune(db, kommune_id, data))
    if errors:
        kommune = get_visible(db, Kommune, kommune_id)
        return _end_form(request, db, kommune, FormState.posted(request, form, errors))
    return done(f"/kommuner/{kommune_id}", "ended")


# ---- contacts -----------------------------------------------------------------------------------


def _contact_form(request: Request, kommune: Kommune, form: FormState) -> Response:
    kinds = [k.value for k in ContactKind]
    return render_form(request, "register/contact_form.html", form, kommune=kommune, kinds=kinds)


@router.get("/kommuner/{kommune_id}/kontakter/ny", response_class=HTMLResponse)
def contact_new(request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    require(may_steward(p, kommune_id))
    return _contact_form(request, kommune, FormState.blank(request))


@router.post("/kommuner/{kommune_id}/kontakter/ny", response_class=HTMLResponse)
def contact_create(
    request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int, form: PostedForm
) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    require(may_steward(p, kommune_id))
    data, errors = judge(ContactIn, form)
    if data is not None:
        errors = attempt(db, lambda: svc.add_contact(db, kommune_id, data))
    if errors:
        return _contact_form(request, kommune, FormState.posted(request, form, errors))
    return done(f"/kommuner/{kommune_id}", "added")


@router.post("/kontakter/{contact_id}/slett")
def contact_delete(request: Request, db: PageDb, p: CurrentPrincipal, contact_id: int) -> Response:
    contact = get_visible(db, KommuneContact, contact_id)
    require(may_steward(p, contact.kommune_id))
    svc.remove_contact(db, contact_id)
    return done(f"/kommuner/{contact.kommune_id}", "removed")


# ---- sites --------------------------------------------------------------------------------------


@router.get("/kommuner/{kommune_id}/lokasjoner", response_class=HTMLResponse)
def site_list(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    kommune_id: int,
    q: str = "",
    kind: str = "",
    after: str | None = None,
) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    stmt = select(Site).where(Site.kommune_id == kommune.id)
    if q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(col(Site.name).ilike(like), col(Site.code).ilike(like)))
    if kind in {k.value for k in SiteKind}:
        stmt = stmt.where(Site.kind == kind)
    page = paged(request, db, stmt, Site.id, after)
    parents = _site_names(db, {s.parent_id for s in page.rows})
    return render(
        request,
        "register/site_list.html",
        kommune=kommune,
        page=page,
        parents=parents,
        q=q,
        kind=kind,
        kinds=[k.value for k in SiteKind],
        may_steward=may_steward(p, kommune_id),
    )


def _site_names(db: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = db.exec(select(Site.id, Site.name).where(col(Site.id).in_(wanted))).all()
    return {sid: name for sid, name in rows if sid is not None}


def _site_form(
    request: Request, db: Session, kommune: Kommune, form: FormState, site: Site | None
) -> Response:
    stmt = select(Site.id, Site.code, Site.name).where(Site.kommune_id == kommune.id)
    if site is not None:
        stmt = stmt.where(Site.id != site.id)
    parents = [(sid, f"{name} ({code})") for sid, code, name in db.exec(stmt.order_by(Site.name))]
    return render_form(
        request,
        "register/site_form.html",
        form,
        kommune=kommune,
        site=site,
        parents=parents,
        kinds=[k.value for k in SiteKind],
    )


@router.get("/kommuner/{kommune_id}/lokasjoner/ny", response_class=HTMLResponse)
def site_new(request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    require(may_steward(p, kommune_id))
    return _site_form(request, db, kommune, FormState.blank(request, kind="site"), None)


@router.post("/kommuner/{kommune_id}/lokasjoner/ny", response_class=HTMLResponse)
def site_create(
    request: Request, db: PageDb, p: CurrentPrincipal, kommune_id: int, form: PostedForm
) -> Response:
    kommune = get_visible(db, Kommune, kommune_id)
    require(may_steward(p, kommune_id))
    data, errors = judge(SiteIn, form, fixed={"kommune_id": kommune_id})
    if data is not None:
        errors = attempt(db, lambda: svc.create_site(db, data))
    if errors:
        kommune = get_visible(db, Kommune, kommune_id)
        return _site_form(request, db, kommune, FormState.posted(request, form, errors), None)
    return done(f"/kommuner/{kommune_id}/lokasjoner", "created")


def _visible_site(db: Session, p: Principal, site_id: int) -> tuple[Site, Kommune]:
    site = get_visible(db, Site, site_id)
    kommune = get_visible(db, Kommune, site.kommune_id)
    require(may_steward(p, site.kommune_id))
    return site, kommune


@router.get("/lokasjoner/{site_id}/rediger", response_class=HTMLResponse)
def site_edit(request: Request, db: PageDb, p: CurrentPrincipal, site_id: int) -> Response:
    site, kommune = _visible_site(db, p, site_id)
    return _site_form(request, db, kommune, FormState.of(request, site, SITE_FIELDS), site)


@router.post("/lokasjoner/{site_id}/rediger", response_class=HTMLResponse)
def site_update(
    request: Request, db: PageDb, p: CurrentPrincipal, site_id: int, form: PostedForm
) -> Response:
    site, kommune = _visible_site(db, p, site_id)
    fixed = {"kommune_id": site.kommune_id, "code": site.code}
    data, errors = judge(SiteIn, form, fixed=fixed)
    if data is not None:
        change = SiteUpdate(**data.model_dump(include={"name", "kind", "parent_id", "address"}))
        errors = attempt(db, lambda: svc.update_site(db, site_id, change))
    if errors:
        site, kommune = _visible_site(db, p, site_id)
        state = FormState.posted(request, form, errors)
        state.values["code"] = site.code
        return _site_form(request, db, kommune, state, site)
    return done(f"/kommuner/{kommune.id}/lokasjoner", "saved")


@router.get("/lokasjoner/{site_id}/slett", response_class=HTMLResponse)
def site_delete_confirm(
    request: Request, db: PageDb, p: CurrentPrincipal, site_id: int
) -> Response:
    site, kommune = _visible_site(db, p, site_id)
    form = FormState.blank(request)
    return render_form(request, "register/site_delete.html", form, site=site, kommune=kommune)


@router.post("/lokasjoner/{site_id}/slett", response_class=HTMLResponse)
def site_delete(request: Request, db: PageDb, p: CurrentPrincipal, site_id: int) -> Response:
    site, kommune = _visible_site(db, p, site_id)
    kommune_id = kommune.id
    errors = attempt(db, lambda: svc.delete_site(db, site_id))
    if errors:
        site, kommune = _visible_site(db, p, site_id)
        form = FormState(FormState.blank(request).lang, errors=errors)
        return render_form(
            request, "register/site_delete.html", form, 409, site=site, kommune=kommune
        )
    return done(f"/kommuner/{kommune_id}/lokasjoner", "deleted")
