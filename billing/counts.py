"""Monthly counts for category 3 (and the counted keys of category 1).

Counts come from the registers (the kommune's active user accounts; users of each system from
the systems register) or from an imported count file, e.g. an AD export. Each is stored as a
snapshot per month, kommune, kind and system, with the counted items behind it for the
specification. A snapshot that has been invoiced is locked: it can no longer be replaced.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from billing.choices import CountKind, CountSource, RunState
from billing.errors import conflict, fault
from billing.models import CountItem, CountSnapshot, InvoiceLine, InvoiceRun
from billing.numbering import today_in_oslo
from billing.permissions import require_billing_admin
from fellesdrift.kernel.problems import FieldError, invalid
from fellesdrift.kernel.types import utcnow
from register.access import elevated
from register.models import CIUsage, ConfigItem, Kommune, User
from register.service.audit import record

#: Bulk statements: the session holds none of these rows, so there is nothing to synchronise.
BULK = {"synchronize_session": False}
Key = tuple[int, str, str]  # kommune id, kind, subject (system key for licences)


@dataclass
class Counted:
    """What one snapshot will hold: the quantity and the items behind it."""

    quantity: int = 0
    items: list[tuple[str, str]] = field(default_factory=list)


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def require_ended(month: date, today: date | None = None) -> date:
    """The month's first day, or a 422 if the month has not ended yet (in Norway): a month is
    counted and billed once, when it is over, so nothing of it is left out."""
    month = first_of_month(month)
    today = today or today_in_oslo()
    # Compared by (year, month): the month after December 9999 is no date.
    if (month.year, month.month) >= (today.year, today.month):
        raise invalid(
            fault(
                "month",
                "month_not_ended",
                "{month} has not ended; a month is counted and billed after its last day",
                f"{month:%Y-%m}",
                month=f"{month:%Y-%m}",
            )
        )
    return month


def _replace(
    session: Session, month: date, counted: dict[Key, Counted], source: CountSource, name: str
) -> int:
    """Store the snapshots, replacing those of the same keys; refuses locked ones, and any
    count of a month already issued (a new kind too: the month's invoices are final)."""
    run = session.exec(select(InvoiceRun).where(InvoiceRun.month == month)).first()
    if run is not None and run.state == RunState.ISSUED:
        raise conflict(
            "count_month_issued",
            "{month} is invoiced; its counts are final (correct it with a credit note)",
            month=f"{month:%Y-%m}",
        )
    existing = session.exec(select(CountSnapshot).where(CountSnapshot.month == month)).all()
    by_key = {(s.kommune_id, s.kind, s.subject): s for s in existing}
    for key in counted:
        old = by_key.get(key)
        if old is not None and old.locked_run_id is not None:
            raise conflict(
                "count_locked",
                "the {kind} count of {month} for kommune {kommune} is invoiced and locked",
                kind=key[1],
                month=f"{month:%Y-%m}",
                kommune=key[0],
            )
    old_ids = [by_key[k].id for k in counted if k in by_key]
    if old_ids:
        # A draft that billed a replaced snapshot is stale (issuing it is refused); its lines
        # let go of the snapshot so it can be replaced.
        session.execute(
            sa.update(InvoiceLine)
            .where(col(InvoiceLine.snapshot_id).in_(old_ids))
            .values(snapshot_id=None),
            execution_options=BULK,
        )
        session.execute(
            sa.delete(CountItem).where(col(CountItem.snapshot_id).in_(old_ids)),
            execution_options=BULK,
        )
        session.execute(
            sa.delete(CountSnapshot).where(col(CountSnapshot.id).in_(old_ids)),
            execution_options=BULK,
        )
    return _insert(session, month, counted, source, name)


def _insert(
    session: Session, month: date, counted: dict[Key, Counted], source: CountSource, name: str
) -> int:
    now = utcnow()
    items = 0
    for (kommune_id, kind, subject), c in sorted(counted.items()):
        snap_id = session.execute(
            sa.insert(CountSnapshot).returning(col(CountSnapshot.id)),
            {
                "month": month,
                "kommune_id": kommune_id,
                "kind": kind,
                "subject": subject,
                "quantity": c.quantity,
                "source": source.value,
                "source_name": name[:200],
                "taken_at": now,
            },
        ).scalar_one()
        if c.items:
            rows = [
                {"snapshot_id": snap_id, "label": label[:200], "external_id": ext[:120]}
                for label, ext in sorted(c.items)
            ]
            session.execute(sa.insert(CountItem), rows)
            items += len(rows)
    return items


def _register_counts(session: Session) -> dict[Key, Counted]:
    counted: dict[Key, Counted] = defaultdict(Counted)
    users = session.exec(
        select(User).where(col(User.active).is_(True), col(User.kommune_id).is_not(None))
    )
    for user in users:
        c = counted[(user.kommune_id, CountKind.USER_ACCOUNTS.value, "")]  # type: ignore[index]
        c.quantity += 1
        c.items.append((user.full_name or user.username, user.username))
    usage = session.exec(select(CIUsage, ConfigItem).join(ConfigItem))
    for use, ci in usage:
        if use.users_count:
            counted[(use.kommune_id, CountKind.LICENCES.value, ci.key)].quantity += use.users_count
    return counted


def snapshot_registers(session: Session, month: date) -> int:
    """Snapshot the month's user accounts and system users from the registers; returns the
    number of snapshots stored."""
    require_billing_admin(session)
    month = require_ended(month)
    with elevated(session, "billing: count snapshot"):
        counted = _register_counts(session)
        _replace(session, month, counted, CountSource.REGISTER, "register")
    record(session, "snapshot", "count_snapshot", f"{month:%Y-%m}", None, f"{len(counted)} counts")
    return len(counted)


# ---- count files ---------------------------------------------------------------------------

_KOMMUNE_COLUMNS = ("kommune", "company", "kommunenummer")
_LABEL_COLUMNS = ("label", "displayname", "name", "navn")
_ID_COLUMNS = ("id", "samaccountname", "userprincipalname", "serial")


def _kommune_index(session: Session) -> dict[str, int]:
    index: dict[str, int] = {}
    for k in session.exec(select(Kommune)):
        assert k.id is not None
        for name in (k.slug, k.kommunenummer, k.name, k.orgnr):
            index[name.strip().casefold()] = k.id
    return index


def _column(header: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((header[n] for n in names if n in header), None)


@dataclass
class _CountFile:
    counted: dict[Key, Counted] = field(default_factory=lambda: defaultdict(Counted))
    errors: list[FieldError] = field(default_factory=list)


def _read_row(
    out: _CountFile,
    row: dict[str, str],
    line: int,
    cols: dict[str, str | None],
    ctx: tuple[dict[str, int], CountKind | None, str],
) -> None:
    kommuner, default_kind, filename = ctx
    raw_kommune = (row.get(cols["kommune"] or "") or "").strip()
    kommune_id = kommuner.get(raw_kommune.casefold())
    if kommune_id is None:
        out.errors.append(
            fault(
                "kommune",
                "unknown_kommune",
                "unknown kommune",
                raw_kommune,
                line=line,
                file=filename,
            )
        )
        return
    raw_kind = (row.get(cols["kind"] or "") or "").strip() or (default_kind or "")
    try:
        kind = CountKind(raw_kind)
    except ValueError:
        allowed = ", ".join(k.value for k in CountKind)
        out.errors.append(
            fault(
                "kind",
                "unknown_kind",
                "unknown kind; use {allowed}",
                raw_kind,
                line=line,
                file=filename,
                allowed=allowed,
            )
        )
        return
    subject = (row.get(cols["system"] or "") or "").strip() if kind == CountKind.LICENCES else ""
    if kind == CountKind.LICENCES and not subject:
        out.errors.append(
            fault(
                "system",
                "licence_row_system",
                "a licence row names its system",
                line=line,
                file=filename,
            )
        )
        return
    quantity_text = (row.get(cols["quantity"] or "") or "1").strip()
    if not quantity_text.isdigit():
        out.errors.append(
            fault(
                "quantity",
                "not_whole",
                "not a whole number",
                quantity_text,
                line=line,
                file=filename,
            )
        )
        return
    c = out.counted[(kommune_id, kind.value, subject)]
    c.quantity += int(quantity_text)
    label = (row.get(cols["label"] or "") or "").strip()
    ext = (row.get(cols["id"] or "") or "").strip()
    if label or ext:
        c.items.append((label or ext, ext))


def parse_count_file(
    session: Session, text: str, filename: str, kind: CountKind | None = None
) -> dict[Key, Counted]:
    """Read a CSV count file (``,`` or ``;``): one row per counted item, or rows with a
    ``quantity``. Columns: kommune (slug, number, name or orgnr), kind (or ``kind`` given for
    the whole file), system (licences), label and id (the item, for the specification)."""
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    header = {h.strip().casefold(): h for h in reader.fieldnames or []}
    cols = {
        "kommune": _column(header, _KOMMUNE_COLUMNS),
        "kind": _column(header, ("kind", "type")),
        "system": _column(header, ("system",)),
        "quantity": _column(header, ("quantity", "antall")),
        "label": _column(header, _LABEL_COLUMNS),
        "id": _column(header, _ID_COLUMNS),
    }
    if cols["kommune"] is None:
        raise invalid(
            fault(
                "kommune",
                "no_kommune_column",
                "the file has no kommune column",
                line=1,
                file=filename,
            )
        )
    out = _CountFile()
    ctx = (_kommune_index(session), kind, filename)
    for line, row in enumerate(reader, start=2):
        _read_row(out, row, line, cols, ctx)
    if out.errors:
        raise invalid(out.errors[:50], f"nothing was imported: {out.errors[0]}")
    return out.counted


def import_count_file(
    session: Session, month: date, text: str, filename: str, kind: CountKind | None = None
) -> int:
    """Import a count file for ``month``; all rows or none. Returns the items stored."""
    require_billing_admin(session)
    month = require_ended(month)
    with elevated(session, "billing: count file"):
        counted = parse_count_file(session, text, filename, kind)
        items = _replace(session, month, counted, CountSource.FILE, filename)
    record(session, "import", "count_snapshot", f"{month:%Y-%m}", None, f"{filename}: {items}")
    return items


def counts_of(session: Session, month: date) -> dict[Key, int]:
    """The month's snapshot quantities by (kommune id, kind, subject)."""
    rows = session.exec(select(CountSnapshot).where(CountSnapshot.month == first_of_month(month)))
    return {(s.kommune_id, s.kind, s.subject): s.quantity for s in rows}
