"""The agreements' YAML import (CLI ``fellesdrift sla import``, API and admin page).

All or nothing: every check runs before anything is stored, and every error names the file and
line it comes from. Refused whole, with the reasons, are: overlapping versions of one kommune
(in the file or against stored ones), a target of zero or less, an unknown calendar, kommune,
system or catalogue service, and any malformed entry. An agreement of the same name as a stored
one replaces it (running clocks keep the level they were started with).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import yaml
from pydantic import ValidationError
from sqlmodel import Session, col, delete, select

from fellesdrift.kernel.problems import FieldError, forbidden, from_validation_errors, invalid
from register.access import elevated, principal_of
from register.models import ConfigItem, Kommune
from register.service.audit import record
from sla.agreements import FAR_FUTURE, bump_revision
from sla.models import SlaAgreement, SlaLevel, SlaService, SlaTarget
from sla.schemas import PREFIX, AgreementIn, AgreementsIn

Path = tuple[str, ...]

#: Catalogue services are the service desk's (a layer above): it registers how to list their
#: keys here, so the import can refuse an unknown one.
_service_keys: list[Callable[[Session], set[str]]] = []


def register_service_keys(lookup: Callable[[Session], set[str]]) -> None:
    if lookup not in _service_keys:
        _service_keys.append(lookup)


def fault(
    field: str,
    code: str,
    template: str,
    value: Any = None,
    *,
    file: str | None = None,
    line: int | None = None,
    **params: Any,
) -> FieldError:
    return FieldError(
        field, template.format(**params), value, line, file, PREFIX + code, dict(params)
    )


def require_admin(session: Session) -> None:
    if not principal_of(session).is_admin:
        raise forbidden("only administrators of the drift unit change service agreements")


# ---- reading YAML with line numbers -----------------------------------------------------------


def _lines(node: yaml.Node, path: Path, out: dict[Path, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, str(key.value))] = key.start_mark.line + 1
            _lines(value, (*path, str(key.value)), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, str(i)), out)


def _line_of(lines: dict[Path, int], loc: Path) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def load_yaml(text: str, filename: str) -> tuple[AgreementsIn, dict[Path, int]]:
    """Parse and validate the file; a 422 lists every error with file and line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        detail = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        err = fault(
            "file",
            "yaml",
            "not valid YAML: {detail}",
            file=filename,
            line=mark.line + 1 if mark else None,
            detail=detail,
        )
        raise invalid(err) from None
    lines: dict[Path, int] = {}
    if root is not None:
        _lines(root, (), lines)
    if not isinstance(data, dict):
        raise invalid(
            fault(
                "file",
                "not_agreements",
                "expected a mapping with 'agreements'",
                file=filename,
                line=1,
            )
        )
    try:
        return AgreementsIn.model_validate(data), lines
    except ValidationError as exc:
        raise invalid(_located(exc, lines, filename)) from None


def _located(exc: ValidationError, lines: dict[Path, int], filename: str) -> list[FieldError]:
    errors = from_validation_errors(exc.errors())
    for err, raw in zip(errors, exc.errors(), strict=True):
        loc = tuple(str(p) for p in raw["loc"])
        name, sep, rest = err.message.partition(": ")
        if sep and (*loc, name) in lines:  # a model rule naming its field: point at that key
            loc, err.message = (*loc, name), rest
        err.field, err.file, err.line = ".".join(loc) or "file", filename, _line_of(lines, loc)
    return errors


# ---- checks against the database --------------------------------------------------------------


def _overlap(a: AgreementIn, b_from: date, b_to: date | None) -> bool:
    return a.valid_from <= (b_to or FAR_FUTURE) and b_from <= (a.valid_to or FAR_FUTURE)


def check(
    session: Session, model: AgreementsIn, lines: dict[Path, int], filename: str
) -> list[FieldError]:
    """Every rule that needs the database, each error with its line."""
    kommuner = {k.slug: k for k in session.exec(select(Kommune))}
    systems = {c.key for c in session.exec(select(ConfigItem))}
    services: set[str] = set()
    for lookup in _service_keys:
        services |= lookup(session)
    replaced = {a.name for a in model.agreements}
    stored = [a for a in session.exec(select(SlaAgreement)) if a.name not in replaced]
    errors: list[FieldError] = []

    def at(path: Path, field: str, code: str, template: str, value: Any = None, **kw: Any) -> None:
        errors.append(
            fault(field, code, template, value, file=filename, line=_line_of(lines, path), **kw)
        )

    for i, a in enumerate(model.agreements):
        base = ("agreements", str(i))
        kommune_id = None
        if a.kommune is not None:
            if a.kommune not in kommuner:
                at(
                    (*base, "kommune"),
                    f"agreements.{i}.kommune",
                    "unknown_kommune",
                    "unknown kommune",
                    a.kommune,
                )
                continue
            kommune_id = kommuner[a.kommune].id
        for j, s in enumerate(a.services):
            where = (*base, "services", str(j))
            if s.system is not None and s.system not in systems:
                at(
                    (*where, "system"),
                    ".".join((*where, "system")),
                    "unknown_system",
                    "unknown system",
                    s.system,
                )
            if s.service is not None and s.service not in services:
                at(
                    (*where, "service"),
                    ".".join((*where, "service")),
                    "unknown_service",
                    "unknown catalogue service",
                    s.service,
                )
        for other in model.agreements[:i]:
            same = (
                (kommuner[other.kommune].id if other.kommune in kommuner else -1)
                if other.kommune is not None
                else None
            )
            if same == kommune_id and _overlap(a, other.valid_from, other.valid_to):
                at(
                    (*base, "valid_from"),
                    f"agreements.{i}.valid_from",
                    "overlap",
                    "overlaps the version {other!r} of the same kommune",
                    a.name,
                    other=other.name,
                )
        for other_row in stored:
            if other_row.kommune_id == kommune_id and _overlap(
                a, other_row.valid_from, other_row.valid_to
            ):
                at(
                    (*base, "valid_from"),
                    f"agreements.{i}.valid_from",
                    "overlap",
                    "overlaps the version {other!r} of the same kommune",
                    a.name,
                    other=other_row.name,
                )
    return errors


# ---- storing ----------------------------------------------------------------------------------


def _release(session: Session, name: str) -> None:
    old = session.exec(select(SlaAgreement).where(SlaAgreement.name == name)).first()
    if old is None:
        return
    session.exec(delete(SlaService).where(col(SlaService.agreement_id) == old.id))
    level_ids = select(SlaLevel.id).where(SlaLevel.agreement_id == old.id)
    session.exec(delete(SlaTarget).where(col(SlaTarget.level_id).in_(level_ids)))
    session.exec(delete(SlaLevel).where(col(SlaLevel.agreement_id) == old.id))
    session.delete(old)
    session.flush()


def _store(session: Session, a: AgreementIn) -> SlaAgreement:
    kommune_id = None
    if a.kommune is not None:
        kommune_id = session.exec(select(Kommune.id).where(Kommune.slug == a.kommune)).one()
    row = SlaAgreement(
        name=a.name,
        kommune_id=kommune_id,
        valid_from=a.valid_from,
        valid_to=a.valid_to,
        default_level=a.default_level,
        closed_days=list(a.closed_days),
        note=a.note,
        leadership_emails=list(a.leadership),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    level_ids: dict[str, int] = {}
    for lv in a.levels:
        level = SlaLevel(
            agreement_id=row.id,
            key=lv.key,
            name=lv.name,
            calendar=lv.calendar,
            pause_reasons=list(lv.pause_on),
            warn_at=list(lv.warn_at),
        )
        session.add(level)
        session.flush()
        assert level.id is not None
        level_ids[lv.key] = level.id
        for priority, t in sorted(lv.targets.items()):
            session.add(
                SlaTarget(
                    level_id=level.id,
                    priority=priority,
                    response_minutes=t.response,
                    resolution_minutes=t.resolution,
                )
            )
    cis = {c.key: c.id for c in session.exec(select(ConfigItem))}
    for s in a.services:
        bp = int(s.availability * 100) if s.availability is not None else None
        session.add(
            SlaService(
                agreement_id=row.id,
                level_id=level_ids[s.level],
                ci_id=cis[s.system] if s.system else None,
                catalogue_key=s.service,
                availability_target_bp=bp,
            )
        )
    return row


def import_agreements(
    session: Session,
    model: AgreementsIn,
    lines: dict[Path, int] | None = None,
    filename: str = "agreements",
) -> list[SlaAgreement]:
    """Store the agreements (replacing stored ones of the same name); all or nothing."""
    require_admin(session)
    with elevated(session, "sla: import"):
        errors = check(session, model, lines or {}, filename)
        if errors:
            raise invalid(errors, f"the agreements were not stored: {errors[0]}")
        for a in model.agreements:
            _release(session, a.name)
        stored = [_store(session, a) for a in model.agreements]
        session.flush()
        bump_revision(session)
    for row in stored:
        record(session, "import", "sla_agreement", row.id, row.kommune_id, row.name)
    return stored


def import_yaml(
    session: Session, text: str, filename: str = "agreements.yaml"
) -> list[SlaAgreement]:
    require_admin(session)
    model, lines = load_yaml(text, filename)
    return import_agreements(session, model, lines, filename)


def parse_json(data: Any) -> AgreementsIn:
    """The same input as JSON (the API): errors name the field, without lines."""
    try:
        return AgreementsIn.model_validate(data)
    except ValidationError as exc:
        raise invalid(from_validation_errors(exc.errors())) from None
