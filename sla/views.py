"""Read models of the agreements for the API and the pages: one agreement with its levels,
targets and services, as plain data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from register.models import ConfigItem, Kommune
from register.service import get_visible
from sla.models import SlaAgreement, SlaLevel, SlaService, SlaTarget


class TargetOut(BaseModel):
    priority: int
    response_minutes: int
    resolution_minutes: int


class LevelOut(BaseModel):
    key: str
    name: str
    calendar: str
    pause_reasons: list[str]
    warn_at: list[int]
    targets: list[TargetOut]


class ServiceOut(BaseModel):
    system: str | None
    system_name: str | None
    service: str | None
    level: str
    availability: Decimal | None


class AgreementOut(BaseModel):
    id: int
    name: str
    kommune: str | None
    kommune_name: str | None
    valid_from: date
    valid_to: date | None
    default_level: str | None
    closed_days: list[str]
    leadership: list[str]
    note: str


class AgreementDetailOut(AgreementOut):
    levels: list[LevelOut]
    services: list[ServiceOut]


def _kommuner(db: Session) -> dict[int, Kommune]:
    return {k.id: k for k in db.exec(select(Kommune)) if k.id is not None}


def agreement_out(a: SlaAgreement, kommuner: dict[int, Kommune]) -> AgreementOut:
    k = kommuner.get(a.kommune_id) if a.kommune_id is not None else None
    return AgreementOut(
        id=a.id or 0,
        name=a.name,
        kommune=k.slug if k else None,
        kommune_name=k.name if k else None,
        valid_from=a.valid_from,
        valid_to=a.valid_to,
        default_level=a.default_level,
        closed_days=a.closed_days,
        leadership=a.leadership_emails,
        note=a.note,
    )


def agreements(db: Session) -> list[AgreementOut]:
    """Every agreement the principal may see: the default first, then by kommune and date."""
    kommuner = _kommuner(db)
    rows = db.exec(select(SlaAgreement).order_by(col(SlaAgreement.valid_from).desc())).all()
    out = [agreement_out(a, kommuner) for a in rows]
    return sorted(out, key=lambda a: (a.kommune_name is not None, a.kommune_name or ""))


def agreement_detail(db: Session, agreement_id: int) -> AgreementDetailOut:
    a = get_visible(db, SlaAgreement, agreement_id)
    levels = list(db.exec(select(SlaLevel).where(SlaLevel.agreement_id == a.id)))
    ids = [lv.id for lv in levels]
    targets: dict[int, list[TargetOut]] = {}
    for t in db.exec(select(SlaTarget).where(col(SlaTarget.level_id).in_(ids))):
        targets.setdefault(t.level_id, []).append(TargetOut.model_validate(t, from_attributes=True))
    keys = {lv.id: lv.key for lv in levels}
    services = list(db.exec(select(SlaService).where(SlaService.agreement_id == a.id)))
    cis = {
        c.id: c
        for c in db.exec(
            select(ConfigItem).where(col(ConfigItem.id).in_([s.ci_id for s in services if s.ci_id]))
        )
    }
    return AgreementDetailOut(
        **agreement_out(a, _kommuner(db)).model_dump(),
        levels=[_level(lv, targets.get(lv.id or 0, [])) for lv in levels],
        services=[_service(s, keys[s.level_id], cis) for s in services],
    )


def _level(lv: SlaLevel, targets: list[TargetOut]) -> LevelOut:
    return LevelOut(
        key=lv.key,
        name=lv.name,
        calendar=lv.calendar,
        pause_reasons=lv.pause_reasons,
        warn_at=lv.warn_at,
        targets=sorted(targets, key=lambda t: t.priority),
    )


def _service(s: SlaService, level: str, cis: dict[Any, ConfigItem]) -> ServiceOut:
    ci = cis.get(s.ci_id)
    bp = s.availability_target_bp
    return ServiceOut(
        system=ci.key if ci else None,
        system_name=ci.name if ci else None,
        service=s.catalogue_key,
        level=level,
        availability=Decimal(bp) / 100 if bp is not None else None,
    )
