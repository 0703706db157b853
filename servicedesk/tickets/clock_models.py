"""The SLA clocks of tickets: two per ticket (response and resolution) and their append-only
history. The rules that move them are ``sla.clock``'s; ``service.clocks`` applies them.

Each clock carries a copy of its service level (``spec``: calendar, closed days, targets per
priority, pause reasons, thresholds), so a later change of the agreement never moves a running
clock, and the rules need nothing else. Access rules: ``servicedesk.tickets.clock_rules``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from fellesdrift.kernel.types import UTCDateTime, utcnow


def _ts(nullable: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable)


class TicketClock(SQLModel, table=True):
    __tablename__ = "ticket_clock"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind"),
        # The escalation job's work list: running clocks whose next threshold has come.
        Index(
            "ix_ticket_clock_next_check",
            "next_check_at",
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
        # The SLA queue: running clocks by due time.
        Index(
            "ix_ticket_clock_due",
            "due_at",
            postgresql_where=text("state = 'running'"),
            sqlite_where=text("state = 'running'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    #: ``response`` or ``resolution`` (``sla.clock.ClockKind``).
    kind: str = Field(max_length=12)
    #: Copied from the ticket for the counts by kommune and priority (metrics, reports).
    kommune_id: int | None = Field(default=None, foreign_key="kommune.id")
    priority: int
    agreement: str = Field(default="", max_length=120)
    level: str = Field(default="", max_length=60)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    target_seconds: int
    started_at: datetime = Field(sa_column=_ts())
    due_at: datetime = Field(sa_column=_ts())
    #: ``running``, ``paused`` or ``met`` (``sla.clock.ClockStateName``).
    state: str = Field(default="running", max_length=10)
    paused_since: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    paused_seconds: float = 0.0
    met_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    #: When the clock breached (its due time then); recorded once, never undone.
    breached_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    #: The highest warning threshold (percent) notified; each threshold warns once.
    warned_pct: int = 0
    #: When the escalation job next has something to do (None: nothing left).
    next_check_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class TicketClockEvent(SQLModel, table=True):
    """One event of a clock (the ticket's ``kind`` clock): start, pause, resume, met, breached,
    recomputed, warned, stopped. ``due_at`` is the clock's due time after the event."""

    __tablename__ = "ticket_clock_event"
    __table_args__ = (Index("ix_ticket_clock_event_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    kind: str = Field(max_length=12)
    event: str = Field(max_length=12)
    at: datetime = Field(sa_column=_ts())
    due_at: datetime = Field(sa_column=_ts())
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
