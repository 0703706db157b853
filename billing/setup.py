"""The billing admin's set-up: the supplier, one-off purchases, a stored version as input for
editing. Each change is checked like the YAML import and recorded in the audit trail."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from billing.allocation import parse_fraction
from billing.choices import KeyKind, OwnerKind, RunState
from billing.models import (
    InhabitantFigure,
    InvoiceRun,
    PriceElement,
    PriceModelVersion,
    PriceRate,
    Purchase,
    Supplier,
)
from billing.numbering import supplier_of
from billing.permissions import require_billing_admin
from billing.schemas import (
    ElementIn,
    InhabitantsIn,
    KeyIn,
    OwnerIn,
    PurchaseIn,
    SupplierIn,
    VersionIn,
)
from fellesdrift.kernel.problems import FieldError, Problem, invalid, not_found
from fellesdrift.kernel.types import utcnow
from register.models import ConfigItem, Kommune, Site
from register.service.audit import record


def set_supplier(session: Session, data: SupplierIn) -> Supplier:
    require_billing_admin(session)
    supplier = session.exec(select(Supplier).order_by(col(Supplier.id))).first() or Supplier(
        **data.model_dump()
    )
    for name, value in data.model_dump().items():
        setattr(supplier, name, value)
    supplier.updated_at = utcnow()
    session.add(supplier)
    session.flush()
    record(session, "update", "billing_supplier", supplier.id, None, supplier.name)
    return supplier


def add_purchase(session: Session, data: PurchaseIn) -> Purchase:
    """Record a purchase to pass through; refused in an invoiced month or with a VAT
    category the supplier cannot invoice."""
    require_billing_admin(session)
    if session.get(Kommune, data.kommune_id) is None:
        raise invalid(FieldError("kommune_id", "unknown kommune", data.kommune_id))
    month = data.purchase_date.replace(day=1)
    run = session.exec(select(InvoiceRun).where(InvoiceRun.month == month)).first()
    if run is not None and run.state == RunState.ISSUED:
        raise Problem(409, "Invoiced month", f"{month:%Y-%m} is invoiced; date the purchase later")
    registered = supplier_of(session).vat_registered
    if (data.vat_category == "O") == registered:
        why = (
            "a VAT-registered supplier cannot pass on an out-of-scope (O) purchase"
            if registered
            else "the supplier invoices outside VAT, so purchases are category O"
        )
        raise invalid(FieldError("vat_category", why, data.vat_category))
    purchase = Purchase(**data.model_dump())
    session.add(purchase)
    session.flush()
    record(session, "create", "one_off_purchase", purchase.id, data.kommune_id, data.description)
    return purchase


def _key_of(e: PriceElement) -> KeyIn | None:
    if e.key_kind is None:
        return None
    kind = KeyKind(e.key_kind)
    if kind == KeyKind.FIXED:
        # Stored as fractions of one; the input takes percentages ("100/3" is exact).
        percent = {k: str(parse_fraction(v) * 100) for k, v in (e.key_spec or {}).items()}
        return KeyIn(kind=kind, fixed=percent)
    if kind == KeyKind.MIX:
        return KeyIn.model_validate({"kind": kind, "mix": e.key_spec})
    return KeyIn(kind=kind)


def _owner_of(session: Session, e: PriceElement) -> OwnerIn | None:
    if e.owner_kommune_id is None:
        return None
    kommune = session.get(Kommune, e.owner_kommune_id)
    site = session.get(Site, e.owner_site_id) if e.owner_site_id else None
    return OwnerIn(
        kind=OwnerKind(e.owner_kind or "kommune"),
        kommune=kommune.slug if kommune else "",
        site=site.code if site else None,
    )


def _element_in(session: Session, e: PriceElement) -> ElementIn:
    rates = session.exec(select(PriceRate).where(PriceRate.element_id == e.id)).all()
    system = session.get(ConfigItem, e.ci_id) if e.ci_id else None
    return ElementIn.model_validate(
        {
            "code": e.code,
            "category": e.category,
            "service": e.service,
            "description": e.description,
            "accounting_cost": e.accounting_cost,
            "monthly_amount": e.monthly_amount,
            "annual_budget": e.annual_budget,
            "key": _key_of(e),
            "inhabitants_date": e.inhabitants_date,
            "owner": _owner_of(session, e),
            "count": e.count_kind,
            "system": system.key if system else None,
            "unit_price": e.unit_price,
            "rates": {r.work_type: r.rate for r in rates} or None,
            "rounding": e.rounding or "none",
            "rounding_minutes": e.rounding_minutes,
        }
    )


def version_as_input(session: Session, version_id: int) -> VersionIn:
    """A stored version in the import's shape: the UI edits it and stores it again with
    ``pricemodel.import_model`` (same checks; same name replaces it while no reviewed or
    issued run uses it)."""
    version = session.get(PriceModelVersion, version_id)
    if version is None:
        raise not_found(f"price model version {version_id}")
    elements = session.exec(
        select(PriceElement)
        .where(PriceElement.version_id == version_id)
        .order_by(col(PriceElement.category), col(PriceElement.code))
    ).all()
    return VersionIn(
        name=version.name,
        valid_from=version.valid_from,
        valid_to=version.valid_to,
        note=version.note,
        elements=[_element_in(session, e) for e in elements],
        inhabitants=_figures_in(session, version.valid_from),
    )


def _figures_in(session: Session, valid_from: date) -> list[InhabitantsIn]:
    day = date(valid_from.year, 1, 1)
    rows = session.exec(select(InhabitantFigure).where(InhabitantFigure.ref_date == day)).all()
    if not rows:
        return []
    slugs = {k.id: k.slug for k in session.exec(select(Kommune))}
    return [InhabitantsIn(date=day, figures={slugs[f.kommune_id]: f.inhabitants for f in rows})]
