"""Keyset pagination: stable pages at any depth, unlike OFFSET."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlmodel import Session

from fellesdrift.kernel.problems import FieldError, invalid

T = TypeVar("T")


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError):
        raise invalid(FieldError("after", "is not a cursor returned by this API", cursor)) from None


def keyset_page(
    session: Session, stmt: Select[Any], id_column: Any, limit: int, after: str | None
) -> tuple[Sequence[Any], str | None]:
    """One page of ``stmt`` ordered by ``id_column``; returns the rows and the next cursor."""
    if after:
        last = decode_cursor(after)
        if not isinstance(last, int):
            raise invalid(FieldError("after", "is not a cursor returned by this API", after))
        stmt = stmt.where(id_column > last)
    rows = session.exec(stmt.order_by(id_column).limit(limit + 1)).all()  # type: ignore[call-overload]
    if len(rows) > limit:
        rows = rows[:limit]
        last_row = rows[-1]
        return rows, encode_cursor(last_row.id)
    return rows, None
