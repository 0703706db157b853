"""Import and export of kommuner, sites, users and systems (CIs) as YAML or CSV.

Formats
-------
YAML: one document with the top-level keys ``kommuner``, ``sites``, ``users`` and ``cis``, each a
list of entries. A system's monitoring targets sit in its entry under ``monitoring``.

CSV: one file per entity, named for what it holds: ``kommuner.csv``, ``sites.csv``,
``users.csv``, ``cis.csv``, ``monitoring.csv`` (a prefix is fine: ``2026-users.csv``; Norwegian
names too: ``brukere.csv``, ``systemer.csv``). UTF-8 with or without a BOM; ',' or ';' between
cells (Excel with Norwegian settings writes ';'). Cells that hold lists separate the entries with
';': ``roles`` = ``end_user;kommune_contact``, ``used_by`` = ``kristiansand:1200;vennesla:300``.

The columns are in :mod:`register.service.io.formats`; the values follow the API's input
schemas. Rows are matched on natural keys, never database ids: a kommune by ``kommunenummer``
(a reference may also use its slug), a site by kommune and ``code``, a user by ``username``, a
system by ``key``, a monitoring target by system, probe and target.

Rules
-----
* An import creates what is missing and updates what differs; it never deletes. A column left
  out (or an empty cell where the field has a default) keeps the stored value. Lists of links
  (administrators, runs_on, depends_on, used_by, monitoring targets) are added to; the single
  systemeier is replaced.
* All or nothing: every entry is checked first and every problem is reported with its file,
  line (CSV: the physical line, the header being line 1; YAML: the line where the entry
  starts), column and value. Only an import without problems writes, in one transaction,
  through the same service functions as the API (access checks and audit trail included).
* Importing the same files again changes nothing and records nothing.
* Passwords are never imported or exported: imported people have no password until an admin
  sets one (``fellesdrift user set-password`` or the user's page), or they sign in through SSO.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlmodel import Session

from fellesdrift.kernel.problems import FieldError, forbidden, invalid
from register.access import principal_of
from register.service.io.export import FORMATS, YAML_NAME, ZIP_NAME, export_data, zip_files
from register.service.io.formats import (
    ENTITIES,
    EXTENSIONS,
    Entity,
    display_name,
    entity_named,
)
from register.service.io.plan import Planner
from register.service.io.readers import Record, read_file
from register.service.io.register import Register
from register.service.io.report import Counts, ImportRejected, ImportReport
from register.service.io.writer import Writer

__all__ = [
    "ENTITY_NAMES",
    "EXTENSIONS",
    "FORMATS",
    "YAML_NAME",
    "ZIP_NAME",
    "Counts",
    "ImportRejected",
    "ImportReport",
    "Source",
    "export_data",
    "import_files",
    "zip_files",
]

ENTITY_NAMES = tuple(e.name for e in ENTITIES)
#: A file to import: a path on disk, or (file name, content) as uploaded.
Source = Path | str | tuple[str, bytes]


def _load(source: Source) -> tuple[str, bytes]:
    if isinstance(source, tuple):
        name, data = source
        return display_name(name), data
    path = Path(source)
    return path.name, path.read_bytes()


def import_files(
    session: Session, sources: Sequence[Source], dry_run: bool = False, entity: str | None = None
) -> ImportReport:
    """Import the files into the register, or with ``dry_run`` only say what that would do.

    Raises :class:`ImportRejected` (422, every error with file and line) when anything is wrong;
    then nothing is stored. ``entity`` names what a CSV holds when its file name does not say
    (``kommuner``, ``sites``, ``users``, ``cis``, ``monitoring``). The session must be bound to
    an admin (the CLI uses ``Principal.system()``); the caller commits.
    """
    if not principal_of(session).is_admin:
        raise forbidden("Only administrators can import")
    hint = entity_named(entity) if entity else None
    if entity and hint is None:
        names = ", ".join(e.name for e in ENTITIES)
        raise invalid(FieldError("entity", f"use one of {names}", entity))
    files = [_load(source) for source in sources]
    records, errors = _read_all(files, hint)
    register = Register.load(session)
    plan = Planner(register).plan(records)
    errors += plan.errors
    if errors:
        raise ImportRejected(_in_file_order(errors, [name for name, _ in files]))
    outer = session.begin_nested()
    try:
        errors = Writer(session, plan, register).run()
    except BaseException:
        outer.rollback()
        raise
    if errors or dry_run:
        outer.rollback()
    else:
        outer.commit()
    if errors:
        raise ImportRejected(_in_file_order(errors, [name for name, _ in files]))
    report = ImportReport(dry_run=dry_run, files=[name for name, _ in files])
    for name, items in plan.items.items():
        for item in items.values():
            report.entities[name].add(item.status)
    return report


def _read_all(
    files: list[tuple[str, bytes]], hint: Entity | None
) -> tuple[list[Record], list[FieldError]]:
    """Read every file; a file that cannot be read at all stops the import before the checks
    (its entries would otherwise show up as missing references everywhere)."""
    records: list[Record] = []
    errors: list[FieldError] = []
    unreadable = False
    for name, data in files:
        result = read_file(name, data, hint)
        records += result.records
        errors += result.errors
        unreadable = unreadable or result.unreadable
    if unreadable:
        raise ImportRejected(_in_file_order(errors, [name for name, _ in files]))
    return records, errors


def _in_file_order(errors: list[FieldError], names: list[str]) -> list[FieldError]:
    order = {name: i for i, name in reversed(list(enumerate(names)))}
    return sorted(errors, key=lambda e: (order.get(e.file or "", 0), e.line or 0))
