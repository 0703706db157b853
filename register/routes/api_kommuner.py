"""REST API: kommuner, their contacts and sites."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from sqlmodel import col, select

from fellesdrift.kernel.types import DbInt
from register.deps import ApiDb
from register.models import Kommune, KommuneContact, Site
from register.routes.common import CSRF, After, Limit, page_of
from register.schemas import (
    ContactIn,
    ContactOut,
    KommuneCreate,
    KommuneEnd,
    KommuneOut,
    KommuneUpdate,
    Page,
    SiteIn,
    SiteOut,
    SiteUpdate,
)
from register.service import get_visible
from register.service import kommuner as svc

router = APIRouter(prefix="/api/v1", tags=["kommuner"], dependencies=CSRF)


@router.get("/kommuner", response_model=Page[KommuneOut])
def list_kommuner(
    db: ApiDb, limit: Limit = 50, after: After = None, include_ended: bool = True
) -> dict[str, Any]:
    stmt = select(Kommune)
    if not include_ended:
        stmt = stmt.where(col(Kommune.valid_to).is_(None))
    return page_of(db, stmt, Kommune.id, limit, after, KommuneOut)


@router.post("/kommuner", response_model=KommuneOut, status_code=201)
def create_kommune(db: ApiDb, data: KommuneCreate) -> Kommune:
    return svc.create_kommune(db, data)


@router.get("/kommuner/{kommune_id}", response_model=KommuneOut)
def get_kommune(db: ApiDb, kommune_id: DbInt) -> Kommune:
    return get_visible(db, Kommune, kommune_id)


@router.patch("/kommuner/{kommune_id}", response_model=KommuneOut)
def update_kommune(db: ApiDb, kommune_id: DbInt, data: KommuneUpdate) -> Kommune:
    return svc.update_kommune(db, kommune_id, data)


@router.post("/kommuner/{kommune_id}/end", response_model=KommuneOut)
def end_kommune(db: ApiDb, kommune_id: DbInt, data: KommuneEnd) -> Kommune:
    """End a kommune, e.g. in a merger; ``successor_id`` names the kommune that takes over."""
    return svc.end_kommune(db, kommune_id, data)


@router.get("/kommuner/{kommune_id}/contacts", response_model=list[ContactOut])
def list_contacts(
    db: ApiDb, kommune_id: DbInt, kind: str | None = Query(None)
) -> list[KommuneContact]:
    get_visible(db, Kommune, kommune_id)
    return svc.contacts_of(db, kommune_id, kind)


@router.post("/kommuner/{kommune_id}/contacts", response_model=ContactOut, status_code=201)
def add_contact(db: ApiDb, kommune_id: DbInt, data: ContactIn) -> KommuneContact:
    return svc.add_contact(db, kommune_id, data)


@router.delete("/contacts/{contact_id}", status_code=204)
def remove_contact(db: ApiDb, contact_id: DbInt) -> Response:
    svc.remove_contact(db, contact_id)
    return Response(status_code=204)


@router.get("/sites", response_model=Page[SiteOut])
def list_sites(
    db: ApiDb, limit: Limit = 50, after: After = None, kommune_id: DbInt | None = None
) -> dict[str, Any]:
    stmt = select(Site)
    if kommune_id is not None:
        stmt = stmt.where(Site.kommune_id == kommune_id)
    return page_of(db, stmt, Site.id, limit, after, SiteOut)


@router.post("/sites", response_model=SiteOut, status_code=201)
def create_site(db: ApiDb, data: SiteIn) -> Site:
    return svc.create_site(db, data)


@router.get("/sites/{site_id}", response_model=SiteOut)
def get_site(db: ApiDb, site_id: DbInt) -> Site:
    return get_visible(db, Site, site_id)


@router.patch("/sites/{site_id}", response_model=SiteOut)
def update_site(db: ApiDb, site_id: DbInt, data: SiteUpdate) -> Site:
    return svc.update_site(db, site_id, data)


@router.delete("/sites/{site_id}", status_code=204)
def delete_site(db: ApiDb, site_id: DbInt) -> Response:
    svc.delete_site(db, site_id)
    return Response(status_code=204)
