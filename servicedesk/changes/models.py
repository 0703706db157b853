"""Tables of change management. A change is a ``ticket`` row of type ``change`` (its number,
title, description, TLP, requester, assignee = implementer, watchers, affected systems in
``ticket_ci`` and its history in ``ticket_entry``) plus one ``change_record`` row with what
only a change has. Visibility rules are registered in :mod:`servicedesk.changes.rules`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from fellesdrift.kernel.types import UTCDateTime, utcnow


def _ts(nullable: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable)


_CHANGE_VERSION = Column("version", Integer, nullable=False, default=1)


class ChangeRecord(SQLModel, table=True):
    """What a change has beyond its ticket row (1:1, keyed by the ticket's number)."""

    __tablename__ = "change_record"
    __table_args__ = (Index("ix_change_record_state_start", "state", "planned_start"),)

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True)
    change_type: str = Field(max_length=20)
    state: str = Field(default="draft", max_length=20)
    template_id: int | None = Field(default=None, foreign_key="change_template.id")
    reason: str = Field(default="", max_length=4000)
    implementation_plan: str = Field(default="", max_length=20000)
    test_plan: str = Field(default="", max_length=20000)
    backout_plan: str = Field(default="", max_length=20000)
    planned_start: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    planned_end: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    implementer_group_id: int | None = Field(default=None, foreign_key="assignment_group.id")
    #: The risk questionnaire's answers (question -> option) and the level they give.
    risk_answers: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    risk: str = Field(default="low", max_length=10)
    #: The policy version the rules were taken from at submission (None: the built-in one).
    policy_id: int | None = Field(default=None, foreign_key="change_policy.id")
    review: str = Field(default="", max_length=20000)
    submitted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    decided_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    actual_start: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    actual_end: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    version: int = Field(default=1, sa_column=_CHANGE_VERSION)

    __mapper_args__ = {"version_id_col": _CHANGE_VERSION}


class ChangeKommune(SQLModel, table=True):
    """A kommune a change touches: it uses or owns an affected system or one that depends on
    one. Worked out from the register whenever the systems change."""

    __tablename__ = "change_kommune"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kommune_id"),
        Index("ix_change_kommune_kommune", "kommune_id", "ticket_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kommune_id: int = Field(foreign_key="kommune.id")


class ChangeDecision(SQLModel, table=True):
    """One approval or vote: a systemeier's decision, or a CAB or emergency-CAB member's vote.
    Kept for good: who, when, the vote and the comment."""

    __tablename__ = "change_decision"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=20)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    vote: str = Field(max_length=10)
    comment: str = Field(default="", max_length=4000)
    #: The CAB meeting the vote was cast for or during, if any.
    meeting_id: int | None = Field(default=None, foreign_key="cab_meeting.id")
    decided_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ChangeLink(SQLModel, table=True):
    """A change caused an incident, or a problem led to a change."""

    __tablename__ = "change_link"
    __table_args__ = (UniqueConstraint("ticket_id", "other_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    other_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ChangeTemplate(SQLModel, table=True):
    """A standard change: a pre-approved recipe, used without the CAB."""

    __tablename__ = "change_template"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)
    name: str = Field(max_length=160)
    description: str = Field(default="", max_length=4000)
    implementation_plan: str = Field(default="", max_length=20000)
    test_plan: str = Field(default="", max_length=20000)
    backout_plan: str = Field(default="", max_length=20000)
    active: bool = True


class ChangePolicy(SQLModel, table=True):
    """One version of the change policy, valid over a period (the versions do not overlap).
    ``rules`` holds the settings of :class:`servicedesk.changes.policy.PolicySettings`."""

    __tablename__ = "change_policy"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    valid_from: date
    valid_to: date | None = None
    rules: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CabMeeting(SQLModel, table=True):
    """A meeting of the change-advisory board."""

    __tablename__ = "cab_meeting"

    id: int | None = Field(default=None, primary_key=True)
    meets_at: datetime = Field(sa_column=_ts())
    title: str = Field(default="", max_length=160)
    state: str = Field(default="planned", max_length=20)
    agenda_sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    notes: str = Field(default="", max_length=20000)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")


class CabAgendaItem(SQLModel, table=True):
    """A change on a meeting's agenda; ``outcome`` is what the minutes record for it."""

    __tablename__ = "cab_agenda_item"
    __table_args__ = (UniqueConstraint("meeting_id", "ticket_id"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="cab_meeting.id", index=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    position: int = 0
    outcome: str = Field(default="", max_length=20)
    minute: str = Field(default="", max_length=4000)
