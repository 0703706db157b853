"""Shapes the ticket API adds to ``servicedesk.tickets.schemas``: detail views, attachments,
watchers, totals, the catalogue, approvals, groups, saved views and bulk updates, and the
problem+json error documented on every operation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from register.service import MAX_ID
from servicedesk.tickets.choices import ApprovalKind, ApprovalState, PendingReason, Status
from servicedesk.tickets.schemas import TicketOut
from servicedesk.tickets.service.catalogue_forms import FormField


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
    503: "The database or the file store cannot be reached; nothing was stored. Retry after "
    "the `Retry-After` header's seconds where given",
    507: "No room on the server to store the file; nothing was stored",
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


# ---- catalogue and approvals ----------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class CatalogueItemOut(BaseModel):
    """An orderable service and its form: order it with `form_data` holding a value for each
    field, by `name` (`POST /catalogue/items/{item_id}/orders`)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    name: str
    name_en: str
    description: str
    category: str
    fields: list[FormField]
    approval: ApprovalKind = Field(
        description="Who approves an order before work starts: `none`, `systemeier` (of the "
        "item's system) or `leader` (the requester's kommune contacts)"
    )
    ci_id: int | None
    group_id: int | None = Field(description="The assignment group orders go to")
    active: bool = Field(description="Withdrawn items (false) cannot be ordered")


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    approver_id: int
    kind: ApprovalKind
    state: ApprovalState
    comment: str
    decided_at: datetime | None
    ticket: TicketOut | None = Field(
        default=None, description="The request, as far as the caller may see it"
    )


# ---- groups, saved views and bulk updates ---------------------------------------------------


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    name: str
    email: str


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id = Field(description="An active agent of the drift unit")


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    user_id: int
    username: str
    full_name: str


_QUERY_DOC = (
    "The queue filter as a query string, as the workspace writes it: `status`, `priority`, "
    "`type`, `tlp`, `kommune`, `group` (each repeatable), `assignee` (`me`, `none` or an id), "
    "`ci` (an id or a system's key), `major=1`, `q` (full-text). Unknown keys and values are "
    "dropped; the stored form is canonical."
)


class ViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200, description="Unique among your views (at most 80 chars)")
    query: str = Field(default="", max_length=4000, description=_QUERY_DOC)


class ViewUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    query: str | None = Field(default=None, max_length=4000, description=_QUERY_DOC)


class ViewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    query: str


class BulkTicket(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: Id
    version: int = Field(description="The version you saw; a changed ticket is left alone")


class BulkIn(BaseModel):
    """One change for many tickets. A field left out is left as it is; `assignee_id` or
    `assignment_group_id` set to `null` empties it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    tickets: list[BulkTicket] = Field(min_length=1, max_length=500)
    assignee_id: Id | None = None
    assignment_group_id: Id | None = None
    impact: int | None = Field(default=None, ge=1, le=4)
    urgency: int | None = Field(default=None, ge=1, le=4)
    status: Status | None = None
    pending_reason: PendingReason | None = None
    resolution: str = Field(default="", max_length=20000)
    comment: str = Field(default="", max_length=20000)


class BulkResultOut(BaseModel):
    ticket_id: int
    status: int = Field(description="200 when applied, else why not (404, 409, 403 or 422)")
    detail: str = ""
    errors: list[FieldErrorOut] = Field(default_factory=list)


class BulkOut(BaseModel):
    applied: int = Field(description="How many tickets were changed")
    results: list[BulkResultOut]
