"""Reading portal pages: the shared page helpers plus the portal's own checks."""

from __future__ import annotations

import re
from typing import Any

from tests.pages.helpers import RAW_KEY, error_summary, field_error, h1, input_value, text

__all__ = [
    "error_summary",
    "field_error",
    "h1",
    "ident",
    "input_value",
    "page",
    "text",
    "ticket_id",
]

PORTAL_KEY = re.compile(r"(?<![\w@.-])(?:portal|notify|ok)\.[A-Za-z_][\w.]*")


def page(response: Any, heading: str | None = None, status: int = 200) -> str:
    """The page rendered with ``status`` (and this h1), without leaked catalogue keys."""
    assert response.status_code == status, response.text[:3000]
    html: str = response.text
    if heading is not None:
        assert h1(html) == heading
    else:
        h1(html)  # exactly one
    shown = text(html)
    leaked = RAW_KEY.findall(shown) + PORTAL_KEY.findall(shown)
    assert not leaked, f"untranslated keys on the page: {leaked}"
    return html


def ticket_id(response: Any) -> int:
    """The ticket number from the redirect to the receipt (step 3)."""
    assert response.status_code == 303, response.text[:3000]
    match = re.fullmatch(r"/saker/(\d+)/mottatt", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def ident(row: Any) -> int:
    """The id of a stored row (never None once flushed)."""
    assert row.id is not None
    return int(row.id)
