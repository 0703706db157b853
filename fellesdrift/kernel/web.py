"""Page rendering and error responses shared by every domain package's routes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.problems import FieldError, Problem, from_validation_errors

PROBLEM_JSON = "application/problem+json"
_template_dirs: list[Path] = [Path(__file__).parent / "templates"]
_template_globals: dict[str, Any] = {}


def add_template_dir(path: Path) -> None:
    """A domain package registers its templates folder (called at app assembly)."""
    if path not in _template_dirs:
        _template_dirs.append(path)


def add_template_global(name: str, value: Any) -> None:
    """A domain package offers a function to every template (e.g. the navigation)."""
    _template_globals[name] = value
    reset_templates()


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(p)) for p in _template_dirs]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(_template_globals)
    return env


_templates: Jinja2Templates | None = None


def templates() -> Jinja2Templates:
    global _templates
    if _templates is None:
        _templates = Jinja2Templates(env=_environment())
    return _templates


def reset_templates() -> None:
    global _templates
    _templates = None


def language_of(request: Request) -> str:
    return getattr(request.state, "lang", "nb")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the translator ``_``, the language, the principal and CSRF token."""
    lang = language_of(request)
    base = {
        "_": partial(translate, lang=lang),
        "lang": lang,
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "path": request.url.path,
    }
    base.update(context)
    response = templates().TemplateResponse(request, name, base, status_code=status)
    return response


def render_fragment(request: Request, name: str, **context: Any) -> Markup:
    """Render part of a page (a panel another package's page includes) with what ``render``
    gives a whole page: the translator, the language, the principal."""
    lang = language_of(request)
    base = {
        "_": partial(translate, lang=lang),
        "lang": lang,
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "request": request,
    }
    return Markup(templates().env.get_template(name).render(base | context))  # noqa: S704


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem_response(request: Request, problem: Problem) -> Response:
    headers = {}
    retry = getattr(problem, "retry_after", None)
    if retry:
        headers["Retry-After"] = str(retry)
    if problem.status == 401 and not wants_json(request) and request.method == "GET":
        from urllib.parse import quote

        return RedirectResponse(f"/logg-inn?next={quote(request.url.path)}", status_code=303)
    if wants_json(request):
        if problem.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="fellesdrift"'
        return JSONResponse(problem.as_dict(), problem.status, headers, media_type=PROBLEM_JSON)
    if problem.code:
        problem = replace(problem, detail=problem_detail(problem, language_of(request)))
    page = render(
        request, "error.html", problem.status, problem=problem, field_message=field_message
    )
    if retry:
        page.headers["Retry-After"] = str(retry)
    return page


def coded_message(code: str, params: dict[str, Any], lang: str) -> str | None:
    """The text of a domain's catalogue key (a code with a dot), or None if there is none."""
    if "." not in code:
        return None
    text = translate(code, lang, **params)
    return None if text == code else text


def problem_detail(problem: Problem, lang: str) -> str:
    """A problem's detail in the page's language where it carries a catalogue key."""
    if problem.code:
        text = coded_message(problem.code, problem.params, lang)
        if text is not None:
            return text
    return problem.detail


def field_message(error: FieldError, lang: str) -> str:
    """A field error in the page's language: domain codes (catalogue keys such as
    ``billing_err.unknown_kommune``, filled in with the error's params), pydantic codes and
    known constant messages are translated; anything else is shown as given."""
    if error.code:
        text = coded_message(error.code, error.params, lang)
        if text is not None:
            return text
    if error.code and error.code != "value_error":
        text = translate(f"pydantic.{error.code}", lang, **error.params)
        if not text.startswith("pydantic."):
            return text
    text = translate(f"msg.{error.message}", lang)
    return error.message if text.startswith("msg.") else text


async def _problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = from_validation_errors(exc.errors(), from_request=True)
    detail = "; ".join(str(e) for e in errors)
    return problem_response(request, Problem(422, "Invalid input", detail, errors))


async def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}
    title = titles.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    response = problem_response(request, Problem(exc.status_code, title, detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


#: SQLSTATE of a number too large (or small) for its column, e.g. an id beyond ``integer``.
NUMERIC_OUT_OF_RANGE = "22003"


async def _data_handler(request: Request, exc: Exception) -> Response:
    """Input the database cannot hold is the client's error (422): a number beyond its
    column's range, or text with a NUL character (PostgreSQL text cannot hold one; psycopg
    refuses it before sending). Any other data error is ours and stays a 500. Lookups by id
    say 404 before this (see ``register.service.get_visible``)."""
    assert isinstance(exc, DataError)
    if getattr(exc.orig, "sqlstate", None) == NUMERIC_OUT_OF_RANGE:
        detail = "a number in the request is outside the range the database can store"
    elif "NUL (0x00)" in str(exc.orig):
        detail = "text in the request contains a NUL character (\\x00), which cannot be stored"
    else:
        raise exc
    return problem_response(request, Problem(422, "Invalid input", detail))


#: Seconds a client is asked to wait (``Retry-After``) while the database cannot be reached.
DATABASE_RETRY_AFTER = 5
_log = logging.getLogger("fellesdrift.kernel.web")


@dataclass
class Unavailable(Problem):
    """503: the service cannot answer now; ``retry_after`` seconds is a good time to retry."""

    retry_after: int = DATABASE_RETRY_AFTER


def database_unavailable(exc: BaseException) -> bool:
    """Whether a database error means the database cannot be reached now (stopped,
    restarting, the connection lost, the pool exhausted) rather than a fault of a statement.
    Lock and serialization failures are operational errors too: retrying is right for them."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def database_problem() -> Unavailable:
    return Unavailable(
        503,
        "Service unavailable",
        "The database cannot be reached at the moment; try again shortly",
        code="problem.detail.503",
    )


async def _database_handler(request: Request, exc: Exception) -> Response:
    """The database is down or restarting: 503 with Retry-After (problem+json on the API, a
    "try again shortly" page elsewhere) and one log line, no traceback. Anything else is ours
    and stays a 500."""
    if not database_unavailable(exc):
        raise exc
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    _log.warning(
        "database unavailable: %s %s: %s: %s",
        *(request.method, request.url.path, type(exc).__name__, cause[0] if cause else ""),
    )
    return problem_response(request, database_problem())


def readiness(engine: Engine) -> Response:
    """200 when the database answers a query, else 503 problem+json with Retry-After."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except (DBAPIError, PoolTimeout) as exc:
        if not database_unavailable(exc):
            raise
        problem = database_problem()
        headers = {"Retry-After": str(problem.retry_after)}
        return JSONResponse(problem.as_dict(), 503, headers, media_type=PROBLEM_JSON)
    return JSONResponse({"status": "ready", "database": "ok"})


async def _overflow_handler(request: Request, exc: Exception) -> Response:
    """SQLite's driver refuses an integer beyond 64 bits with an ``OverflowError`` (PostgreSQL
    answers SQLSTATE 22003, above): the same client error, wherever a number reaches a query."""
    assert isinstance(exc, OverflowError)
    detail = "a number in the request is outside the range the database can store"
    return problem_response(request, Problem(422, "Invalid input", detail))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    Problem: _problem_handler,
    RequestValidationError: _validation_handler,
    StarletteHTTPException: _http_handler,
    DataError: _data_handler,
    DBAPIError: _database_handler,
    PoolTimeout: _database_handler,
    OverflowError: _overflow_handler,
}
