"""REST API: import and export of kommuner, sites, users and systems (YAML or CSV).

The formats and rules are described in :mod:`register.service.io`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from fellesdrift.kernel.problems import FieldError, Problem, forbidden, invalid
from register.deps import SAFE_METHODS, ApiDb, ApiPrincipal, AppSettings
from register.routes.common import CSRF
from register.service.io import (
    ENTITY_NAMES,
    EXTENSIONS,
    YAML_NAME,
    ZIP_NAME,
    export_data,
    import_files,
    zip_files,
)
from register.service.io.formats import display_name

#: Files per import: one YAML, or the five CSVs with room to spare.
MAX_FILES = 10
#: What multipart adds around the files (boundaries, part headers, the small fields).
_MULTIPART_OVERHEAD = 64 * 1024
_TRUE = frozenset({"1", "true", "on", "yes"})


class UploadTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "Content too large",
            f"The upload is larger than {limit} bytes",
            [FieldError("files", f"is larger than {limit} bytes", code="io.err.too_large",
                        params={"limit": limit})],
        )  # fmt: skip


def upload_too_large(request: Request, limit: int) -> UploadTooLarge | None:
    """Judged on Content-Length before the body is read: a too-large upload is refused without
    being parsed (or spooled) at all."""
    if request.method in SAFE_METHODS:
        return None
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise Problem(411, "Length required", "Send the upload with a Content-Length header")
    return UploadTooLarge(limit) if int(length) > limit + _MULTIPART_OVERHEAD else None


def limit_body(request: Request, settings: AppSettings) -> None:
    problem = upload_too_large(request, settings.upload_max_bytes)
    if problem is not None:
        raise problem


# The size check comes before the CSRF check, which reads form bodies.
router = APIRouter(
    prefix="/api/v1", tags=["import and export"], dependencies=[Depends(limit_body), *CSRF]
)


@dataclass
class Upload:
    """The posted files, in memory under the client's (display-only) names, and the options."""

    files: list[tuple[str, bytes]]
    dry_run: bool
    entity: str | None


async def read_upload(request: Request, limit: int) -> Upload:
    """Read the files into memory and close the form (its spooled temporary files)."""
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=20)
    except StarletteHTTPException as exc:  # malformed multipart, too many files
        raise invalid(FieldError("files", str(exc.detail))) from exc
    try:
        files = [await _read_file(value, limit) for value in form.getlist("files")]
        dry_run = str(form.get("dry_run", "")).strip().lower() in _TRUE
        entity = str(form.get("entity") or "").strip() or None
    finally:
        await form.close()
    if not files:
        raise invalid(FieldError("files", "choose one or more files to import"))
    return Upload(files, dry_run, entity)


async def _read_file(value: UploadFile | str, limit: int) -> tuple[str, bytes]:
    if not isinstance(value, UploadFile):
        raise invalid(FieldError("files", "must be files, not text"))
    data = await value.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLarge(limit)
    return display_name(value.filename or ""), data


async def api_upload(request: Request, settings: AppSettings) -> Upload:
    return await read_upload(request, settings.upload_max_bytes)


def require_admin(principal: ApiPrincipal) -> None:
    """Said before the upload is read; the service and the access layer check again."""
    if not principal.is_admin:
        raise forbidden("Only administrators can import")


class ImportCounts(BaseModel):
    created: int
    updated: int
    unchanged: int


class ImportResult(BaseModel):
    dry_run: bool
    files: list[str]
    entities: dict[str, ImportCounts]
    totals: ImportCounts


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": f"Up to {MAX_FILES} files: {', '.join(EXTENSIONS)}",
                        },
                        "dry_run": {"type": "boolean", "default": False},
                        "entity": {
                            "type": "string",
                            "enum": list(ENTITY_NAMES),
                            "description": "What a CSV holds, when its file name does not say",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/import",
    response_model=ImportResult,
    dependencies=[Depends(require_admin)],
    openapi_extra=_UPLOAD_BODY,
    responses={413: {"description": "Upload too large"}, 422: {"description": "Errors"}},
)
def import_register(db: ApiDb, upload: Annotated[Upload, Depends(api_upload)]) -> dict[str, Any]:
    """Import YAML or CSV files (admins). All or nothing: on any error the answer is a 422
    problem whose ``errors`` list every error with ``file``, ``line``, ``field``, ``value``
    and ``message``, and nothing is stored. With ``dry_run`` nothing is stored either, and the
    counts say what the import would do."""
    report = import_files(db, upload.files, dry_run=upload.dry_run, entity=upload.entity)
    return report.as_dict()


def export_response(files: dict[str, str], fmt: str) -> Response:
    """The export as a download: the YAML file, or a zip of the CSVs."""
    if fmt == "yaml":
        body, media, name = files[YAML_NAME].encode("utf-8"), "application/yaml", YAML_NAME
    else:
        body, media, name = zip_files(files), "application/zip", ZIP_NAME
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(body, media_type=media, headers=headers)


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}, "application/zip": {}}}},
)
def export_register(db: ApiDb, format: Literal["yaml", "csv"] = "yaml") -> Response:
    """Everything the caller may see, in the import formats: one YAML file, or a zip of one
    CSV per entity. A kommune's contact gets that kommune's data. No passwords."""
    return export_response(export_data(db, format), format)
