"""The file formats of import and export: which entities, which columns, and how a cell becomes
a value. The readers, the planner and the exporter all work from these definitions, so a column
added here is read, checked and written the same way everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePosixPath
from typing import Any

from fellesdrift.kernel.problems import FieldError


class Kind(Enum):
    """How an empty cell (or a YAML null) is read."""

    KEY = "key"  #: part of the natural key: must be filled in
    TEXT = "text"  #: empty means the empty text
    NULLABLE = "nullable"  #: empty means "none" (clears the value)
    DEFAULTED = "defaulted"  #: empty means "not given": the default, or unchanged on update
    LIST = "list"  #: ';'-separated in CSV, a sequence in YAML; empty means "nothing to add"


@dataclass(frozen=True)
class Entity:
    name: str
    #: Other file names (without .csv) that mean this entity.
    aliases: tuple[str, ...]
    columns: dict[str, Kind]
    #: Column -> field of the input schema, where the file names a thing the schema holds an id of.
    refs: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(c for c, k in self.columns.items() if k is Kind.KEY)

    def field_of(self, column: str) -> str:
        return self.refs.get(column, column)

    def column_of(self, field_name: str) -> str:
        for column, target in self.refs.items():
            if target == field_name:
                return column
        return field_name


T, N, D, L, K = Kind.TEXT, Kind.NULLABLE, Kind.DEFAULTED, Kind.LIST, Kind.KEY

KOMMUNER = Entity(
    "kommuner",
    ("kommune",),
    {
        "kommunenummer": K, "slug": T, "name": T, "orgnr": T, "inhabitants": N,
        "inhabitants_date": N, "address_line": T, "postcode": T, "city": T, "invoice_email": T,
        "buyer_reference": T, "valid_from": D, "valid_to": N, "successor": N,
    },
)  # fmt: skip
SITES = Entity(
    "sites",
    ("site", "steder", "lokasjoner"),
    {"kommune": K, "code": K, "name": T, "kind": D, "parent": N, "address": T},
    {"kommune": "kommune_id", "parent": "parent_id"},
)
USERS = Entity(
    "users",
    ("user", "brukere"),
    {
        "username": K, "full_name": T, "email": T, "phone": T, "kommune": N, "site": N,
        "roles": L, "language": D, "active": D,
    },
    {"kommune": "kommune_id", "site": "site_id"},
)  # fmt: skip
CIS = Entity(
    "cis",
    ("ci", "systemer", "systems"),
    {
        "key": K, "name": T, "kind": T, "classification": N, "criticality": D,
        "life_and_health": D, "finance_payroll": D, "lifecycle": D, "owner_kommune": N,
        "service": T, "description": T, "vendor": T, "version": T, "address": T,
        "systemeier": N, "systemadministratorer": L, "tekniske_systemadministratorer": L,
        "runs_on": L, "depends_on": L, "used_by": L,
    },
    {"owner_kommune": "owner_kommune_id"},
)  # fmt: skip
MONITORING = Entity(
    "monitoring",
    ("targets", "overvaking", "overvåking"),
    {
        "ci": K, "probe": K, "target": K, "interval_seconds": D, "timeout_seconds": D,
        "enabled": D,
    },
)  # fmt: skip

#: In the order they are checked and written: everything refers only to what comes before it
#: (or to its own kind: a site's parent, a system's servers, a kommune's successor).
ENTITIES = (KOMMUNER, SITES, USERS, CIS, MONITORING)
#: The top-level keys of a YAML file; monitoring targets sit inside each system.
YAML_KEYS = {e.name: e for e in (KOMMUNER, SITES, USERS, CIS)}
#: Columns that are never read: passwords are set by an admin (or come from SSO), not imported.
SECRET_COLUMNS = frozenset({"password", "password_hash", "passord"})
EXTENSIONS = (".csv", ".yaml", ".yml")
_SEPARATOR = ";"
_MAX_NAME = 120


def entity_named(name: str) -> Entity | None:
    name = name.strip().lower()
    for entity in ENTITIES:
        if name == entity.name or name in entity.aliases:
            return entity
    return None


def entity_for_file(filename: str) -> Entity | None:
    """The entity a CSV file holds, from its name: ``users.csv``, ``2026-users.csv``."""
    stem = PurePosixPath(filename).stem.lower()
    found = entity_named(stem)
    if found is None:
        last = re.split(r"[-_ .]", stem)[-1]
        found = entity_named(last)
    return found


def display_name(filename: str) -> str:
    """The client's file name, reduced to something safe to show (never used as a path)."""
    base = PurePosixPath(filename.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:_MAX_NAME] or "upload"


# ---- errors -------------------------------------------------------------------------------------

#: English texts of the importer's own errors (API and CLI); pages use ``io.err.<code>``.
MESSAGES = {
    "extension": "only .csv, .yaml and .yml files can be imported",
    "encoding": "is not UTF-8 text (byte {byte} cannot be read); save it as 'CSV UTF-8'",
    "entity": "the file name does not say what the file holds; name it {names}",
    "empty": "the file is empty",
    "yaml": "is not valid YAML: {problem}",
    "csv": "is not valid CSV: {problem}",
    "yaml_top": "the file must be a mapping with the keys {names}",
    "unknown_column": "is not a column of {entity}",
    "missing_column": "the key column is missing from the header",
    "duplicate_column": "appears twice in the header",
    "too_many_values": "the row has {count} values but the header only {columns} columns",
    "not_a_list": "must be a list of entries",
    "not_a_mapping": "each entry must be a mapping of field: value",
    "not_a_value": "must be a single value, not a list or mapping",
    "alias": "YAML anchors and aliases (& and *) are not supported",
    "duplicate_key": "is given twice in this entry",
    "missing": "must be filled in",
    "password": "passwords are never imported; an admin sets them after the import",
    "duplicate": "appears twice: also in {file}, line {line}",
    "dangling": "no {what} {value!r} in the database or in the imported files",
    "taken": "is already used by kommune {other}",
    "immutable": "cannot be changed by an import (the register has {current!r})",
    "reopen": "an ended kommune cannot be reopened by an import",
    "successor_needs_end": "a successor needs valid_to, the day the kommune ended",
    "moved": "a user cannot move to another kommune (the register has {current})",
    "site_without_kommune": "only employees of a kommune have a site",
    "self": "cannot refer to itself",
    "cycle": "would create a cycle",
    "pair": "write kommune:users, e.g. kristiansand:1200",
    "count": "the number of users must be a whole number of 0 or more",
}


def error(
    file: str, line: int | None, column: str, code: str, value: Any = None, /, **params: Any
) -> FieldError:
    """One of the importer's own errors, located in a file (``params`` fill the message and
    its translation; they may themselves be called ``file`` and ``line``)."""
    message = MESSAGES[code].format(value=value, **params)
    return FieldError(
        column, message, value, line=line, file=file, code=f"io.err.{code}",
        params={"value": "" if value is None else value, **params},
    )  # fmt: skip


# ---- reading a cell -----------------------------------------------------------------------------

#: Sentinel returned for an empty cell that means "not given".
ABSENT = object()
#: Excel runs a cell that starts with one of these as a formula; the exporter puts a ' in front,
#: which the importer takes off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def unguard(text: str) -> str:
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


def guard(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def _split(raw: Any) -> list[Any]:
    if isinstance(raw, dict):
        # used_by as a YAML mapping: {kristiansand: 1200}
        return [f"{k}:{'' if v is None else v}" for k, v in raw.items()]
    if isinstance(raw, list):
        return [item.strip() if isinstance(item, str) else item for item in raw]
    return [part.strip() for part in str(raw).split(_SEPARATOR)]


def cell(kind: Kind, raw: Any) -> Any:
    """The value a cell stands for; :data:`ABSENT` for "not given". A list or mapping where one
    value is expected is returned as is, for the caller to refuse."""
    if isinstance(raw, str):
        raw = unguard(raw.strip())
    if kind is Kind.LIST:
        if raw is None or raw == "":
            return ABSENT
        items = [i for i in _split(raw) if i not in ("", None)]
        return items or ABSENT
    if raw is None or raw == "":
        return {Kind.TEXT: "", Kind.NULLABLE: None}.get(kind, ABSENT)
    return raw
