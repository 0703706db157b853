"""Input and output shapes of changes and the CAB: the API, the pages and the demo judge
input by these same rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from servicedesk.changes.choices import ChangeLinkKind, ChangeState, ChangeType, Vote
from servicedesk.tickets.choices import Tlp

Text = Field(default="", max_length=20000)


class ChangeFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=4000)
    description: str | None = Field(default=None, max_length=20000)
    ci_ids: list[int] | None = Field(default=None, max_length=50)
    tlp: Tlp | None = None
    implementation_plan: str | None = Field(default=None, max_length=20000)
    test_plan: str | None = Field(default=None, max_length=20000)
    backout_plan: str | None = Field(default=None, max_length=20000)
    planned_start: AwareDatetime | None = None
    planned_end: AwareDatetime | None = None
    implementer_group_id: int | None = None
    implementer_id: int | None = None
    risk_answers: dict[str, str] | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> ChangeFields:
        if self.planned_start and self.planned_end and self.planned_end <= self.planned_start:
            raise ValueError("planned_end: the planned end must come after the planned start")
        return self


class ChangeCreate(ChangeFields):
    change_type: ChangeType = ChangeType.NORMAL
    title: str = Field(min_length=1, max_length=200)
    ci_ids: list[int] = Field(min_length=1, max_length=50)
    template_id: int | None = None
    #: The problem that leads to this change, if any.
    problem_id: int | None = None

    @model_validator(mode="after")
    def _standard_from_template(self) -> ChangeCreate:
        if self.change_type == ChangeType.STANDARD and self.template_id is None:
            raise ValueError("template_id: a standard change is made from a template")
        return self


class ChangeUpdate(ChangeFields):
    """Fields to change on a draft (only those given); ``version`` guards against a lost
    update."""

    version: int | None = None


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: ChangeState
    comment: str = Field(default="", max_length=4000)
    #: For ``closed`` after a review: what the post-implementation review found.
    review: str = Field(default="", max_length=20000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vote: Vote
    comment: str = Field(default="", max_length=4000)
    meeting_id: int | None = None

    @model_validator(mode="after")
    def _reject_says_why(self) -> DecisionIn:
        if self.vote == Vote.REJECT and not self.comment.strip():
            raise ValueError("comment: a rejection must say why")
        return self


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: int
    kind: ChangeLinkKind


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    user_id: int
    vote: str
    comment: str
    meeting_id: int | None
    decided_at: datetime


class RuleOut(BaseModel):
    code: str
    reason: str
    params: dict[str, Any]


class ChangeOut(BaseModel):
    id: int
    change_type: str
    state: str
    title: str
    reason: str
    description: str
    tlp: str
    requester_id: int | None
    implementer_id: int | None
    implementer_group_id: int | None
    template_id: int | None
    ci_ids: list[int] = []
    implementation_plan: str
    test_plan: str
    backout_plan: str
    planned_start: datetime | None
    planned_end: datetime | None
    risk: str
    risk_answers: dict[str, Any]
    review: str
    version: int
    created_at: datetime


class ChangeDetail(ChangeOut):
    kommune_ids: list[int] = []
    dependent_ci_ids: list[int] = []
    policy: str = ""
    rules: list[RuleOut] = []
    decisions: list[DecisionOut] = []
    pending: list[str] = []
    conflicts: list[int] = []
    links: list[dict[str, Any]] = []
    transitions: list[str] = []


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    valid_from: date
    valid_to: date | None = None
    rules: dict[str, Any] = {}

    @model_validator(mode="after")
    def _order(self) -> PolicyIn:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to: must not be before valid_from")
        return self


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    valid_from: date
    valid_to: date | None
    rules: dict[str, Any]


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    name: str
    description: str
    implementation_plan: str
    test_plan: str
    backout_plan: str
    active: bool


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meets_at: AwareDatetime
    title: str = Field(default="", max_length=160)


class MinutesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notes: str = Field(default="", max_length=20000)


class AgendaItemOut(BaseModel):
    change_id: int
    title: str
    state: str
    risk: str
    planned_start: datetime | None
    planned_end: datetime | None
    ci_ids: list[int]
    conflicts: list[int]
    systemeier_decisions: list[DecisionOut]
    cab_votes: list[DecisionOut]
    outcome: str


class MeetingOut(BaseModel):
    id: int
    meets_at: datetime
    title: str
    state: str
    agenda_sent_at: datetime | None
    notes: str
    agenda: list[AgendaItemOut] = []
