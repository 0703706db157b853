"""What the portal's pages share: forms whose messages come from the portal's catalogue
fragment, uploads read from multipart forms, names of the people on a ticket, paging newest
first, and how a ticket's status, priority and TLP read as text."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.pagination import decode_cursor, encode_cursor
from fellesdrift.kernel.problems import FieldError, Problem
from fellesdrift.kernel.web import add_template_global, language_of
from register.access import elevated
from register.deps import settings_of
from register.models import Kommune, User
from register.routes.common import CSRF
from register.routes.page_forms import FormState
from servicedesk.tickets.service import attachments

PAGE_SIZE = 25
#: Files one form may carry.
MAX_FILES = 5
#: The input name of the file inputs on every portal form.
FILES = "files"


# ---- forms ---------------------------------------------------------------------------------------


@dataclass
class PortalForm(FormState):
    """A form whose labels are given as text (catalogue items bring their own) and whose own
    errors carry a portal catalogue key as their ``code``."""

    texts: dict[str, str] = field(default_factory=dict)

    def message(self, error: FieldError) -> str:
        if error.code and error.code.startswith("portal."):
            return translate(error.code, self.lang, **error.params)
        return super().message(error)

    def label(self, name: str) -> str:
        if name in self.texts:
            return self.texts[name]
        return super().label(name)


def portal_form(request: Request, values: dict[str, Any] | None = None, **kw: Any) -> PortalForm:
    return PortalForm(language_of(request), dict(values or {}), **kw)


def portal_error(name: str, key: str, /, **params: Any) -> FieldError:
    """An error of the portal itself: ``key`` is its text in the catalogue."""
    return FieldError(name, key, code=f"portal.{key}", params=params)


def too_long(name: str, limit: int) -> FieldError:
    return FieldError(name, "too long", code="string_too_long", params={"max_length": limit})


# ---- uploads -------------------------------------------------------------------------------------


@dataclass
class Upload:
    """A file from a form; ``data`` is None when it is over the limit (it is never read)."""

    filename: str
    size: int
    data: bytes | None


async def read_uploads(request: Request) -> list[Upload]:
    """The files of the form's file inputs (the router's CSRF check has parsed the form)."""
    limit = settings_of(request).upload_max_bytes
    form = await request.form()
    out = []
    for value in form.getlist(FILES):
        if not isinstance(value, UploadFile) or not value.filename:
            continue  # an empty file input
        size = value.size if value.size is not None else 0
        data = await value.read() if size <= limit else None
        out.append(Upload(value.filename, len(data) if data is not None else size, data))
    return out


def human_size(n: int, lang: str) -> str:
    """10485760 -> "10 MB" (decimal comma in bokmål)."""
    if n >= 1024 * 1024:
        value, unit = n / (1024 * 1024), "MB"
    elif n >= 1024:
        value, unit = n / 1024, "kB"
    else:
        return f"{n} B"
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text.replace('.', ',') if lang == 'nb' else text} {unit}"


def check_uploads(request: Request, uploads: Sequence[Upload]) -> list[FieldError]:
    """Every file refused with the rule it breaks, before anything is stored."""
    lang = language_of(request)
    limit = settings_of(request).upload_max_bytes
    if len(uploads) > MAX_FILES:
        return [portal_error(FILES, "upload.too_many", count=MAX_FILES)]
    errors = []
    for up in uploads:
        name = attachments.safe_filename(up.filename)
        if up.data is None or up.size > limit:
            errors.append(
                portal_error(FILES, "upload.too_large", name=name, limit=human_size(limit, lang))
            )
            continue
        try:
            attachments._check(name, up.data, limit)
        except Problem as problem:
            errors.append(upload_error(problem, name, lang, limit))
    return errors


def upload_error(problem: Problem, name: str, lang: str, limit: int) -> FieldError:
    """A refusal of ``attachments`` in the page's language."""
    if problem.status in (503, 507) and problem.errors:  # the disk: full or not writable
        error = problem.errors[0]
        return FieldError(FILES, error.message, error.value, code=error.code, params=error.params)
    if problem.status == 413:
        return portal_error(FILES, "upload.too_large", name=name, limit=human_size(limit, lang))
    message = problem.errors[0].message if problem.errors else problem.detail
    if message.startswith("file type not allowed"):
        allowed = ", ".join(sorted(attachments.ALLOWED))
        return portal_error(FILES, "upload.type", name=name, allowed=allowed)
    if message == "the file is empty":
        return portal_error(FILES, "upload.empty", name=name)
    return portal_error(FILES, "upload.content", name=name)


def store_uploads(
    db: Session, ticket_id: int, uploads: Iterable[Upload], entry: Any = None
) -> None:
    for up in uploads:
        assert up.data is not None, "checked by check_uploads"
        attachments.store(db, ticket_id, up.filename, up.data, entry=entry)


def limit_body(request: Request) -> None:
    """Refuse a request body larger than the files a form may carry, before it is read
    (the router's CSRF check would otherwise spool all of it)."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        return
    limit = settings_of(request).upload_max_bytes
    allowed = MAX_FILES * limit + 2 * 1024 * 1024
    if int(declared) > allowed:
        lang = language_of(request)
        detail = translate(
            "portal.upload.request_too_large", lang, limit=human_size(limit, lang), count=MAX_FILES
        )
        raise Problem(413, "Request too large", detail)


def upload_rules(request: Request) -> dict[str, Any]:
    """What the file inputs' hint tells: how many files, how large, which types."""
    lang = language_of(request)
    types = sorted(attachments.ALLOWED)
    limit = human_size(settings_of(request).upload_max_bytes, lang)
    return {
        "count": MAX_FILES,
        "limit": limit,
        "types": ", ".join(types),
        "accept": ",".join(types),
    }


add_template_global("portal_upload_rules", upload_rules)
add_template_global("portal_size", human_size)


async def close_uploads(request: Request) -> AsyncIterator[None]:
    """Close a multipart form's temporary files when the request is done, whatever happened
    (the CSRF check parses the form before any page sees it)."""
    try:
        yield
    finally:
        if request.headers.get("content-type", "").startswith("multipart/"):
            with contextlib.suppress(RuntimeError, ClientDisconnect):
                form = await request.form()
                await form.close()


#: Router dependencies of every portal router: the size guard, the clean-up of uploaded files,
#: then the CSRF check (which reads the form).
PORTAL_DEPENDENCIES = [Depends(limit_body), Depends(close_uploads), *CSRF]


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266 / RFC 5987)."""
    safe = attachments.safe_filename(filename)
    fallback = "".join(c if c.isascii() and c not in '"\\' else "_" for c in safe)
    quoted = urllib.parse.quote(safe, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"


# ---- people and kommuner by name -----------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    drift: bool  # staff of the drift unit


def people(db: Session, ids: Iterable[int | None]) -> dict[int, Person]:
    """Names of the people on tickets the principal sees (authors, approvers, watchers).
    Employees may not read other people's rows, so the names are read as the system; only the
    ids of rows the principal can see are asked for."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    with elevated(db, "names"):
        rows = db.exec(
            select(User.id, User.full_name, User.kommune_id).where(col(User.id).in_(wanted))
        ).all()
    return {uid: Person(name, kommune is None) for uid, name, kommune in rows if uid is not None}


def kommune_names(db: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    with elevated(db, "names"):
        rows = db.exec(select(Kommune.id, Kommune.name).where(col(Kommune.id).in_(wanted)))
        return {kid: name for kid, name in rows if kid is not None}


# ---- paging, newest first ------------------------------------------------------------------------


@dataclass
class NewestFirst:
    rows: Sequence[Any]
    next_url: str = ""
    first_url: str = ""


def newest_first(request: Request, db: Session, stmt: Any, id_column: Any) -> NewestFirst:
    """One keyset page of ``stmt``, newest id first, with links that keep the filters."""
    after = request.query_params.get("after")
    if after:
        last = decode_cursor(after)
        if not isinstance(last, int):
            raise Problem(422, "Invalid input", "after: is not a cursor returned by this API")
        stmt = stmt.where(id_column < last)
    rows = list(db.exec(stmt.order_by(id_column.desc()).limit(PAGE_SIZE + 1)))
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("after", "ok")]
    path = request.url.path
    next_url = ""
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        cursor = encode_cursor(rows[-1].id)
        next_url = f"{path}?{urllib.parse.urlencode([*params, ('after', cursor)])}"
    first_url = (f"{path}?{urllib.parse.urlencode(params)}" if params else path) if after else ""
    return NewestFirst(rows, next_url, first_url)
