"""Pages: users (list, detail, create and edit with roles), the signed-in person's own profile
(language, contact details, password) and their API tokens.

Admins manage users; a kommune contact sees the users of their own kommune, read-only.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.problems import FieldError
from fellesdrift.kernel.web import render
from register.access import Principal
from register.choices import DRIFT_ROLES, KOMMUNE_ROLES, Role, TokenScope
from register.deps import LANG_COOKIE, AppSettings, CurrentPrincipal, PageDb, own_session_cookie
from register.models import (
    CIResponsibility,
    ConfigItem,
    Kommune,
    RoleGrant,
    Site,
    User,
)
from register.routes.common import CSRF
from register.routes.page_forms import (
    FormState,
    PostedForm,
    attempt,
    done,
    int_or_none,
    judge,
    paged,
    render_form,
    require,
)
from register.schemas import PasswordChange, TokenCreate, UserCreate, UserUpdate
from register.service import get_visible
from register.service import people as svc

router = APIRouter(include_in_schema=False, dependencies=CSRF)

OSLO = ZoneInfo("Europe/Oslo")
EDITABLE = ("full_name", "email", "phone", "site_id", "roles", "language", "active")
PROFILE = ("full_name", "email", "phone", "language")
LANGUAGES = ("nb", "en")


def may_list(p: Principal) -> bool:
    return p.is_admin or Role.KOMMUNE_CONTACT in p.roles


def _kommune_names(db: Session) -> dict[int, str]:
    rows = db.exec(select(Kommune.id, Kommune.name).order_by(Kommune.name)).all()
    return {kid: name for kid, name in rows if kid is not None}


def _roles_by_user(db: Session, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        rows = db.exec(select(RoleGrant).where(col(RoleGrant.user_id).in_(ids)))
        for grant in rows:
            out.setdefault(grant.user_id, []).append(grant.role)
    return {k: sorted(v) for k, v in out.items()}


# ---- users --------------------------------------------------------------------------------------


@router.get("/brukere", response_class=HTMLResponse)
def user_list(
    request: Request,
    db: PageDb,
    p: CurrentPrincipal,
    q: str = "",
    kommune: str = "",
    role: str = "",
    active: str = "",
    after: str | None = None,
) -> Response:
    require(may_list(p))
    stmt = select(User)
    if q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(
            or_(
                col(User.full_name).ilike(like),
                col(User.username).ilike(like),
                col(User.email).ilike(like),
            )
        )
    kommune_id = int_or_none(kommune)
    if kommune == "none":
        stmt = stmt.where(col(User.kommune_id).is_(None))
    elif kommune_id is not None:
        stmt = stmt.where(User.kommune_id == kommune_id)
    if role in {r.value for r in Role}:
        stmt = stmt.where(col(User.id).in_(select(RoleGrant.user_id).where(RoleGrant.role == role)))
    if active in ("1", "0"):
        stmt = stmt.where(User.active == (active == "1"))
    page = paged(request, db, stmt, User.id, after)
    return render(
        request,
        "people/user_list.html",
        page=page,
        roles=_roles_by_user(db, [u.id for u in page.rows]),
        kommuner=_kommune_names(db),
        filters={"q": q, "kommune": kommune, "role": role, "active": active},
        all_roles=[r.value for r in Role],
    )


def _role_options(kommune_id: int | None, creating: bool) -> list[str]:
    """Roles offered on the form: all when creating (the kommune is chosen on the same form),
    otherwise those that fit where the person belongs."""
    if creating:
        return [r.value for r in Role]
    unfit = DRIFT_ROLES if kommune_id is not None else KOMMUNE_ROLES
    return [r.value for r in Role if r not in unfit]


def _site_groups(db: Session, kommune_id: int | None, creating: bool) -> list[Any]:
    stmt = select(Site.id, Site.name, Site.code, Site.kommune_id)
    if not creating:
        if kommune_id is None:
            return []
        stmt = stmt.where(Site.kommune_id == kommune_id)
    names = _kommune_names(db)
    groups: dict[str, list[tuple[int | None, str]]] = {}
    for sid, name, code, kid in db.exec(stmt.order_by(col(Site.kommune_id), col(Site.name))):
        groups.setdefault(names.get(kid, ""), []).append((sid, f"{name} ({code})"))
    return sorted(groups.items())


def _user_form(request: Request, db: Session, form: FormState, user: User | None) -> Response:
    creating = user is None
    kommune_id = None if user is None else user.kommune_id
    if not creating:
        form.labels["password"] = "field.new_password"  # noqa: S105 - a label key
    return render_form(
        request,
        "people/user_form.html",
        form,
        user=user,
        kommuner=list(_kommune_names(db).items()),
        kommune_name=_kommune_names(db).get(kommune_id or 0, ""),
        site_groups=_site_groups(db, kommune_id, creating),
        role_options=_role_options(kommune_id, creating),
        languages=LANGUAGES,
    )


@router.get("/brukere/ny", response_class=HTMLResponse)
def user_new(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require(p.is_admin)
    form = FormState.blank(request, roles=[Role.END_USER.value], language="nb", active=True)
    return _user_form(request, db, form, None)


@router.post("/brukere/ny", response_class=HTMLResponse)
def user_create(request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm) -> Response:
    require(p.is_admin)
    data, errors = judge(UserCreate, form, checkboxes=("active",), lists=("roles",))
    created: list[User] = []
    if data is not None:
        errors = attempt(db, lambda: created.append(svc.create_user(db, data)))
    elif not any(e.field.startswith("roles") for e in errors):
        # Say at once when the roles do not fit, not only after the other fields are right.
        roles = [Role(r) for r in form.getlist("roles") if r in {x.value for x in Role}]
        errors += svc.role_problems(roles, int_or_none(form.get("kommune_id")))
    if errors:
        return _user_form(request, db, FormState.posted(request, form, errors), None)
    return done(f"/brukere/{created[0].id}", "created")


@router.get("/brukere/{user_id}", response_class=HTMLResponse)
def user_detail(request: Request, db: PageDb, p: CurrentPrincipal, user_id: int) -> Response:
    user = get_visible(db, User, user_id)
    require(may_list(p) or user.id == p.user_id)
    named = db.exec(
        select(CIResponsibility, ConfigItem)
        .join(ConfigItem, col(ConfigItem.id) == CIResponsibility.ci_id)
        .where(CIResponsibility.user_id == user.id)
        .order_by(ConfigItem.name)
    ).all()
    site = db.get(Site, user.site_id) if user.site_id else None
    return render(
        request,
        "people/user_detail.html",
        user=user,
        roles=svc.roles_of(db, user_id),
        kommune_name=_kommune_names(db).get(user.kommune_id or 0, ""),
        site=site,
        named=named,
        may_edit=p.is_admin,
    )


@router.get("/brukere/{user_id}/rediger", response_class=HTMLResponse)
def user_edit(request: Request, db: PageDb, p: CurrentPrincipal, user_id: int) -> Response:
    user = get_visible(db, User, user_id)
    require(p.is_admin)
    names = [n for n in EDITABLE if n != "roles"]
    form = FormState.of(request, user, names, roles=svc.roles_of(db, user_id))
    return _user_form(request, db, form, user)


@router.post("/brukere/{user_id}/rediger", response_class=HTMLResponse)
def user_update(
    request: Request, db: PageDb, p: CurrentPrincipal, user_id: int, form: PostedForm
) -> Response:
    user = get_visible(db, User, user_id)
    require(p.is_admin)
    fixed = {"username": user.username, "kommune_id": user.kommune_id}
    data, errors = judge(UserCreate, form, checkboxes=("active",), lists=("roles",), fixed=fixed)
    if data is not None:
        change = UserUpdate(**data.model_dump(include=set(EDITABLE)))
        password = data.password

        def save() -> None:
            svc.update_user(db, user_id, change)
            if password:
                svc.set_password(db, user_id, password)

        errors = attempt(db, save)
    if errors:
        user = get_visible(db, User, user_id)
        return _user_form(request, db, FormState.posted(request, form, errors), user)
    return done(f"/brukere/{user_id}", "saved")


# ---- own profile --------------------------------------------------------------------------------


def _profile(
    request: Request,
    db: Session,
    p: Principal,
    form: FormState | None = None,
    password_form: FormState | None = None,
) -> Response:
    user = get_visible(db, User, p.user_id)
    form = form or FormState.of(request, user, PROFILE)
    password_form = password_form or FormState.blank(request)
    password_form.prefix = "pw-"
    errors = bool(form.errors or password_form.errors)
    return render(
        request,
        "people/profile.html",
        422 if errors else 200,
        user=user,
        form=form,
        password_form=password_form,
        has_errors=errors,
        roles=svc.roles_of(db, user.id),  # type: ignore[arg-type]
        kommune_name=_kommune_names(db).get(user.kommune_id or 0, ""),
        languages=LANGUAGES,
    )


@router.get("/profil", response_class=HTMLResponse)
def profile(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require(p.user_id is not None)
    return _profile(request, db, p)


@router.post("/profil", response_class=HTMLResponse)
def profile_update(
    request: Request, db: PageDb, p: CurrentPrincipal, settings: AppSettings, form: PostedForm
) -> Response:
    require(p.user_id is not None)
    user = get_visible(db, User, p.user_id)
    data, errors = judge(UserCreate, form, fixed={"username": user.username})
    if data is not None:
        change = UserUpdate(**data.model_dump(include=set(PROFILE)))
        errors = attempt(db, lambda: svc.update_user(db, user.id, change))  # type: ignore[arg-type]
    if errors:
        return _profile(request, db, p, form=FormState.posted(request, form, errors))
    response = done("/profil", "saved")
    # The language cookie decides the page language, so it follows the saved choice at once.
    response.set_cookie(
        LANG_COOKIE,
        data.language if data else "nb",
        max_age=365 * 86400,
        samesite="lax",
        path="/",
        secure=settings.secure_cookies,
    )
    return response


@router.post("/profil/passord", response_class=HTMLResponse)
def password_change(
    request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm
) -> Response:
    require(p.user_id is not None)
    data, errors = judge(PasswordChange, form, checkboxes=("keep_tokens",))
    if data is not None and form.get("new_password_repeat") != data.new_password:
        errors = [FieldError("new_password_repeat", "does not match the new password")]
    if data is not None and not errors:
        cookie = own_session_cookie(request)  # this browser stays signed in
        errors = attempt(db, lambda: svc.change_password(db, p.user_id, data, cookie))  # type: ignore[arg-type]
    if errors:
        state = FormState.posted(request, form, errors)
        return _profile(request, db, p, password_form=state)
    return done("/profil", "password_changed")


# ---- API tokens ---------------------------------------------------------------------------------


def _token_page(
    request: Request, db: Session, p: Principal, form: FormState, created: str = ""
) -> Response:
    scopes = [s.value for s in TokenScope if s != TokenScope.ADMIN or p.is_admin]
    response = render_form(
        request,
        "people/tokens.html",
        form,
        tokens=svc.list_tokens(db),
        scopes=scopes,
        created=created,
        now=datetime.now(OSLO),
    )
    if created:
        response.headers["Cache-Control"] = "no-store"
    return response


def _expiry(raw: str) -> tuple[datetime | None, list[FieldError]]:
    """The last second of the chosen day, Oslo time; the form asks for a date."""
    if not raw.strip():
        return None, []
    try:
        day = TypeAdapter(date).validate_python(raw.strip())
    except ValidationError as exc:
        err = exc.errors()[0]
        params = {k: v for k, v in (err.get("ctx") or {}).items() if k != "error"}
        return None, [FieldError("expires_at", err["msg"], raw, code=err["type"], params=params)]
    return datetime.combine(day, time(23, 59, 59), tzinfo=OSLO), []


@router.get("/api-nokler", response_class=HTMLResponse)
def tokens(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require(p.user_id is not None)
    return _token_page(request, db, p, FormState.blank(request, scopes=["read"]))


@router.post("/api-nokler", response_class=HTMLResponse)
def token_create(request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm) -> Response:
    require(p.user_id is not None)
    expires_at, errors = _expiry(form.get("expires_at"))
    data, more = judge(TokenCreate, form, lists=("scopes",), fixed={"expires_at": expires_at})
    errors += more
    issued: list[str] = []
    if data is not None and not errors:
        errors = attempt(db, lambda: issued.append(svc.create_token(db, data)[1]))
    if errors:
        return _token_page(request, db, p, FormState.posted(request, form, errors))
    return _token_page(request, db, p, FormState.blank(request, scopes=["read"]), issued[0])


@router.post("/api-nokler/{token_id}/trekk-tilbake")
def token_revoke(request: Request, db: PageDb, p: CurrentPrincipal, token_id: int) -> Response:
    svc.revoke_token(db, token_id)
    return done("/api-nokler", "revoked")
