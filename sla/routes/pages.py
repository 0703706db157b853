"""Pages of the service agreements ("/tjenesteavtaler"): the versions, one agreement with its
levels, targets and services, and for administrators the YAML import with errors by line."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from fellesdrift.kernel.problems import FieldError
from fellesdrift.kernel.web import field_message, language_of, render
from register.access import Principal
from register.choices import Role
from register.deps import CurrentPrincipal, PageDb
from register.routes.common import CSRF
from register.routes.page_forms import FormState, attempt, done, render_form, require
from sla import display as _display  # noqa: F401  (the templates' helpers)
from sla import importer, views
from sla.schemas import PREFIX

router = APIRouter(include_in_schema=False, dependencies=CSRF)
MAX_UPLOAD = 2 * 1024 * 1024


def may_read(p: Principal) -> bool:
    return p.global_read or p.has(Role.KOMMUNE_CONTACT)


def _list(request: Request, db: PageDb, p: Principal, form: FormState) -> Response:
    return render_form(
        request, "sla/agreements.html", form, agreements=views.agreements(db), admin=p.is_admin
    )


@router.get("/tjenesteavtaler", response_class=HTMLResponse)
def agreement_list(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require(may_read(p))
    return _list(request, db, p, FormState.blank(request))


@router.get("/tjenesteavtaler/{agreement_id:int}", response_class=HTMLResponse)
def agreement_page(
    request: Request, db: PageDb, p: CurrentPrincipal, agreement_id: int
) -> Response:
    require(may_read(p))
    return render(request, "sla/agreement.html", a=views.agreement_detail(db, agreement_id))


async def _upload(request: Request) -> tuple[str, str, list[FieldError]]:
    form = await request.form()
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return "", "", [FieldError("file", "choose a file", code=PREFIX + "choose_file")]
        data, name = await upload.read(MAX_UPLOAD + 1), upload.filename
    finally:
        await form.close()
    if len(data) > MAX_UPLOAD:
        return name, "", [FieldError("file", "larger than 2 MB", code=PREFIX + "too_large")]
    try:
        return name, data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return name, "", [FieldError("file", "not UTF-8 text", code=PREFIX + "not_utf8")]


def _in_file(errors: list[FieldError], lang: str) -> list[FieldError]:
    """Errors inside the file, each with its file:line and place, shown at the file input."""
    out = []
    for e in errors:
        where = f"{e.file}:{e.line}" if e.file and e.line else (e.file or "")
        shown = f" ({e.value})" if e.value not in (None, "") else ""
        text = " ".join(x for x in (where, e.field if e.field != "file" else "") if x)
        out.append(FieldError("file", f"{text}{shown}: {field_message(e, lang)}"))
    return out


@router.post("/tjenesteavtaler/import", response_class=HTMLResponse)
async def agreement_import(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    """The YAML file: every agreement stored, or none and every error shown by line."""
    require(p.is_admin)
    filename, text, errors = await _upload(request)
    if not errors:
        errors = attempt(db, lambda: importer.import_yaml(db, text, filename))
    if errors:
        form = FormState(language_of(request), {}, _in_file(errors, language_of(request)))
        return _list(request, db, p, form)
    return done("/tjenesteavtaler", "sla_imported")
