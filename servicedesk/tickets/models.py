"""Tables of the service desk: tickets (incidents, requests, problems) and what hangs on them.

Visibility rules for every table here are registered in ``servicedesk.tickets.rules``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel, col

from fellesdrift.kernel.types import UTCDateTime, utcnow
from servicedesk.tickets.choices import DESK_TYPES


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Group(SQLModel, table=True):
    """An assignment group (team) of the drift unit, with its own queue."""

    __tablename__ = "assignment_group"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=60, unique=True)
    name: str = Field(max_length=120)
    email: str = Field(default="", max_length=200)
    #: The group's lead: told when an SLA clock of the group's tickets nears or passes its due
    #: time.
    lead_id: int | None = Field(default=None, foreign_key="app_user.id")


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_member"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="assignment_group.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)


class CatalogueItem(SQLModel, table=True):
    """An orderable service (new account, access to a fagsystem, new PC) with its own form."""

    __tablename__ = "catalogue_item"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)
    name: str = Field(max_length=160)
    name_en: str = Field(default="", max_length=160)
    description: str = Field(default="", max_length=4000)
    category: str = Field(default="", max_length=80)
    #: Form fields: [{"name", "label", "label_en", "type": text|textarea|select|date|number,
    #: "required", "options"}]
    fields: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    approval: str = Field(default="none", max_length=20)
    ci_id: int | None = Field(default=None, foreign_key="config_item.id")
    group_id: int | None = Field(default=None, foreign_key="assignment_group.id")
    active: bool = True


_TICKET_VERSION = Column("version", Integer, nullable=False, default=1)


class Ticket(SQLModel, table=True):
    """An incident, a service request or a problem."""

    __table_args__ = (
        Index("ix_ticket_queue", "assignment_group_id", "status", "priority", "id"),
        Index("ix_ticket_status_priority", "status", "priority", "id"),
        Index("ix_ticket_kommune_status", "kommune_id", "status", "id"),
        Index("ix_ticket_assignee_status", "assignee_id", "status", "id"),
        Index("ix_ticket_requester", "requester_id", "id"),
        # The agent workspace's queues: one ordered (priority, id) range per status, so a page
        # of 50 is read straight from an index (servicedesk.tickets.service.queues).
        Index("ix_ticket_assignee_queue", "assignee_id", "status", "priority", "id"),
        Index("ix_ticket_kommune_queue", "kommune_id", "status", "priority", "id"),
        # IS NULL gives no index order in PostgreSQL; a partial index does.
        Index(
            "ix_ticket_unassigned_queue",
            "status",
            "priority",
            "id",
            postgresql_where=text("assignee_id IS NULL"),
            sqlite_where=text("assignee_id IS NULL"),
        ),
        Index(
            "ix_ticket_major_queue",
            "status",
            "priority",
            "id",
            postgresql_where=text("major"),
            sqlite_where=text("major"),
        ),
        # "Duplicates of this ticket" on the agent's ticket page; few tickets have one.
        Index(
            "ix_ticket_duplicate_of",
            "duplicate_of_id",
            postgresql_where=text("duplicate_of_id IS NOT NULL"),
            sqlite_where=text("duplicate_of_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=20, index=True)
    #: The kommune the ticket belongs to; None for the drift unit's own or shared tickets
    #: (problems, a mass outage's parent).
    kommune_id: int | None = Field(default=None, foreign_key="kommune.id")
    requester_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=20000)
    status: str = Field(default="new", max_length=20)
    pending_reason: str | None = Field(default=None, max_length=20)
    impact: int = Field(default=3, ge=1, le=4)
    urgency: int = Field(default=3, ge=1, le=4)
    priority: int = Field(default=3, ge=1, le=4)
    major: bool = False
    tlp: str = Field(default="amber", max_length=10)
    category: str = Field(default="", max_length=80)
    assignment_group_id: int | None = Field(default=None, foreign_key="assignment_group.id")
    assignee_id: int | None = Field(default=None, foreign_key="app_user.id")
    parent_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    duplicate_of_id: int | None = Field(default=None, foreign_key="ticket.id")
    problem_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    catalogue_item_id: int | None = Field(default=None, foreign_key="catalogue_item.id")
    form_data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Problems
    root_cause: str = Field(default="", max_length=20000)
    workaround: str = Field(default="", max_length=20000)
    known_error: bool = False
    # Resolution and feedback
    resolution: str = Field(default="", max_length=20000)
    rating: int | None = Field(default=None, ge=1, le=5)
    rating_comment: str = Field(default="", max_length=4000)
    reopen_count: int = 0
    #: Alertmanager fingerprint when an alert opened the ticket (one ticket per alert).
    alert_fingerprint: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    first_response_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    #: Optimistic locking: every update bumps it; a stale update is refused (409).
    version: int = Field(default=1, sa_column=_TICKET_VERSION)

    __mapper_args__ = {"version_id_col": _TICKET_VERSION}


class TicketCI(SQLModel, table=True):
    """A configuration item affected by a ticket."""

    __tablename__ = "ticket_ci"
    __table_args__ = (
        UniqueConstraint("ticket_id", "ci_id"),
        # A CI's tickets without visiting the table (the agent queue's CI filter).
        Index("ix_ticket_ci_ci_ticket", "ci_id", "ticket_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    ci_id: int = Field(foreign_key="config_item.id", index=True)


class TicketWatcher(SQLModel, table=True):
    """Someone the ticket is shared with: they follow it and, under TLP:RED, are one of its
    named participants."""

    __tablename__ = "ticket_watcher"
    __table_args__ = (UniqueConstraint("ticket_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)


class TicketEntry(SQLModel, table=True):
    """One event on a ticket's timeline: a reply, an internal note, a change. Append-only."""

    __tablename__ = "ticket_entry"
    __table_args__ = (Index("ix_ticket_entry_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    kind: str = Field(max_length=20)
    public: bool = True
    author_id: int | None = Field(default=None, foreign_key="app_user.id")
    body: str = Field(default="", max_length=20000)
    #: For changes: {"field": ..., "old": ..., "new": ...}
    change: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Attachment(SQLModel, table=True):
    """A file on a ticket, stored outside the web root under a generated name."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    entry_id: int | None = Field(default=None, foreign_key="ticket_entry.id")
    filename: str = Field(max_length=200)
    stored_name: str = Field(max_length=64, unique=True)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    public: bool = True
    uploaded_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Approval(SQLModel, table=True):
    """An approval a service request waits for before work starts."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    approver_id: int = Field(foreign_key="app_user.id", index=True)
    kind: str = Field(max_length=20)
    state: str = Field(default="pending", max_length=20)
    comment: str = Field(default="", max_length=4000)
    decided_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class TimeEntry(SQLModel, table=True):
    """Time worked on a ticket; billable entries are billing's category 4."""

    __tablename__ = "time_entry"
    __table_args__ = (Index("ix_time_entry_kommune_date", "kommune_id", "work_date"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    work_date: date
    minutes: int = Field(gt=0, le=24 * 60)
    work_type: str = Field(default="office_hours", max_length=20)
    billable: bool = True
    #: The kommune charged: the ticket's by default, chosen for shared tickets.
    kommune_id: int | None = Field(default=None, foreign_key="kommune.id")
    note: str = Field(default="", max_length=2000)
    #: Set when invoiced; the entry is then locked.
    invoice_ref: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Notification(SQLModel, table=True):
    """The outbox: every message is stored first and sent by a job, retried until it goes."""

    __table_args__ = (Index("ix_notification_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    email: str = Field(max_length=200)
    subject: str = Field(max_length=300)
    body: str = Field(max_length=20000)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    reason: str = Field(default="", max_length=40)
    state: str = Field(default="pending", max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_error: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class SavedView(SQLModel, table=True):
    """An agent's saved queue filter."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=80)
    query: str = Field(max_length=2000)


class PriorityRule(SQLModel, table=True):
    """The configurable impact x urgency -> priority matrix."""

    __tablename__ = "priority_rule"
    __table_args__ = (UniqueConstraint("impact", "urgency"),)

    id: int | None = Field(default=None, primary_key=True)
    impact: int = Field(ge=1, le=4)
    urgency: int = Field(ge=1, le=4)
    priority: int = Field(ge=1, le=4)


def desk_ticket() -> Any:
    """The criterion of the service desk's own tickets (incidents, requests, problems), which
    its views add so that other work kept as tickets (changes) stays on its own pages."""
    return col(Ticket.type).in_(DESK_TYPES)
