"""Pages: sign-in, sign-out, language choice and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fellesdrift.kernel.i18n import choose_language as language_asked_for
from fellesdrift.kernel.problems import Problem
from fellesdrift.kernel.web import render
from register import auth
from register.deps import (
    LANG_COOKIE,
    SESSION_COOKIE,
    AppSettings,
    CurrentPrincipal,
    ensure_csrf,
    resolve_principal,
    system_session,
)
from register.routes.common import CSRF

router = APIRouter(include_in_schema=False, dependencies=CSRF)


def safe_next(value: str | None) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/logg-inn", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    if resolve_principal(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    ensure_csrf(request)
    return render(request, "login.html", next=safe_next(next), error=None, username="")


@router.post("/logg-inn", response_class=HTMLResponse)
def login(
    request: Request,
    settings: AppSettings,
    username: Annotated[str, Form(max_length=120)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        with system_session(request) as session:
            user = auth.authenticate(session, settings, username, password)
            new = auth.start_session(session, settings, user)
    except Problem as problem:
        ensure_csrf(request)
        page: Response = render(
            request,
            "login.html",
            problem.status,
            next=safe_next(next),
            error=problem,
            username=username,
        )
        if problem.status == 429:
            page.headers["Retry-After"] = str(getattr(problem, "retry_after", 60))
        return page
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.cookie_value,
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    response.set_cookie(
        LANG_COOKIE,
        _language_after_sign_in(request, user.language, settings.default_language),
        samesite="lax",
        path="/",
        secure=settings.secure_cookies,
    )
    return response


def _language_after_sign_in(request: Request, profile: str, default: str) -> str:
    """A language chosen in the profile wins; a profile left at the default keeps the
    language this browser already reads in (its language cookie or Accept-Language)."""
    if profile != default:
        return profile
    asked = language_asked_for(
        request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"), ""
    )
    return asked or profile


@router.post("/logg-ut")
def logout(request: Request) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with system_session(request) as session:
            auth.end_session(session, cookie)
    response = RedirectResponse("/logg-inn", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/sprak")
def choose_language(
    request: Request,
    settings: AppSettings,
    lang: Annotated[str, Form(pattern="^(nb|en)$")],
    next: Annotated[str, Form()] = "/",
) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 86400,
        samesite="lax",
        path="/",
        secure=settings.secure_cookies,
    )
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: CurrentPrincipal) -> Response:
    return render(request, "home.html")
