"""Web-app assembly: one FastAPI app with every domain package's routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fellesdrift import __version__, kernel
from fellesdrift.kernel.db import get_engine
from fellesdrift.kernel.settings import Settings, get_settings
from fellesdrift.kernel.web import (
    EXCEPTION_HANDLERS,
    add_template_dir,
    add_template_global,
    readiness,
)

log = logging.getLogger("fellesdrift")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


API_DESCRIPTION = """Shared IT operations for Norwegian intercommunal IT units.

Errors are RFC 9457 `application/problem+json`. While the database cannot be reached (a
restart) every call answers **503** with `Retry-After`: retry after that many seconds.

**Retrying creates safely.** The creates of tickets, replies, orders and time entries take an
optional `Idempotency-Key` header (a value of your own, e.g. a UUID, per create). Sent again
with the same key and request (after a timeout, a lost connection or a 503, when you cannot
know whether the first one was stored), the create is not repeated: the answer is the first
response, with `Idempotency-Replayed: true`. The same key with a different request is a 422.
Keys are per user and remembered for 24 hours.
"""


class PerRequest:
    """What every HTTP request gets: its language, the security headers (``no-store`` for
    whatever a signed-in caller gets), and a CSRF cookie where a page issued a new token.
    Plain ASGI: Starlette's ``BaseHTTPMiddleware`` runs the app in a separate task and
    streams the response through a queue, which cost more per request than some pages take."""

    def __init__(self, app: ASGIApp, secure_cookies: bool) -> None:
        self.app = app
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from register.deps import CSRF_COOKIE, set_language

        request = Request(scope)
        set_language(request)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
                if getattr(request.state, "principal", None) is not None:
                    # What a signed-in person or a token sees is theirs: no browser or proxy
                    # cache may keep it (a shared computer's back button, a caching proxy).
                    headers.setdefault("Cache-Control", "no-store")
                new_csrf = getattr(request.state, "new_csrf_cookie", None)
                if new_csrf:
                    cookie = Response()
                    cookie.set_cookie(
                        CSRF_COOKIE,
                        new_csrf,
                        httponly=True,
                        samesite="lax",
                        secure=self.secure_cookies,
                        path="/",
                    )
                    headers.append("set-cookie", cookie.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from fellesdrift.assembly.jobs import JOBS
        from register import jobs

        with jobs.in_process(settings, app.state.engine, JOBS):  # if FELLESDRIFT_RUN_JOBS
            yield
        app.state.engine.dispose()

    app = FastAPI(
        title="fellesdrift",
        version=__version__,
        description=API_DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.settings = settings
    app.state.engine = get_engine(settings)
    app.mount(
        "/static", StaticFiles(directory=Path(kernel.__file__).parent / "static"), name="static"
    )
    _mount_domains(app)

    app.add_middleware(PerRequest, secure_cookies=settings.secure_cookies)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (a restart would not help while the database is down)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        """Readiness: the database answers too (503 problem+json otherwise), for the proxy's
        health check and for start-up scripts."""
        return readiness(app.state.engine)

    return app


def _mount_domains(app: FastAPI) -> None:
    """Every domain's routers and templates, in the order their paths are matched."""
    import fellesdrift.assembly.tables  # noqa: F401  (every table and its access rules)
    from billing import routes as billing_routes
    from fellesdrift.assembly.nav import nav_items
    from register import routes as register_routes
    from servicedesk.alerts.routes import router as alerts_router
    from servicedesk.changes import routes as change_routes
    from servicedesk.tickets import routes as ticket_routes
    from sla import routes as sla_routes

    add_template_global("nav_items", nav_items)
    for package in (register_routes, sla_routes, ticket_routes, change_routes, billing_routes):
        # Each domain's templates folder sits beside its routes package.
        add_template_dir(Path(str(package.__file__)).parent.parent / "templates")
    routers = [
        *register_routes.api_routers(),
        *ticket_routes.api_routers(),
        *change_routes.api_routers(),
        register_routes.sign_in_router(),
        *ticket_routes.page_routers(),
        *change_routes.page_routers(),
        *register_routes.page_routers(),
        alerts_router,
        *billing_routes.routers(),
        *sla_routes.routers(),
    ]
    for router in routers:
        app.include_router(router)
