"""Export in the import formats: what the session's principal may see, and nothing else.

Rows are read through the access layer, so a kommune's contact gets that kommune's data. A
reference to something the principal cannot see (a drift-unit person named on a system, the
server a shared system runs on) is left out, so the export never names what it does not hold.
Passwords are never exported.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict
from typing import Any

import yaml
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, invalid
from register.models import (
    CIRelation,
    CIResponsibility,
    CIUsage,
    ConfigItem,
    Kommune,
    MonitorTarget,
    RoleGrant,
    Site,
    User,
)
from register.service.io.formats import ENTITIES, MONITORING, Entity, Kind, guard

FORMATS = ("yaml", "csv")
YAML_NAME = "fellesdrift.yaml"
ZIP_NAME = "fellesdrift-csv.zip"
YAML_HEADER = (
    "# fellesdrift: kommuner, sites, users and systems. Import with `fellesdrift import` or\n"
    "# on the page Import og eksport. Passwords are never exported.\n"
)
_RESPONSIBLE = {
    "systemeier": "systemeier",
    "systemadministrator": "systemadministratorer",
    "teknisk_systemadministrator": "tekniske_systemadministratorer",
}


def export_data(session: Session, fmt: str) -> dict[str, str]:
    """The principal's view of the register as files: ``{"fellesdrift.yaml": text}`` for
    ``yaml``, or one CSV per entity (``kommuner.csv``, ``sites.csv``, ``users.csv``,
    ``cis.csv``, ``monitoring.csv``) for ``csv``. CSVs are UTF-8 with a BOM and ';' between
    cells, the way Excel with Norwegian settings reads them."""
    if fmt not in FORMATS:
        raise invalid(FieldError("format", f"use one of {', '.join(FORMATS)}", fmt))
    rows = collect(session)
    if fmt == "yaml":
        return {YAML_NAME: to_yaml(rows)}
    return {f"{e.name}.csv": to_csv(e, rows[e.name]) for e in ENTITIES}


def zip_files(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue()


# ---- reading the register -----------------------------------------------------------------------


def collect(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every visible row as a dict of column -> value, by entity, in a stable order."""
    kommuner = list(session.exec(select(Kommune).order_by(Kommune.kommunenummer)))
    slugs = {k.id: k.slug for k in kommuner}
    sites = list(session.exec(select(Site)))
    site_codes = {s.id: s.code for s in sites}
    users = list(session.exec(select(User).order_by(User.username)))
    return {
        "kommuner": [_kommune(k, slugs) for k in kommuner],
        "sites": sorted(
            (_site(s, slugs, site_codes) for s in sites), key=lambda r: (r["kommune"], r["code"])
        ),
        "users": _users(session, users, slugs, site_codes),
        **_systems(session, slugs, {u.id: u.username for u in users}),
    }


def _kommune(k: Kommune, slugs: dict[Any, str]) -> dict[str, Any]:
    return {
        "kommunenummer": k.kommunenummer, "slug": k.slug, "name": k.name, "orgnr": k.orgnr,
        "inhabitants": k.inhabitants, "inhabitants_date": k.inhabitants_date,
        "address_line": k.address_line, "postcode": k.postcode, "city": k.city,
        "invoice_email": k.invoice_email, "buyer_reference": k.buyer_reference,
        "valid_from": k.valid_from, "valid_to": k.valid_to,
        "successor": slugs.get(k.successor_id),
    }  # fmt: skip


def _site(s: Site, slugs: dict[Any, str], codes: dict[Any, str]) -> dict[str, Any]:
    return {
        "kommune": slugs[s.kommune_id], "code": s.code, "name": s.name, "kind": s.kind,
        "parent": codes.get(s.parent_id), "address": s.address,
    }  # fmt: skip


def _users(
    session: Session, users: list[User], slugs: dict[Any, str], site_codes: dict[Any, str]
) -> list[dict[str, Any]]:
    roles: dict[Any, list[str]] = defaultdict(list)
    for grant in session.exec(select(RoleGrant).order_by(RoleGrant.role)):
        roles[grant.user_id].append(grant.role)
    return [_user(u, roles[u.id], slugs, site_codes) for u in users]


def _user(
    u: User, roles: list[str], slugs: dict[Any, str], site_codes: dict[Any, str]
) -> dict[str, Any]:
    return {
        "username": u.username, "full_name": u.full_name, "email": u.email, "phone": u.phone,
        "kommune": slugs.get(u.kommune_id), "site": site_codes.get(u.site_id), "roles": roles,
        "language": u.language, "active": u.active,
    }  # fmt: skip


def _target(t: MonitorTarget, ci_key: str) -> dict[str, Any]:
    return {
        "ci": ci_key, "probe": t.probe, "target": t.target,
        "interval_seconds": t.interval_seconds, "timeout_seconds": t.timeout_seconds,
        "enabled": t.enabled,
    }  # fmt: skip


def _systems(
    session: Session, slugs: dict[Any, str], usernames: dict[Any, str]
) -> dict[str, list[dict[str, Any]]]:
    cis = list(session.exec(select(ConfigItem).order_by(ConfigItem.key)))
    keys = {c.id: c.key for c in cis}
    links: dict[Any, dict[str, Any]] = defaultdict(lambda: defaultdict(list))
    for r in session.exec(select(CIResponsibility).order_by(col(CIResponsibility.id))):
        if r.user_id in usernames:
            links[r.ci_id][_RESPONSIBLE[r.kind]].append(usernames[r.user_id])
    for rel in session.exec(select(CIRelation)):
        if rel.target_id in keys:
            links[rel.source_id][rel.kind].append(keys[rel.target_id])
    for use in session.exec(select(CIUsage)):
        if use.kommune_id in slugs:
            links[use.ci_id]["used_by"].append(f"{slugs[use.kommune_id]}:{use.users_count}")
    targets = [_target(t, keys[t.ci_id]) for t in session.exec(select(MonitorTarget))]
    targets.sort(key=lambda t: (t["ci"], t["probe"], t["target"]))
    return {
        "cis": [_ci(c, slugs, links[c.id]) for c in cis],
        "monitoring": targets,
    }


def _ci(c: ConfigItem, slugs: dict[Any, str], links: dict[str, Any]) -> dict[str, Any]:
    owners = links.get("systemeier", [])
    return {
        "key": c.key, "name": c.name, "kind": c.kind, "classification": c.classification,
        "criticality": c.criticality, "life_and_health": c.life_and_health,
        "finance_payroll": c.finance_payroll, "lifecycle": c.lifecycle,
        "owner_kommune": slugs.get(c.owner_kommune_id), "service": c.service,
        "description": c.description, "vendor": c.vendor, "version": c.version,
        "address": c.address, "systemeier": owners[0] if owners else None,
        "systemadministratorer": sorted(links.get("systemadministratorer", [])),
        "tekniske_systemadministratorer": sorted(links.get("tekniske_systemadministratorer", [])),
        "runs_on": sorted(links.get("runs_on", [])),
        "depends_on": sorted(links.get("depends_on", [])),
        "used_by": sorted(links.get("used_by", [])),
    }  # fmt: skip


# ---- writing files ------------------------------------------------------------------------------


def to_yaml(rows: dict[str, list[dict[str, Any]]]) -> str:
    """One document; a system's monitoring targets inside its entry, its users per kommune as
    a mapping (``used_by: {kristiansand: 1200}``)."""
    targets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for target in rows[MONITORING.name]:
        targets[target["ci"]].append({k: v for k, v in target.items() if k != "ci"})
    cis = []
    for ci in rows["cis"]:
        used_by = {k: int(v) for k, v in (e.rsplit(":", 1) for e in ci["used_by"])}
        cis.append(ci | {"used_by": used_by, "monitoring": targets[ci["key"]]})
    document = {name: rows[name] for name in ("kommuner", "sites", "users")} | {"cis": cis}
    body = yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return YAML_HEADER + body


def _csv_cell(kind: Kind, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind is Kind.LIST:
        return ";".join(str(v) for v in value)
    return guard(str(value))


def to_csv(entity: Entity, rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(entity.columns)
    for row in rows:
        writer.writerow(_csv_cell(kind, row[c]) for c, kind in entity.columns.items())
    return "\ufeff" + buffer.getvalue()
