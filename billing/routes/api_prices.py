"""REST API of billing: price model versions (read; the billing admin imports YAML), count
snapshots (the admin imports a count file) and the transparency figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import ValidationError
from sqlmodel import Session, col, select

from billing import counts, pricemodel
from billing.choices import CountKind
from billing.errors import fault
from billing.models import PriceElement, PriceModelVersion, PriceRate
from billing.reports import compare_keys, service_costs
from billing.routes.common import kommune_names, parse_month, require_admin, require_reader
from billing.routes.shapes import (
    ElementOut,
    KeyComparisonIn,
    KeyComparisonOut,
    RateOut,
    ServiceCostOut,
    ShareOut,
    VersionDetailOut,
    VersionOut,
)
from billing.schemas import KeyIn
from fellesdrift.kernel.problems import from_validation_errors, invalid
from register.deps import ApiDb, ApiPrincipal
from register.routes.common import CSRF
from register.service import get_visible

router = APIRouter(prefix="/api/v1/billing", tags=["billing prices"], dependencies=CSRF)

MAX_UPLOAD = 20 * 1024 * 1024


@router.get("/price-models", response_model=list[VersionOut])
def list_versions(db: ApiDb, p: ApiPrincipal) -> list[PriceModelVersion]:
    """Every price model version, newest first (the same prices for every kommune)."""
    require_reader(p)
    stmt = select(PriceModelVersion).order_by(col(PriceModelVersion.valid_from).desc())
    return list(db.exec(stmt))


def elements_of(db: Session, version_id: int) -> list[ElementOut]:
    elements = db.exec(
        select(PriceElement)
        .where(PriceElement.version_id == version_id)
        .order_by(col(PriceElement.category), col(PriceElement.code))
    ).all()
    ids = [e.id for e in elements]
    rates: dict[int, list[RateOut]] = {}
    for r in db.exec(select(PriceRate).where(col(PriceRate.element_id).in_(ids))):
        rates.setdefault(r.element_id, []).append(RateOut(work_type=r.work_type, rate=r.rate))
    out = []
    for e in elements:
        row = ElementOut.model_validate(e)
        row.rates = sorted(rates.get(e.id or 0, []), key=lambda x: x.work_type)
        out.append(row)
    return out


@router.get("/price-models/{version_id}", response_model=VersionDetailOut)
def get_version(db: ApiDb, p: ApiPrincipal, version_id: int) -> VersionDetailOut:
    require_reader(p)
    version = get_visible(db, PriceModelVersion, version_id)
    return VersionDetailOut(
        **VersionOut.model_validate(version).model_dump(), elements=elements_of(db, version_id)
    )


async def read_upload(file: UploadFile, field: str = "file") -> str:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise invalid(fault(field, "too_large", "the file is larger than 20 MB", file.filename))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid(
            fault(field, "not_utf8", "the file is not UTF-8 text", file.filename)
        ) from None


@router.post("/price-models", response_model=list[VersionOut], status_code=201)
async def import_versions(
    db: ApiDb, p: ApiPrincipal, file: UploadFile = File(description="Price model YAML")
) -> list[PriceModelVersion]:
    """Import price model versions from YAML; a version of the same name is replaced unless
    a reviewed or issued run used it (409). Errors name the version, element and field."""
    require_admin(p)
    text = await read_upload(file)
    return pricemodel.import_yaml(db, text, file.filename or "price model")


@router.post("/counts", status_code=201, tags=["billing counts"])
async def import_counts(
    db: ApiDb,
    p: ApiPrincipal,
    month: str = Form(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
    kind: CountKind | None = Form(None, description="The kind, for a file without a column"),
    file: UploadFile = File(description="CSV count file, e.g. an AD export"),
) -> dict[str, Any]:
    """Import a month's count file (all rows or none; an unknown kommune names its line)."""
    require_admin(p)
    text = await read_upload(file)
    items = counts.import_count_file(db, parse_month(month), text, file.filename or "", kind)
    return {"month": month, "items": items}


# ---- transparency -------------------------------------------------------------------------------


@router.get("/transparency/services", response_model=list[ServiceCostOut], tags=["billing"])
def services(
    db: ApiDb,
    p: ApiPrincipal,
    month: str = Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
) -> list[ServiceCostOut]:
    """Per service of the month: its cost, its key and each kommune's share (a finance user
    sees their own kommune's share of each pool)."""
    require_reader(p)
    costs = service_costs(db, parse_month(month))
    names = kommune_names(db, {k for c in costs for k in c.shares})
    return [
        ServiceCostOut(
            category=c.category,
            service=c.service,
            key_kind=c.key_kind,
            pool=c.pool,
            total=c.total,
            shares=[
                ShareOut(kommune_id=k, kommune=names.get(k, ""), amount=a, share=s)
                for k, (a, s) in sorted(c.shares.items(), key=lambda x: names.get(x[0], ""))
            ],
        )
        for c in costs
    ]


def key_of(value: Any, field: str) -> KeyIn:
    try:
        return KeyIn.model_validate(value)
    except ValidationError as exc:
        errors = from_validation_errors(exc.errors())
        for e in errors:
            e.field = f"{field}.{e.field}" if e.field else field
        raise invalid(errors) from None


@router.post("/transparency/key-comparison", response_model=list[KeyComparisonOut])
def key_comparison(db: ApiDb, p: ApiPrincipal, data: KeyComparisonIn) -> list[KeyComparisonOut]:
    """A pool split by two keys side by side for the month's kommuner (for the board)."""
    require_admin(p)
    rows = compare_keys(
        db,
        parse_month(data.month),
        Decimal(data.pool),
        key_of(data.key_a, "key_a"),
        key_of(data.key_b, "key_b"),
        data.inhabitants_date,
    )
    return [KeyComparisonOut(**r.__dict__, difference=r.difference) for r in rows]
