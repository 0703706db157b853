"""Pages: import and export of the register, at /import (admins)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.problems import FieldError, Problem
from fellesdrift.kernel.settings import Settings
from fellesdrift.kernel.web import field_message, language_of, render
from register.access import Principal
from register.deps import AppSettings, CurrentPrincipal, PageDb, check_csrf
from register.routes.api_io import (
    MAX_FILES,
    Upload,
    export_response,
    read_upload,
    upload_too_large,
)
from register.routes.page_forms import require
from register.service.io import (
    ENTITY_NAMES,
    EXTENSIONS,
    ImportRejected,
    ImportReport,
    export_data,
    import_files,
)

# No router-wide CSRF dependency here, unlike the other routers: the CSRF check reads a form
# body, and an upload's size must be judged before anything reads it. The upload route runs the
# same check_csrf itself, right after the size check; the other routes are GETs.
router = APIRouter(include_in_schema=False)
TEMPLATE = "io_import.html"


def admin_page(principal: CurrentPrincipal) -> Principal:
    require(principal.is_admin)
    return principal


@dataclass
class PageUpload:
    upload: Upload | None
    problem: Problem | None = None


async def page_upload(request: Request, settings: AppSettings) -> PageUpload:
    """The posted files, or the reason they were refused (shown on the page, in Norwegian)."""
    too_large = upload_too_large(request, settings.upload_max_bytes)
    if too_large is not None:
        return PageUpload(None, too_large)
    try:
        await check_csrf(request)
    except Problem:
        # The check read the multipart body; let its temporary files go before refusing.
        await (await request.form()).close()
        raise
    try:
        return PageUpload(await read_upload(request, settings.upload_max_bytes))
    except Problem as problem:
        return PageUpload(None, problem)


AdminPage = Annotated[Principal, Depends(admin_page)]
PostedUpload = Annotated[PageUpload, Depends(page_upload)]


def io_message(error: FieldError, lang: str) -> str:
    """An error in the page's language: the importer's own (``io.err.*``), else the shared
    translations of the schemas' and services' messages."""
    if error.code and error.code.startswith("io."):
        text = translate(error.code, lang, **error.params)
        return error.message if text == error.code else text
    return field_message(error, lang)


def _page(
    request: Request,
    settings: Settings,
    status: int = 200,
    *,
    report: ImportReport | None = None,
    errors: Sequence[FieldError] = (),
    dry_run: bool = False,
) -> HTMLResponse:
    lang = language_of(request)
    rows = [
        {"file": e.file or "", "line": e.line, "field": e.field, "value": e.value,
         "message": io_message(e, lang)}
        for e in errors
    ]  # fmt: skip
    return render(
        request, TEMPLATE, status, report=report, errors=rows, dry_run=dry_run,
        entities=ENTITY_NAMES, accept=",".join(EXTENSIONS), max_files=MAX_FILES,
        max_mb=round(settings.upload_max_bytes / 1_048_576, 1),
    )  # fmt: skip


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, principal: AdminPage, settings: AppSettings) -> Response:
    return _page(request, settings)


@router.post("/import", response_class=HTMLResponse)
def import_submit(
    request: Request, principal: AdminPage, posted: PostedUpload, db: PageDb, settings: AppSettings
) -> Response:
    if posted.problem is not None:
        problem = posted.problem
        errors = problem.errors or [FieldError("files", problem.detail)]
        return _page(request, settings, problem.status, errors=errors)
    assert posted.upload is not None
    upload = posted.upload
    try:
        report = import_files(db, upload.files, dry_run=upload.dry_run, entity=upload.entity)
    except ImportRejected as rejected:
        return _page(request, settings, 422, errors=rejected.errors, dry_run=upload.dry_run)
    return _page(request, settings, report=report, dry_run=upload.dry_run)


@router.get("/import/eksport")
def export_download(db: PageDb, format: Literal["yaml", "csv"] = "yaml") -> Response:
    """The export, for whoever is signed in: it holds only what they may see."""
    return export_response(export_data(db, format), format)
