"""API shapes of tickets; the input rules shared by API, portal and agent pages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from register.schemas import Patch
from servicedesk.tickets.choices import (
    LinkKind,
    PendingReason,
    Status,
    TicketType,
    Tlp,
    WorkType,
)

Level = Field(ge=1, le=4)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TicketCreate(Strict):
    type: TicketType = TicketType.INCIDENT
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(default="", max_length=20000)
    kommune_id: int | None = None
    requester_id: int | None = None
    impact: int = Field(default=3, ge=1, le=4)
    urgency: int = Field(default=3, ge=1, le=4)
    category: str = Field(default="", max_length=80)
    ci_ids: list[int] = Field(default_factory=list, max_length=50)
    watcher_ids: list[int] = Field(default_factory=list, max_length=50)
    tlp: Tlp = Tlp.AMBER
    major: bool = False
    assignment_group_id: int | None = None
    catalogue_item_id: int | None = None
    form_data: dict[str, Any] = Field(default_factory=dict)
    parent_id: int | None = None


class TicketUpdate(Patch):
    """Field changes by the drift unit; ``version`` is the one the editor saw. A field left
    out stays; ``null`` empties only the kommune, the group and the assignee."""

    NULLABLE = frozenset({"kommune_id", "assignment_group_id", "assignee_id"})

    version: int
    title: str | None = Field(default=None, min_length=3, max_length=200)
    description: str | None = Field(default=None, max_length=20000)
    impact: int | None = Field(default=None, ge=1, le=4)
    urgency: int | None = Field(default=None, ge=1, le=4)
    tlp: Tlp | None = None
    category: str | None = Field(default=None, max_length=80)
    major: bool | None = None
    kommune_id: int | None = None
    assignment_group_id: int | None = None
    assignee_id: int | None = None
    ci_ids: list[int] | None = Field(default=None, max_length=50)
    root_cause: str | None = Field(default=None, max_length=20000)
    workaround: str | None = Field(default=None, max_length=20000)
    known_error: bool | None = None


class Transition(Strict):
    version: int
    status: Status
    pending_reason: PendingReason | None = None
    resolution: str = Field(default="", max_length=20000)
    comment: str = Field(default="", max_length=20000)

    @model_validator(mode="after")
    def _needs(self) -> Transition:
        if self.status == Status.PENDING and self.pending_reason is None:
            raise ValueError("pending_reason: say what the ticket waits for")
        if self.status == Status.RESOLVED and not self.resolution:
            raise ValueError("resolution: describe the resolution")
        return self


class ReplyIn(Strict):
    body: str = Field(min_length=1, max_length=20000)
    public: bool = True


class RatingIn(Strict):
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=4000)


class LinkIn(Strict):
    kind: LinkKind
    target_id: int


class WatcherIn(Strict):
    user_id: int


class TimeEntryIn(Strict):
    work_date: date
    minutes: int = Field(gt=0, le=24 * 60)
    work_type: WorkType = WorkType.OFFICE_HOURS
    billable: bool = True
    kommune_id: int | None = None
    note: str = Field(default="", max_length=2000)


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    type: str
    kommune_id: int | None
    requester_id: int | None
    title: str
    description: str
    status: str
    pending_reason: str | None
    impact: int
    urgency: int
    priority: int
    major: bool
    tlp: str
    category: str
    assignment_group_id: int | None
    assignee_id: int | None
    parent_id: int | None
    duplicate_of_id: int | None
    problem_id: int | None
    catalogue_item_id: int | None
    form_data: dict[str, Any]
    root_cause: str
    workaround: str
    known_error: bool
    resolution: str
    rating: int | None
    rating_comment: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    version: int


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    kind: str
    public: bool
    author_id: int | None
    body: str
    change: dict[str, Any]
    created_at: datetime


class TimeEntryOut(TimeEntryIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    id: int
    ticket_id: int
    user_id: int
    invoice_ref: str | None
