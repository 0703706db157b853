"""The price model: versions valid for periods, imported from YAML or edited in the UI.

Every check runs before anything is stored: a negative price, overlapping versions, an unknown
kommune, site or system, or a kommune without an inhabitants figure under an inhabitants key
gives a 422 whose errors name the version and element, and the database is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import yaml
from pydantic import ValidationError
from sqlmodel import Session, col, delete, select

from billing.choices import KeyKind, RunState
from billing.discard import discard_run
from billing.errors import conflict as billing_conflict
from billing.errors import fault, refusal
from billing.models import (
    InhabitantFigure,
    InvoiceRun,
    PriceElement,
    PriceModelVersion,
    PriceRate,
)
from billing.permissions import require_billing_admin
from billing.schemas import ElementIn, PriceModelIn, VersionIn
from fellesdrift.kernel.problems import FieldError, from_validation_errors, invalid, not_found
from register.access import elevated
from register.models import ConfigItem, Kommune, Site
from register.service.audit import record

FAR_FUTURE = date(9999, 12, 31)


def _label(data: Any, loc: tuple[Any, ...]) -> str:
    """``versions[0] 'Prismodell 2026' elements[2] 'infra' unit_price`` from a pydantic loc."""
    parts: list[str] = []
    node = data
    for i, step in enumerate(loc):
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            name = node.get("code") or node.get("name") if isinstance(node, dict) else None
            parts[-1] = f"{parts[-1]}[{step}]" + (f" {name!r}" if name else "")
            continue
        parts.append(str(step))
        node = node.get(step) if isinstance(node, dict) else None
        if i == len(loc) - 1:
            break
    return " ".join(parts)


def parse(data: Any) -> PriceModelIn:
    """Validate a price model given as plain data (from YAML or JSON)."""
    try:
        return PriceModelIn.model_validate(data)
    except ValidationError as exc:
        errors = from_validation_errors(exc.errors())
        for err, raw in zip(errors, exc.errors(), strict=True):
            err.field = _label(data, tuple(raw["loc"]))
        raise invalid(errors) from None


def load_yaml(text: str, filename: str = "price model") -> PriceModelIn:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = str(exc).splitlines()[0]
        raise invalid(
            fault("yaml", "yaml_syntax", "{detail}", line=line, file=filename, detail=detail)
        ) from None
    if not isinstance(data, dict):
        raise invalid(
            fault("yaml", "not_a_model", "expected a mapping with 'versions'", file=filename)
        )
    return parse(data)


# ---- checks against the database ------------------------------------------------------------


def _end(valid_to: date | None) -> date:
    return valid_to or FAR_FUTURE


def overlapping(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return a_from <= _end(b_to) and b_from <= _end(a_to)


def takes_over(v: VersionIn, other: Any) -> bool:
    """A version starting after an open-ended one takes over from it: the open one then ends
    the day before (what "valid until a new version takes over" promises)."""
    return other.valid_to is None and other.valid_from < v.valid_from


def _billed_from(session: Session, version: PriceModelVersion, day: date) -> InvoiceRun | None:
    """The first reviewed or issued run of ``version`` on or after ``day``."""
    return session.exec(
        select(InvoiceRun)
        .where(
            InvoiceRun.version_id == version.id,
            col(InvoiceRun.month) >= day,
            InvoiceRun.state != RunState.DRAFT.value,
        )
        .order_by(col(InvoiceRun.month))
    ).first()


def _overlaps(session: Session, versions: list[VersionIn]) -> list[FieldError]:
    errors = []
    replaced = {v.name for v in versions}
    stored = [v for v in session.exec(select(PriceModelVersion)) if v.name not in replaced]
    for i, v in enumerate(versions):
        where = f"versions[{i}] {v.name!r}"
        for other in stored:
            if not takes_over(v, other):
                continue
            billed = _billed_from(session, other, v.valid_from)
            if billed is not None:
                errors.append(
                    fault(
                        where,
                        "takeover_billed",
                        "cannot take over from {other!r} on {start}: it billed {month}; "
                        "start the new version after the last month billed",
                        other=other.name,
                        start=v.valid_from,
                        month=f"{billed.month:%Y-%m}",
                    )
                )
        others: Iterable[Any] = [*versions[:i], *(o for o in stored if not takes_over(v, o))]
        for other in others:
            if overlapping(v.valid_from, v.valid_to, other.valid_from, other.valid_to):
                errors.append(_overlap(where, other))
    return errors


def set_end(
    session: Session, version_id: int, valid_to: date | None, note: str
) -> PriceModelVersion:
    """Change only a version's end and note, in place: allowed even once it has billed, as
    long as every month it billed stays inside its period and it overlaps no other."""
    require_billing_admin(session)
    version = session.get(PriceModelVersion, version_id)
    if version is None:
        raise not_found(f"price model version {version_id}")
    where = f"versions[0] {version.name!r}"
    errors = []
    if valid_to is not None and valid_to < version.valid_from:
        errors.append(fault("valid_to", "ends_before_start", "ends before it starts", valid_to))
    after = _billed_from(session, version, valid_to + timedelta(days=1)) if valid_to else None
    if after is not None:
        errors.append(
            fault(
                "valid_to",
                "end_cuts_billed",
                "{name!r} billed {month}; it cannot end before that month",
                valid_to,
                name=version.name,
                month=f"{after.month:%Y-%m}",
            )
        )
    for other in session.exec(select(PriceModelVersion)):
        if other.id != version.id and overlapping(
            version.valid_from, valid_to, other.valid_from, other.valid_to
        ):
            errors.append(_overlap(where, other))
    if errors:
        raise invalid(errors, f"the version was not changed: {errors[0]}")
    with elevated(session, "billing: version end"):
        version.valid_to, version.note = valid_to, note
        session.add(version)
        session.flush()
    record(session, "update", "price_model_version", version.id, None, version.name)
    return version


def _end_open_versions(session: Session, versions: list[VersionIn]) -> None:
    """End each open-ended version a new one takes over from, the day before it starts."""
    names = {v.name for v in versions}
    for v in sorted(versions, key=lambda v: v.valid_from):
        for other in session.exec(select(PriceModelVersion)):
            if other.name not in names and takes_over(v, other):
                other.valid_to = v.valid_from - timedelta(days=1)
                session.add(other)
                record(session, "end", "price_model_version", other.id, None, other.name)
    session.flush()


def _overlap(where: str, other: Any) -> FieldError:
    if other.valid_to is None:
        template = "overlaps the version {other!r} ({start} - open end)"
        return fault(where, "overlap_open", template, other=other.name, start=other.valid_from)
    template = "overlaps the version {other!r} ({start} - {end})"
    return fault(
        where, "overlap", template, other=other.name, start=other.valid_from, end=other.valid_to
    )


def kommuner_in(session: Session, start: date, end: date | None) -> list[Kommune]:
    """Kommuner taking part at some time in the period, in kommunenummer order."""
    rows = session.exec(select(Kommune).order_by(col(Kommune.kommunenummer))).all()
    return [k for k in rows if overlapping(k.valid_from, k.valid_to, start, end)]


def inhabitants_on(
    session: Session, ref_date: date, extra: dict[int, int] | None = None
) -> dict[int, int]:
    """Inhabitants per kommune id at ``ref_date``: the figures table, else the register's
    figure when its date is that date."""
    figures = {
        k.id: k.inhabitants
        for k in session.exec(select(Kommune))
        if k.inhabitants is not None and k.inhabitants_date == ref_date and k.id is not None
    }
    rows = session.exec(select(InhabitantFigure).where(InhabitantFigure.ref_date == ref_date))
    figures |= {f.kommune_id: f.inhabitants for f in rows}
    return figures | (extra or {})


def reference_date(element: ElementIn | PriceElement, valid_from: date) -> date:
    """The inhabitants' reference date: the element's, else 1 January of the version's year."""
    return element.inhabitants_date or date(valid_from.year, 1, 1)


@dataclass
class _Lookup:
    kommuner: dict[str, Kommune]
    sites: dict[tuple[int, str], Site]
    systems: dict[str, ConfigItem]

    @classmethod
    def load(cls, session: Session) -> _Lookup:
        kommuner = {k.slug: k for k in session.exec(select(Kommune))}
        sites = {(s.kommune_id, s.code): s for s in session.exec(select(Site))}
        systems = {c.key: c for c in session.exec(select(ConfigItem))}
        return cls(kommuner, sites, systems)


def _element_refs(where: str, e: ElementIn, look: _Lookup) -> list[FieldError]:
    errors = []
    if e.key is not None and e.key.fixed:
        errors += [
            fault(f"{where} key.fixed", "unknown_kommune", "unknown kommune", slug)
            for slug in e.key.fixed
            if slug not in look.kommuner
        ]
    if e.owner is not None:
        kommune = look.kommuner.get(e.owner.kommune)
        if kommune is None:
            errors.append(
                fault(
                    f"{where} owner.kommune", "unknown_kommune", "unknown kommune", e.owner.kommune
                )
            )
        elif e.owner.site and (kommune.id, e.owner.site) not in look.sites:
            errors.append(
                fault(
                    f"{where} owner.site",
                    "no_site",
                    "no such site in {kommune}",
                    e.owner.site,
                    kommune=kommune.name,
                )
            )
    if e.system is not None and e.system not in look.systems:
        errors.append(fault(f"{where} system", "unknown_system", "unknown system", e.system))
    return errors


def _file_figures(
    v: VersionIn, look: _Lookup
) -> tuple[dict[date, dict[int, int]], list[FieldError]]:
    figures: dict[date, dict[int, int]] = {}
    errors = []
    for block in v.inhabitants:
        for slug, count in block.figures.items():
            kommune = look.kommuner.get(slug)
            if kommune is None or kommune.id is None:
                errors.append(
                    fault(
                        f"{v.name!r} inhabitants {block.date}",
                        "unknown_kommune",
                        "unknown kommune",
                        slug,
                    )
                )
                continue
            figures.setdefault(block.date, {})[kommune.id] = count
    return figures, errors


def _missing_inhabitants(
    session: Session, v: VersionIn, where: str, e: ElementIn, extra: dict[date, dict[int, int]]
) -> list[FieldError]:
    if e.key is None or KeyKind.INHABITANTS not in e.key.kinds():
        return []
    day = reference_date(e, v.valid_from)
    known = inhabitants_on(session, day, extra.get(day))
    return [
        fault(
            f"{where} key",
            "no_inhabitants_key",
            "splits by inhabitants on {day}, but {kommune} has no inhabitants figure for that date",
            k.slug,
            day=day,
            kommune=k.name,
        )
        for k in kommuner_in(session, v.valid_from, v.valid_to)
        if k.id not in known
    ]


def check(session: Session, model: PriceModelIn) -> None:
    """Every rule that needs the database; raises one 422 listing all that is wrong."""
    look = _Lookup.load(session)
    errors = _overlaps(session, model.versions)
    for i, v in enumerate(model.versions):
        extra, figure_errors = _file_figures(v, look)
        errors += figure_errors
        for j, e in enumerate(v.elements):
            where = f"versions[{i}] {v.name!r} elements[{j}] {e.code!r}"
            errors += _element_refs(where, e, look)
            errors += _missing_inhabitants(session, v, where, e, extra)
    if errors:
        raise invalid(errors, f"the price model was not stored: {errors[0]}")


# ---- storing ---------------------------------------------------------------------------------


def _release(session: Session, name: str) -> None:
    """Remove a stored version of that name so an import can replace it. Draft runs made
    with it are discarded (a draft is recomputed at will); reviewed or issued runs keep it."""
    version = session.exec(select(PriceModelVersion).where(PriceModelVersion.name == name)).first()
    if version is None:
        return
    runs = session.exec(select(InvoiceRun).where(InvoiceRun.version_id == version.id)).all()
    kept = [r for r in runs if r.state != RunState.DRAFT]
    if kept:
        raise billing_conflict(
            "version_used",
            "the price model version {name!r} was used by the {state} invoice run for {month} "
            "and cannot be changed; add a new version instead",
            name=name,
            state=kept[0].state,
            month=f"{kept[0].month:%Y-%m}",
        )
    for run in runs:
        discard_run(session, run)
    element_ids = select(PriceElement.id).where(PriceElement.version_id == version.id)
    session.exec(delete(PriceRate).where(col(PriceRate.element_id).in_(element_ids)))
    session.exec(delete(PriceElement).where(col(PriceElement.version_id) == version.id))
    session.delete(version)
    session.flush()


def _element_row(version_id: int, e: ElementIn, look: _Lookup) -> PriceElement:
    owner_kommune = look.kommuner[e.owner.kommune] if e.owner else None
    site = (
        look.sites[(owner_kommune.id, e.owner.site)]  # type: ignore[index, union-attr]
        if e.owner and e.owner.site
        else None
    )
    return PriceElement(
        version_id=version_id,
        code=e.code,
        category=e.category,
        service=e.service,
        description=e.description,
        accounting_cost=e.accounting_cost,
        monthly_amount=e.monthly_amount,
        annual_budget=e.annual_budget,
        key_kind=e.key.kind.value if e.key else None,
        key_spec=e.key.spec() if e.key else None,
        inhabitants_date=e.inhabitants_date,
        owner_kind=(e.owner.kind.value if e.owner else None),
        owner_kommune_id=owner_kommune.id if owner_kommune else None,
        owner_site_id=site.id if site else None,
        count_kind=e.count.value if e.count else None,
        ci_id=look.systems[e.system].id if e.system else None,
        unit_price=e.unit_price,
        rounding=e.rounding.value if e.category == 4 else None,
        rounding_minutes=e.rounding_minutes,
    )


def _store_version(session: Session, v: VersionIn, look: _Lookup) -> PriceModelVersion:
    version = PriceModelVersion(
        name=v.name, valid_from=v.valid_from, valid_to=v.valid_to, note=v.note
    )
    session.add(version)
    session.flush()
    assert version.id is not None
    for e in v.elements:
        row = _element_row(version.id, e, look)
        session.add(row)
        session.flush()
        for work_type, rate in sorted((e.rates or {}).items()):
            session.add(PriceRate(element_id=row.id, work_type=work_type.value, rate=rate))  # type: ignore[arg-type]
    extra, _ = _file_figures(v, look)
    for day, figures in extra.items():
        _store_figures(session, day, figures, v.inhabitants[0].source)
    return version


def _store_figures(session: Session, day: date, figures: dict[int, int], source: str) -> None:
    stored = {
        f.kommune_id: f
        for f in session.exec(select(InhabitantFigure).where(InhabitantFigure.ref_date == day))
    }
    for kommune_id, count in figures.items():
        row = stored.get(kommune_id) or InhabitantFigure(
            kommune_id=kommune_id, ref_date=day, inhabitants=count
        )
        row.inhabitants, row.source = count, source
        session.add(row)


def import_model(session: Session, model: PriceModelIn) -> list[PriceModelVersion]:
    """Store the versions (a stored version of the same name is replaced); all or nothing."""
    require_billing_admin(session)
    check(session, model)
    # The admin's right was checked above; bulk deletes of a replaced version need the system.
    with elevated(session, "billing: price model import"):
        look = _Lookup.load(session)
        for v in model.versions:
            _release(session, v.name)
        _end_open_versions(session, model.versions)
        stored = [_store_version(session, v, look) for v in model.versions]
    for version in stored:
        record(session, "import", "price_model_version", version.id, None, version.name)
    return stored


def import_yaml(
    session: Session, text: str, filename: str = "price model"
) -> list[PriceModelVersion]:
    require_billing_admin(session)
    return import_model(session, load_yaml(text, filename))


def version_for(session: Session, month: date) -> PriceModelVersion:
    """The version valid on the month's first day."""
    rows = session.exec(select(PriceModelVersion).order_by(col(PriceModelVersion.valid_from)))
    for version in rows:
        if version.valid_from <= month <= _end(version.valid_to):
            return version
    raise refusal(
        422,
        "No price model",
        "no_version",
        "no price model version is valid on {day}",
        day=f"{month:%Y-%m-%d}",
    )
