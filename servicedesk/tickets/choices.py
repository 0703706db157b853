"""Enumerations of tickets, each value with its label key in the string catalogue."""

from __future__ import annotations

from enum import StrEnum


class TicketType(StrEnum):
    INCIDENT = "incident"
    REQUEST = "request"
    PROBLEM = "problem"


#: The ticket types the service desk's own views show: queues, lists, counts, search, the
#: portal and the ticket metrics. Packages built on tickets keep other work in the same table
#: (a change is a ticket of type ``change``) and show it on their own pages.
DESK_TYPES: tuple[str, ...] = tuple(t.value for t in TicketType)
#: The page of each other type's records, by type (``{id}`` the ticket's number), registered by
#: the package that owns the type: the agent's ticket page sends such a record there, and the
#: ticket services refuse to move or edit it (its own package moves it by its own rules).
OWN_PAGES: dict[str, str] = {}


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset({Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING})
DONE_STATUSES = frozenset({Status.RESOLVED, Status.CLOSED, Status.CANCELLED})


class PendingReason(StrEnum):
    USER = "user"
    VENDOR = "vendor"
    CHANGE = "change"
    APPROVAL = "approval"


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 labels."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class EntryKind(StrEnum):
    REPLY = "reply"  # public, seen by the requester
    NOTE = "note"  # internal, drift unit and systemeiere only
    STATUS = "status"
    FIELD = "field"
    SYSTEM = "system"


class LinkKind(StrEnum):
    DUPLICATE_OF = "duplicate_of"
    CAUSED_BY = "caused_by"  # incident caused by problem
    PARENT = "parent"  # mass outage: child -> parent


class WorkType(StrEnum):
    OFFICE_HOURS = "office_hours"
    AFTER_HOURS = "after_hours"


class ApprovalKind(StrEnum):
    NONE = "none"
    SYSTEMEIER = "systemeier"
    LEADER = "leader"


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry; shown to admins


#: Impact 1 (extensive) .. 4 (minor) x urgency 1 (critical) .. 4 (low) -> priority 1..4.
DEFAULT_PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (1, 1): 1, (1, 2): 1, (1, 3): 2, (1, 4): 3,
    (2, 1): 1, (2, 2): 2, (2, 3): 2, (2, 4): 3,
    (3, 1): 2, (3, 2): 2, (3, 3): 3, (3, 4): 4,
    (4, 1): 3, (4, 2): 3, (4, 3): 4, (4, 4): 4,
}  # fmt: skip
