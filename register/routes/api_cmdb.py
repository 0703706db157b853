"""REST API: the systems register (CMDB): systems, who answers for them, their relations,
which kommuner use them and what the collectors poll."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.pagination import keyset_page
from fellesdrift.kernel.types import DbInt
from register.choices import CIKind, Classification, Criticality, Lifecycle
from register.deps import ApiDb
from register.models import CIRelation, CIUsage, ConfigItem, MonitorTarget
from register.routes.common import CSRF, After, Limit
from register.schemas import (
    CICreate,
    CIOut,
    CIUpdate,
    Page,
    RelationIn,
    RelationOut,
    ResponsibilityIn,
    ResponsibilityOut,
    TargetIn,
    TargetOut,
    UsageIn,
    UsageOut,
)
from register.service import cmdb as svc
from register.service import get_visible

router = APIRouter(prefix="/api/v1", tags=["systems register"], dependencies=CSRF)


class Relations(BaseModel):
    """A system's relations: ``outgoing`` (it runs on / depends on) and ``incoming``."""

    outgoing: list[RelationOut]
    incoming: list[RelationOut]


def ci_out(session: Session, ci: ConfigItem) -> CIOut:
    out = CIOut.model_validate(ci)
    out.warnings = svc.warnings_for(session, ci)
    return out


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# ---- systems -----------------------------------------------------------------------------------


@router.get("/cis", response_model=Page[CIOut])
def list_cis(
    db: ApiDb,
    limit: Limit = 50,
    after: After = None,
    kind: CIKind | None = None,
    classification: Classification | None = None,
    criticality: Criticality | None = None,
    lifecycle: Lifecycle | None = None,
    kommune_id: Annotated[DbInt | None, Query(description="Owned or used by this kommune")] = None,
    q: Annotated[str | None, Query(max_length=160, description="Part of key or name")] = None,
) -> dict[str, Any]:
    """Systems the caller may see, ordered by id (keyset pages), each with its warnings."""
    stmt = select(ConfigItem)
    for column, value in (
        (ConfigItem.kind, kind),
        (ConfigItem.classification, classification),
        (ConfigItem.criticality, criticality),
        (ConfigItem.lifecycle, lifecycle),
    ):
        if value is not None:
            stmt = stmt.where(column == value.value)
    if kommune_id is not None:
        used = select(CIUsage.ci_id).where(CIUsage.kommune_id == kommune_id)
        stmt = stmt.where(
            or_(ConfigItem.owner_kommune_id == kommune_id, col(ConfigItem.id).in_(used))
        )
    if q and q.strip():
        pattern = _like(q.strip())
        stmt = stmt.where(
            or_(col(ConfigItem.key).ilike(pattern), col(ConfigItem.name).ilike(pattern))
        )
    rows, nxt = keyset_page(db, stmt, ConfigItem.id, limit, after)
    return {"items": [ci_out(db, ci) for ci in rows], "next": nxt}


@router.post("/cis", response_model=CIOut, status_code=201)
def create_ci(db: ApiDb, data: CICreate) -> CIOut:
    return ci_out(db, svc.create_ci(db, data))


@router.get("/cis/{ci_id}", response_model=CIOut)
def get_ci(db: ApiDb, ci_id: DbInt) -> CIOut:
    """A system with its ``warnings``: gaps in who answers for it (catalogue keys such as
    ``warning.few_systemadministratorer``)."""
    return ci_out(db, get_visible(db, ConfigItem, ci_id))


@router.patch("/cis/{ci_id}", response_model=CIOut)
def update_ci(db: ApiDb, ci_id: DbInt, data: CIUpdate) -> CIOut:
    ci = svc.update_ci(db, ci_id, data)
    db.flush()
    return ci_out(db, ci)


@router.post("/cis/{ci_id}/retire", response_model=CIOut)
def retire_ci(db: ApiDb, ci_id: DbInt) -> CIOut:
    """Retire a system: it stays in the register for history, its monitoring stops."""
    ci = svc.retire_ci(db, ci_id)
    db.flush()
    return ci_out(db, ci)


# ---- responsibilities --------------------------------------------------------------------------


@router.get("/cis/{ci_id}/responsibilities", response_model=list[ResponsibilityOut])
def list_responsibilities(db: ApiDb, ci_id: DbInt) -> list[dict[str, object]]:
    get_visible(db, ConfigItem, ci_id)
    return svc.responsibilities(db, ci_id)


@router.post("/cis/{ci_id}/responsibilities", response_model=ResponsibilityOut, status_code=201)
def add_responsibility(db: ApiDb, ci_id: DbInt, data: ResponsibilityIn) -> dict[str, object]:
    row = svc.add_responsibility(db, ci_id, data)
    return next(r for r in svc.responsibilities(db, ci_id) if r["id"] == row.id)


@router.delete("/responsibilities/{responsibility_id}", status_code=204)
def remove_responsibility(db: ApiDb, responsibility_id: DbInt) -> Response:
    svc.remove_responsibility(db, responsibility_id)
    return Response(status_code=204)


# ---- relations ---------------------------------------------------------------------------------


@router.get("/cis/{ci_id}/relations", response_model=Relations)
def list_relations(db: ApiDb, ci_id: DbInt) -> Relations:
    get_visible(db, ConfigItem, ci_id)
    outgoing, incoming = svc.relations(db, ci_id)
    return Relations(
        outgoing=[RelationOut.model_validate(r) for r in outgoing],
        incoming=[RelationOut.model_validate(r) for r in incoming],
    )


@router.post("/cis/{ci_id}/relations", response_model=RelationOut, status_code=201)
def add_relation(db: ApiDb, ci_id: DbInt, data: RelationIn) -> CIRelation:
    """``ci_id`` runs on / depends on ``target_id``; a relation that closes a cycle is refused."""
    return svc.add_relation(db, ci_id, data)


@router.delete("/relations/{relation_id}", status_code=204)
def remove_relation(db: ApiDb, relation_id: DbInt) -> Response:
    svc.remove_relation(db, relation_id)
    return Response(status_code=204)


# ---- usage -------------------------------------------------------------------------------------


@router.get("/cis/{ci_id}/usage", response_model=list[UsageOut])
def list_usage(db: ApiDb, ci_id: DbInt) -> list[CIUsage]:
    get_visible(db, ConfigItem, ci_id)
    return svc.usage_of(db, ci_id)


@router.put("/cis/{ci_id}/usage", response_model=UsageOut)
def set_usage(db: ApiDb, ci_id: DbInt, data: UsageIn) -> CIUsage:
    """Set how many of a kommune's people use the system (creates or updates the row)."""
    return svc.set_usage(db, ci_id, data)


@router.delete("/usage/{usage_id}", status_code=204)
def remove_usage(db: ApiDb, usage_id: DbInt) -> Response:
    svc.remove_usage(db, usage_id)
    return Response(status_code=204)


# ---- monitoring targets ------------------------------------------------------------------------


@router.get("/cis/{ci_id}/targets", response_model=list[TargetOut])
def list_targets(db: ApiDb, ci_id: DbInt) -> list[MonitorTarget]:
    get_visible(db, ConfigItem, ci_id)
    return svc.targets_of(db, ci_id)


@router.post("/cis/{ci_id}/targets", response_model=TargetOut, status_code=201)
def add_target(db: ApiDb, ci_id: DbInt, data: TargetIn) -> MonitorTarget:
    return svc.add_target(db, ci_id, data)


@router.put("/targets/{target_id}", response_model=TargetOut)
def update_target(db: ApiDb, target_id: DbInt, data: TargetIn) -> MonitorTarget:
    return svc.update_target(db, target_id, data)


@router.delete("/targets/{target_id}", status_code=204)
def remove_target(db: ApiDb, target_id: DbInt) -> Response:
    svc.remove_target(db, target_id)
    return Response(status_code=204)
