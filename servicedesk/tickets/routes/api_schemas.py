"""Shapes the ticket API adds to ``servicedesk.tickets.schemas``: detail views, attachments,
watchers, totals, and the problem+json error documented on every operation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from servicedesk.tickets.choices import Status
from servicedesk.tickets.schemas import TicketOut


class FieldErrorOut(BaseModel):
    field: str = Field(description="The input that was wrong, e.g. `title` or `file`")
    message: str
    value: Any = None


class ProblemOut(BaseModel):
    """An RFC 9457 problem (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What was wrong, for people")
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="One entry per wrong input field (422)"
    )


_DESCRIPTIONS = {
    401: "No valid API token or session",
    403: "The token's scope or the caller's role does not allow this",
    404: "No such object, or the caller may not see it (never 403: nothing leaks)",
    409: "Conflict: a stale `version`, an invalid transition or a locked object",
    413: "The upload is larger than the configured limit (named in `detail`)",
    422: "Invalid input; `errors` names each wrong field",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses (401/403/422 always)."""
    wanted = sorted({401, 403, 422, *statuses})
    return {
        status: {
            "model": ProblemOut,
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {}},
        }
        for status in wanted
    }


class TicketDetail(TicketOut):
    """A ticket with its affected systems, watchers and what the caller may do next."""

    ci_ids: list[int] = Field(default_factory=list)
    watcher_ids: list[int] = Field(default_factory=list)
    transitions: list[Status] = Field(
        default_factory=list, description="The statuses the caller may move the ticket to"
    )


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    entry_id: int | None
    filename: str = Field(description="For display only; the file is stored under another name")
    content_type: str
    size: int
    sha256: str
    public: bool
    uploaded_by_id: int | None
    created_at: datetime


class WatcherOut(BaseModel):
    user_id: int
    full_name: str | None = Field(
        default=None, description="Shown when the caller may see the user"
    )


class TimeTotalOut(BaseModel):
    """Minutes summed in the database: exact, so totals per kommune and month add up."""

    kommune_id: int | None
    month: str = Field(description="YYYY-MM")
    work_type: str
    billable: bool
    minutes: int


class TimeTotals(BaseModel):
    start: date
    end: date
    kommune_id: int | None
    items: list[TimeTotalOut]
    minutes: int = Field(description="The sum of every item")
