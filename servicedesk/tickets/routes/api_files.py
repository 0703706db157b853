"""REST API: attachments of tickets (upload, list, download).

Uploads are multipart. The size is judged on Content-Length before the body is parsed, and
again on the bytes; the type on the extension and the content (see
:mod:`servicedesk.tickets.service.attachments`). Files are stored outside the web root under
generated names; the client's file name is kept for display only. Downloads are always
``Content-Disposition: attachment`` with ``nosniff``, so a file is never rendered as a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from fellesdrift.kernel.problems import FieldError, Problem, invalid
from fellesdrift.kernel.types import DbInt
from register.deps import SAFE_METHODS, ApiDb, AppSettings
from register.routes.common import CSRF, After, Limit
from register.schemas import Page
from register.service import get_visible
from servicedesk.tickets.models import Attachment
from servicedesk.tickets.routes.api_common import page, saving
from servicedesk.tickets.routes.api_schemas import AttachmentOut, problems
from servicedesk.tickets.service import attachments as svc
from servicedesk.tickets.service import core

#: What multipart adds around the file (boundary, part headers, the small fields).
MULTIPART_OVERHEAD = 64 * 1024
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})


class TooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "File too large",
            f"the file is larger than the limit of {limit} bytes",
            [FieldError("file", f"is larger than the limit of {limit} bytes")],
        )


def limit_body(request: Request, settings: AppSettings) -> None:
    """Refuse a too large upload on its Content-Length, before it is read or spooled."""
    if request.method in SAFE_METHODS:
        return
    length = request.headers.get("content-length", "")
    if not length.isascii() or not length.isdigit():
        raise Problem(411, "Length required", "send the upload with a Content-Length header")
    if int(length) > settings.upload_max_bytes + MULTIPART_OVERHEAD:
        raise TooLarge(settings.upload_max_bytes)


# The size check comes before the CSRF check, which reads form bodies.
router = APIRouter(
    prefix="/api/v1", tags=["attachments"], dependencies=[Depends(limit_body), *CSRF]
)


@dataclass
class Upload:
    filename: str
    data: bytes
    public: bool


def _flag(value: object, default: bool) -> bool:
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if not text:
        return default
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise invalid(FieldError("public", "must be true or false", value))


async def read_upload(request: Request, settings: AppSettings) -> Upload:
    """The one file of the form (``file``) and its ``public`` flag; the form's spooled
    temporary files are closed before the route runs."""
    limit = settings.upload_max_bytes
    try:
        form = await request.form(max_files=1, max_fields=5)
    except StarletteHTTPException as exc:  # malformed multipart, more than one file
        raise invalid(FieldError("file", str(exc.detail))) from exc
    try:
        value = form.get("file")
        if not isinstance(value, UploadFile):
            raise invalid(FieldError("file", "choose a file to upload (multipart field `file`)"))
        data = await value.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(limit)
        return Upload(value.filename or "", data, _flag(form.get("public"), True))
    finally:
        await form.close()


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "Allowed: " + ", ".join(sorted(svc.ALLOWED)),
                        },
                        "public": {
                            "type": "boolean",
                            "default": True,
                            "description": "false: internal (the drift unit and systemeiere)",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/tickets/{ticket_id}/attachments",
    response_model=AttachmentOut,
    status_code=201,
    summary="Attach a file to a ticket",
    openapi_extra=_UPLOAD_BODY,
    responses=problems(404, 409, 413, 503, 507),
)
def upload(
    db: ApiDb, ticket_id: DbInt, file: Annotated[Upload, Depends(read_upload)]
) -> Attachment:
    """Attach one file (multipart field `file`). Refused: a file over the configured size
    (413, the limit named), a type not on the list or content that does not match its
    extension (422), a closed ticket (409), no room on the server's disk (507) or a disk that
    cannot be written (503); a refused upload leaves no file. The upload appears on the
    timeline."""
    with saving(db):
        return svc.store(db, ticket_id, file.filename, file.data, public=file.public)


@router.get(
    "/tickets/{ticket_id}/attachments",
    response_model=Page[AttachmentOut],
    summary="The ticket's attachments",
    responses=problems(404),
)
def list_attachments(
    db: ApiDb, ticket_id: DbInt, limit: Limit = 100, after: After = None
) -> dict[str, Any]:
    """Oldest first; internal attachments only for the drift unit and systemeiere."""
    core.get_ticket(db, ticket_id)
    stmt = select(Attachment).where(Attachment.ticket_id == ticket_id)
    return page(db, stmt, Attachment.id, limit, after, AttachmentOut.model_validate)


@router.get(
    "/attachments/{attachment_id}",
    response_model=AttachmentOut,
    summary="An attachment's details",
    responses=problems(404),
)
def get_attachment(db: ApiDb, attachment_id: DbInt) -> Attachment:
    return get_visible(db, Attachment, attachment_id)


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name (RFC 6266 / 5987)."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/attachments/{attachment_id}/content",
    response_class=Response,
    summary="Download an attachment",
    responses={200: {"content": {"application/octet-stream": {}}}, **problems(404)},
)
def download(db: ApiDb, attachment_id: DbInt) -> Response:
    """The file's bytes as a download (never shown inline), with the type it was checked as."""
    row, data = svc.read(db, attachment_id)
    headers = {
        "Content-Disposition": content_disposition(row.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
    return Response(data, media_type=row.content_type, headers=headers)
