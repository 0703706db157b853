"""REST API of the service agreements: read them (drift staff all, a kommune's people their
own and the default), and import them (administrators), as YAML or JSON, all or nothing."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from fellesdrift.kernel.problems import FieldError, invalid
from register.deps import ApiDb, ApiPrincipal
from register.routes.common import CSRF
from sla import importer, views

router = APIRouter(prefix="/api/v1/sla", tags=["sla"], dependencies=CSRF)

MAX_IMPORT = 2 * 1024 * 1024


@router.get("/agreements", response_model=list[views.AgreementOut])
def list_agreements(db: ApiDb, p: ApiPrincipal) -> list[views.AgreementOut]:
    """Every agreement version the caller may see (the unit's default agreement first)."""
    return views.agreements(db)


@router.get("/agreements/{agreement_id}", response_model=views.AgreementDetailOut)
def get_agreement(db: ApiDb, p: ApiPrincipal, agreement_id: int) -> views.AgreementDetailOut:
    return views.agreement_detail(db, agreement_id)


@router.post("/agreements/import", response_model=list[views.AgreementOut])
async def import_agreements(
    request: Request, db: ApiDb, p: ApiPrincipal
) -> list[views.AgreementOut]:
    """The agreements file as ``application/yaml`` (errors by line) or the same as JSON. All
    or nothing: a 422 lists every error and nothing is stored."""
    importer.require_admin(db)
    if request.headers.get("content-type", "").split(";")[0].strip() in (
        "application/yaml", "application/x-yaml", "text/yaml",
    ):  # fmt: skip
        raw = await request.body()
        if len(raw) > MAX_IMPORT:
            raise invalid(FieldError("file", "the file is larger than 2 MB"))
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise invalid(FieldError("file", "the file is not UTF-8 text")) from None
        name = request.headers.get("x-filename", "agreements.yaml")
        stored = importer.import_yaml(db, text, name)
    else:
        stored = importer.import_agreements(db, importer.parse_json(await _json(request)))
    db.flush()
    return [views.agreement_detail(db, a.id or 0) for a in stored]


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_IMPORT:
        raise invalid(FieldError("body", "the body is larger than 2 MB"))
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise invalid(FieldError("body", f"not valid JSON: {exc}")) from None
