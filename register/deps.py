"""FastAPI dependencies: who is asking, in which language, and a session bound to them.

``Db`` is the only way a route gets a database session, and it always carries the request's
principal, so the access layer's filters apply to everything the route does.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from fellesdrift.kernel.i18n import choose_language
from fellesdrift.kernel.problems import Problem
from fellesdrift.kernel.settings import Settings
from register import auth
from register.access import Principal, bind

SESSION_COOKIE = "fd_session"
CSRF_COOKIE = "fd_csrf"
LANG_COOKIE = "fd_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Problem):
    def __init__(self) -> None:
        super().__init__(401, "Sign-in required", "Sign in to continue")


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def system_session(request: Request) -> Session:
    session = Session(engine_of(request), expire_on_commit=False)
    return bind(session, Principal.system("auth"))


def _from_bearer(request: Request, value: str) -> Principal:
    # A session of its own, closed (its connection back in the pool) before the request waits
    # for the route's thread: held across that wait, connections could all end up with
    # requests that have no thread while every thread waits for a connection.
    with system_session(request) as session:
        found = auth.token_lookup(session, value)
    if found is None:
        raise Problem(401, "Invalid token", "The API token is unknown, expired or revoked")
    return found


def _from_cookie(request: Request, value: str) -> Principal | None:
    with system_session(request) as session:  # closed at once, as in _from_bearer
        found = auth.cookie_lookup(session, value)
    if found is None:
        return None
    request.state.csrf_token, principal = found
    request.state.cookie_auth = True
    return principal


def bearer_token(request: Request) -> str | None:
    """The API token of the request, if any. Besides ``Bearer <token>`` a bare token is taken,
    because Prometheus 2.42's HTTP service discovery sends ``credentials_file`` without a type
    unless ``type: Bearer`` is spelled out."""
    header = request.headers.get("authorization", "").strip()
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if header.startswith(auth.TOKEN_PREFIX):
        return header
    return None


def resolve_principal(request: Request) -> Principal | None:
    """The request's principal from a bearer token or the session cookie; cached per request."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    principal: Principal | None = None
    token = bearer_token(request)
    if token is not None:
        principal = _from_bearer(request, token)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        principal = _from_cookie(request, cookie)
    request.state.principal = principal
    if principal is not None:
        request.state.lang = principal.language
    return principal


def own_session_cookie(request: Request) -> str | None:
    """The session cookie the request was signed in with (None for a bearer token)."""
    if getattr(request.state, "cookie_auth", False):
        return request.cookies.get(SESSION_COOKIE)
    return None


def ensure_csrf(request: Request) -> str:
    """The CSRF token for forms: the session's, or a double-submit cookie before sign-in."""
    token = getattr(request.state, "csrf_token", "") or request.cookies.get(CSRF_COOKIE, "")
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = token
    request.state.csrf_token = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe request made with cookie credentials unless it carries the CSRF token
    (form field ``csrf_token`` or header ``X-CSRF-Token``)."""
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return  # a bearer token is no ambient credential: the route's principal checks it
    # Resolving reads the database: off the event loop, which would otherwise stall every
    # other request of this worker for those round trips.
    await run_in_threadpool(resolve_principal, request)
    expected = getattr(request.state, "csrf_token", "") or request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get("x-csrf-token")
    if given is None and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        raw = form.get("csrf_token")
        given = raw if isinstance(raw, str) else None
    if not expected or not auth.csrf_ok(expected, given):
        raise Problem(
            403, "CSRF check failed", "The form has expired; reload the page and try again"
        )


def set_language(request: Request) -> None:
    settings = settings_of(request)
    request.state.lang = choose_language(
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        settings.default_language,
    )


def require_scope(request: Request, principal: Principal) -> None:
    """A token's scopes must allow the method (read for GET, write otherwise), on the API and
    on pages alike: a token with only the ``inventory`` scope reads nothing but the feed."""
    if principal.scopes is not None:
        need = {"read", "write", "admin"} if request.method in SAFE_METHODS else {"write", "admin"}
        if not principal.scopes & need:
            raise Problem(403, "Insufficient scope", f"the token needs one of {sorted(need)}")


def _checked(request: Request, principal: Principal | None) -> Principal:
    if principal is None:
        raise LoginRequired()
    require_scope(request, principal)
    if request.cookies.get(LANG_COOKIE):
        set_language(request)
    return principal


async def current_principal(request: Request) -> Principal:
    """The signed-in caller (401 otherwise), whose token scopes allow the method. Looking
    them up reads the database, off the event loop; a CSRF check may have done so already."""
    if hasattr(request.state, "principal"):
        return _checked(request, request.state.principal)
    return _checked(request, await run_in_threadpool(resolve_principal, request))


async def api_principal(request: Request) -> Principal:
    """For /api routes: the caller, whose token scopes allow the method."""
    return await current_principal(request)


@asynccontextmanager
async def bound_session(request: Request, principal: Principal) -> AsyncIterator[Session]:
    """A session bound to ``principal``, committed when the route is done (rolled back if it
    failed) and closed. Entering does no I/O; the end is one trip to a thread."""
    session = bind(Session(engine_of(request), expire_on_commit=False), principal)
    session.info["settings"] = settings_of(request)
    ok = False
    try:
        yield session
        ok = True
    finally:
        await _finish(session, commit=ok)


async def _finish(session: Session, *, commit: bool) -> None:
    """Commit (or not) and close ``session`` in a thread, whatever happens to the request: the
    end is shielded from cancellation (a client that went away must not leave a pooled
    connection checked out) and does not wait for a free thread of the shared pool, whose
    threads may all be waiting for a connection this very session holds (as FastAPI ends
    its own dependencies)."""
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(_end, session, commit, limiter=anyio.CapacityLimiter(1))


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
    finally:
        session.close()  # rolls back whatever was not committed


async def page_db(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> AsyncIterator[Session]:
    async with bound_session(request, principal) as session:
        yield session


async def api_db(
    request: Request, principal: Annotated[Principal, Depends(api_principal)]
) -> AsyncIterator[Session]:
    async with bound_session(request, principal) as session:
        yield session


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
# scope="function": commit before the response is sent, so a failed commit is the response.
PageDb = Annotated[Session, Depends(page_db, scope="function")]
ApiDb = Annotated[Session, Depends(api_db, scope="function")]
AppSettings = Annotated[Settings, Depends(settings_of)]
