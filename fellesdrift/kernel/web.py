"""Page rendering and error responses shared by every domain package's routes."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.exc import DataError
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
    return render(
        request, "error.html", problem.status, problem=problem, field_message=field_message
    )


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
    OverflowError: _overflow_handler,
}
