"""The service desk's logic: plain functions taking a session bound to a principal."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session, SQLModel

from fellesdrift.kernel.problems import not_found

M = TypeVar("M", bound=SQLModel)

#: Names of tables as people read them, for messages.
LABELS = {
    "Kommune": "Kommune",
    "KommuneContact": "Contact",
    "Site": "Site",
    "User": "User",
    "ConfigItem": "System",
    "ApiToken": "API token",
}


#: The largest id an ``id`` column holds (PostgreSQL ``integer``); a larger one names nothing.
MAX_ID = 2**31 - 1


def get_visible(session: Session, model: type[M], obj_id: object) -> M:
    """The row if the session's principal may see it, else 404 (never 403: no existence leak)."""
    if isinstance(obj_id, int) and not 0 <= obj_id <= MAX_ID:
        # No such row, and the database would refuse the number (a 500) rather than say so.
        raise not_found(f"{LABELS.get(model.__name__, model.__name__)} {obj_id}")
    obj = session.get(model, obj_id)
    if obj is None:
        raise not_found(f"{LABELS.get(model.__name__, model.__name__)} {obj_id}")
    return obj


def apply_changes(obj: SQLModel, changes: dict[str, object]) -> list[str]:
    """Set the given attributes; returns 'field: old -> new' lines for the audit trail."""
    lines = []
    for name, value in changes.items():
        old = getattr(obj, name)
        if old != value:
            setattr(obj, name, value)
            lines.append(f"{name}: {old!r} -> {value!r}")
    return lines
