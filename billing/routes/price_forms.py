"""The price model in the UI: a stored version as input shapes (to store it again with one
element changed), a posted element form as :class:`billing.schemas.ElementIn`, and the
errors of either mapped back to the inputs of the form.

Versions are stored through ``billing.pricemodel.import_model``, exactly like a YAML import,
so the UI and the import judge a price model alike and a refused change stores nothing.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from billing.allocation import AllocationError, parse_fraction
from billing.choices import KeyKind
from billing.errors import fault
from billing.models import PriceElement, PriceModelVersion, PriceRate
from billing.schemas import ElementIn, KeyIn, VersionIn
from fellesdrift.kernel.problems import FieldError, from_validation_errors
from register.models import ConfigItem, Kommune, Site
from register.routes.page_forms import Posted

#: The inputs of the element form (besides the rates, one per work type).
ELEMENT_INPUTS = (
    "code",
    "category",
    "service",
    "description",
    "monthly_amount",
    "annual_budget",
    "key_kind",
    "key_spec",
    "inhabitants_date",
    "owner_kind",
    "owner_kommune",
    "owner_site",
    "count",
    "system",
    "unit_price",
    "rate_office_hours",
    "rate_after_hours",
    "rounding",
    "rounding_minutes",
)
#: Error field (first part) -> the input showing it.
ALIASES = {
    "key": "key_kind",
    "owner": "owner_kommune",
    "rates": "rate_office_hours",
    "elements": "code",
}


class Names:
    """Slugs, site codes and system keys by id (and back), for one request."""

    def __init__(self, db: Session) -> None:
        self.kommuner = {k.id: k.slug for k in db.exec(select(Kommune))}
        self.sites = {s.id: s.code for s in db.exec(select(Site))}
        self.systems = {c.id: c.key for c in db.exec(select(ConfigItem))}


def _plain(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def _fraction_text(value: str) -> str:
    """A stored fraction as the form writes it: a percentage when exact, else ``a/b``."""
    f = Fraction(value)
    pct = Decimal(f.numerator * 100) / Decimal(f.denominator)
    exact = Fraction(pct) == f * 100
    return f"{_plain(pct)}" if exact else f"{f.numerator}/{f.denominator}"


def key_spec_text(e: PriceElement, names: Names) -> str:
    if e.key_kind == KeyKind.FIXED and isinstance(e.key_spec, dict):
        return ", ".join(f"{slug}={_fraction_text(v)}" for slug, v in e.key_spec.items())
    if e.key_kind == KeyKind.MIX and isinstance(e.key_spec, list):
        return ", ".join(f"{p['key']}={p['weight']}" for p in e.key_spec)
    return ""


def element_values(e: PriceElement, rates: dict[str, Decimal], names: Names) -> dict[str, Any]:
    """A stored element as the form's values."""
    return {
        "code": e.code,
        "category": str(e.category),
        "service": e.service,
        "description": e.description,
        "monthly_amount": _plain(e.monthly_amount),
        "annual_budget": _plain(e.annual_budget),
        "key_kind": e.key_kind or "",
        "key_spec": key_spec_text(e, names),
        "inhabitants_date": e.inhabitants_date.isoformat() if e.inhabitants_date else "",
        "owner_kind": e.owner_kind or "",
        "owner_kommune": names.kommuner.get(e.owner_kommune_id, "") if e.owner_kommune_id else "",
        "owner_site": names.sites.get(e.owner_site_id, "") if e.owner_site_id else "",
        "count": e.count_kind or "",
        "system": names.systems.get(e.ci_id, "") if e.ci_id else "",
        "unit_price": _plain(e.unit_price),
        "rate_office_hours": _plain(rates.get("office_hours")),
        "rate_after_hours": _plain(rates.get("after_hours")),
        "rounding": e.rounding or "none",
        "rounding_minutes": str(e.rounding_minutes or ""),
    }


def pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.replace(";", ",").split(","):
        if part.strip():
            name, _, value = part.partition("=")
            out.append((name.strip(), value.strip()))
    return out


def fixed_key(text: str) -> tuple[KeyIn | None, list[FieldError]]:
    """``alfa=40, beta=60`` (percentages) or ``alfa=1/3, ...`` (fractions) as a fixed key."""
    fixed: dict[str, Fraction] = {}
    for slug, value in pairs(text):
        try:
            fixed[slug] = Fraction(value) if "/" in value else parse_fraction(f"{value}%")
        except (AllocationError, ValueError, ZeroDivisionError):
            return None, [
                fault("key_spec", "not_percent", "is not a percentage or fraction", value)
            ]
        if fixed[slug] < 0:
            return None, [
                fault("key_spec", "negative_percent", "the percentage is negative", value)
            ]
    if not fixed:
        return None, [
            fault("key_spec", "percent_missing", "a fixed key needs each kommune's percentage")
        ]
    if sum(fixed.values()) != 1:
        return None, [fault("key_spec", "percent_sum", "the percentages must sum to 100")]
    spec = {slug: str(f) for slug, f in fixed.items()}
    return KeyIn.model_construct(kind=KeyKind.FIXED, fixed=spec, mix=None), []


def _key(form: Posted) -> tuple[Any, list[FieldError]]:
    kind = form.get("key_kind").strip()
    if not kind:
        return None, []
    if kind == KeyKind.FIXED:
        return fixed_key(form.get("key_spec"))
    if kind == KeyKind.MIX:
        parts = [{"key": k, "weight": w} for k, w in pairs(form.get("key_spec"))]
        return {"kind": kind, "mix": parts}, []
    return {"kind": kind}, []


def _owner(form: Posted) -> dict[str, Any] | None:
    kommune = form.get("owner_kommune").strip()
    if not kommune:
        return None
    owner: dict[str, Any] = {
        "kind": form.get("owner_kind").strip() or "kommune",
        "kommune": kommune,
    }
    if form.get("owner_site").strip():
        owner["site"] = form.get("owner_site").strip()
    return owner


def element_from_form(form: Posted) -> tuple[ElementIn | None, list[FieldError]]:
    """The posted element, judged by the price model's own schema."""
    key, errors = _key(form)
    data: dict[str, Any] = {"rounding": form.get("rounding").strip() or "none"}
    for name in ("code", "category", "service", "description", "monthly_amount"):
        data[name] = form.get(name).strip() or None
    for name in ("annual_budget", "inhabitants_date", "count", "system", "unit_price"):
        data[name] = form.get(name).strip() or None
    data["description"] = form.get("description").strip()
    data["rounding_minutes"] = form.get("rounding_minutes").strip() or None
    data["key"], data["owner"] = key, _owner(form)
    rates = {w: form.get(f"rate_{w}").strip() for w in ("office_hours", "after_hours")}
    data["rates"] = {w: v for w, v in rates.items() if v} or None
    data = {k: v for k, v in data.items() if v is not None or k in ("key", "owner")}
    try:
        element = ElementIn.model_validate(data)
    except ValidationError as exc:
        return None, errors + from_validation_errors(exc.errors())
    return (None, errors) if errors else (element, [])


def stored_element(e: PriceElement, rates: dict[str, Decimal], names: Names) -> ElementIn:
    """A stored element as input (its key kept exactly as stored)."""
    key = None
    if e.key_kind:
        key = KeyIn.model_construct(
            kind=KeyKind(e.key_kind),
            fixed=e.key_spec if e.key_kind == KeyKind.FIXED else None,
            mix=None,
        )
        if e.key_kind == KeyKind.MIX:
            key = KeyIn.model_validate({"kind": "mix", "mix": e.key_spec})
    values = element_values(e, rates, names)
    owner = None
    if e.owner_kommune_id:
        owner = {"kind": e.owner_kind or "kommune", "kommune": values["owner_kommune"]}
        if values["owner_site"]:
            owner["site"] = values["owner_site"]
    data = {
        "code": e.code,
        "category": e.category,
        "service": e.service,
        "description": e.description,
        "monthly_amount": e.monthly_amount,
        "annual_budget": e.annual_budget,
        "key": key,
        "inhabitants_date": e.inhabitants_date,
        "owner": owner,
        "count": e.count_kind,
        "system": values["system"] or None,
        "unit_price": e.unit_price,
        "rates": dict(rates) or None,
        "rounding": e.rounding or "none",
        "rounding_minutes": e.rounding_minutes,
    }
    return ElementIn.model_validate(data)


def rates_of(db: Session, element_ids: list[int]) -> dict[int, dict[str, Decimal]]:
    out: dict[int, dict[str, Decimal]] = {}
    for r in db.exec(select(PriceRate).where(col(PriceRate.element_id).in_(element_ids))):
        out.setdefault(r.element_id, {})[r.work_type] = r.rate
    return out


def elements_of(db: Session, version_id: int) -> list[PriceElement]:
    return list(
        db.exec(
            select(PriceElement)
            .where(PriceElement.version_id == version_id)
            .order_by(col(PriceElement.category), col(PriceElement.code))
        )
    )


def version_input(
    db: Session,
    version: PriceModelVersion,
    header: dict[str, Any] | None = None,
    replace: tuple[int | None, ElementIn | None] | None = None,
) -> VersionIn:
    """The stored version as input, with ``header`` fields changed and one element replaced
    (``(element id, new)``; id None adds, new None removes)."""
    names = Names(db)
    stored = elements_of(db, version.id or 0)
    rates = rates_of(db, [e.id for e in stored if e.id is not None])
    elements: list[ElementIn] = []
    for e in stored:
        if replace is not None and replace[0] == e.id:
            if replace[1] is not None:
                elements.append(replace[1])
            continue
        elements.append(stored_element(e, rates.get(e.id or 0, {}), names))
    if replace is not None and replace[0] is None and replace[1] is not None:
        elements.append(replace[1])
    data = {
        "name": version.name,
        "valid_from": version.valid_from,
        "valid_to": version.valid_to,
        "note": version.note,
    } | (header or {})
    return VersionIn.model_validate(data | {"elements": elements})


def form_errors(errors: list[FieldError]) -> list[FieldError]:
    """Errors of the price model's checks (``versions[0] 'X' elements[2] 'y' owner.site``) as
    errors of the form's inputs."""
    out = []
    for e in errors:
        last = e.field.split(" ")[-1] if e.field else ""
        if last.startswith("versions[") or last.startswith("'"):
            last = "valid_from"
        name = last.split(".")[0]
        if last == "owner.site":
            name = "owner_site"
        out.append(
            FieldError(ALIASES.get(name, name), e.message, e.value, code=e.code, params=e.params)
        )
    return out
