"""Enumerations of changes and the CAB, each value with its label key in the catalogue."""

from __future__ import annotations

from enum import StrEnum

#: The ticket type of a change record (tickets and changes share one numbering).
CHANGE_TICKET_TYPE = "change"


class ChangeType(StrEnum):
    STANDARD = "standard"  # a pre-approved recipe (template): no CAB
    NORMAL = "normal"
    EMERGENCY = "emergency"


class ChangeState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ASSESSMENT = "assessment"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    FAILED = "failed"
    BACKED_OUT = "backed_out"
    REVIEW = "review"
    CLOSED = "closed"
    CANCELLED = "cancelled"


#: States in which a change still holds its window (conflicts are looked for among these).
LIVE_STATES = frozenset(
    {
        ChangeState.SUBMITTED,
        ChangeState.ASSESSMENT,
        ChangeState.AWAITING_APPROVAL,
        ChangeState.APPROVED,
        ChangeState.SCHEDULED,
        ChangeState.IN_PROGRESS,
    }
)
FINAL_STATES = frozenset({ChangeState.CLOSED, ChangeState.CANCELLED, ChangeState.REJECTED})


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class DecisionKind(StrEnum):
    SYSTEMEIER = "systemeier"
    CAB = "cab"
    ECAB = "ecab"  # the emergency CAB


class Vote(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ABSTAIN = "abstain"


class ChangeLinkKind(StrEnum):
    CAUSED_INCIDENT = "caused_incident"  # this change caused the incident
    FROM_PROBLEM = "from_problem"  # the problem led to this change


class MeetingState(StrEnum):
    PLANNED = "planned"
    AGENDA_SENT = "agenda_sent"
    HELD = "held"  # minutes recorded


class RuleCode(StrEnum):
    """What the policy can require of a change; the change page names each with its reason."""

    SYSTEMEIER_APPROVAL = "systemeier_approval"
    CAB_APPROVAL = "cab_approval"
    ECAB_APPROVAL = "ecab_approval"
    NO_STANDARD = "no_standard"
    BACKOUT_PLAN = "backout_plan"
    LEAD_TIME = "lead_time"
    MAINTENANCE_WINDOW = "maintenance_window"
    REVIEW = "review"
    PRE_APPROVED = "pre_approved"
