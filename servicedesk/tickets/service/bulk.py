"""Bulk updates of the agent workspace: one change applied to many tickets, each ticket on
its own, so that one that changed meanwhile or cannot take the change is reported and left
as it was while the others are changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from fellesdrift.kernel.problems import (
    FieldError,
    Problem,
    forbidden,
    from_validation_errors,
    invalid,
)
from register.access import principal_of
from servicedesk.tickets.choices import PendingReason, Status
from servicedesk.tickets.schemas import TicketUpdate, Transition
from servicedesk.tickets.service import core, lifecycle

ASSIGN_TO_ME = -1


@dataclass(frozen=True)
class BulkChange:
    """What one bulk form changes on every selected ticket; None means "leave as it is".

    ``assignee_id`` and ``group_id`` use 0 for "nobody" / "no group"; ``assignee_id``
    :data:`ASSIGN_TO_ME` is the acting agent."""

    assignee_id: int | None = None
    group_id: int | None = None
    impact: int | None = None
    urgency: int | None = None
    status: Status | None = None
    pending_reason: PendingReason | None = None
    resolution: str = ""
    comment: str = ""

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.assignee_id is not None:
            out["assignee_id"] = self.assignee_id or None
        if self.group_id is not None:
            out["assignment_group_id"] = self.group_id or None
        if self.impact is not None:
            out["impact"] = self.impact
        if self.urgency is not None:
            out["urgency"] = self.urgency
        return out

    def is_empty(self) -> bool:
        return not self.fields() and self.status is None

    def validate(self) -> None:
        """Refuse a change that would fail on every ticket (e.g. resolving without a
        resolution) before touching any."""
        try:
            TicketUpdate(version=0, **self.fields())
            if self.status is not None:
                self.transition(0)
        except ValidationError as exc:
            raise invalid(from_validation_errors(exc.errors())) from None
        if self.is_empty():
            raise invalid(FieldError("input", "choose at least one change"))

    def transition(self, version: int) -> Transition:
        assert self.status is not None
        return Transition(
            version=version,
            status=self.status,
            pending_reason=self.pending_reason,
            resolution=self.resolution,
            comment=self.comment,
        )


@dataclass(frozen=True)
class BulkResult:
    """The outcome for one ticket: ``status`` 200 when applied, else the refusal's status
    (404 not found or not visible, 409 changed meanwhile or invalid, 403, 422)."""

    ticket_id: int
    status: int = 200
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 200


def bulk_update(
    session: Session, items: Sequence[tuple[int, int]], change: BulkChange
) -> list[BulkResult]:
    """Apply ``change`` to each (ticket id, version the agent saw), each in its own savepoint:
    a ticket that changed meanwhile, may not be changed or cannot take the new status is
    reported and left as it was; the others are changed through the ticket services, so each
    gets its history entries and notifications as if edited alone."""
    p = principal_of(session)
    if not core.is_agent(p):
        raise forbidden("only the drift unit changes tickets in bulk")
    change.validate()
    if change.assignee_id == ASSIGN_TO_ME and p.user_id is not None:
        change = replace(change, assignee_id=p.user_id)
    results = []
    for ticket_id, version in dict.fromkeys(items):
        try:
            with session.begin_nested():
                _apply(session, ticket_id, version, change)
        except Problem as problem:
            results.append(BulkResult(ticket_id, problem.status, problem.detail, problem.errors))
        except StaleDataError:
            results.append(BulkResult(ticket_id, 409, f"ticket {ticket_id} was changed meanwhile"))
        else:
            results.append(BulkResult(ticket_id))
    return results


def _apply(session: Session, ticket_id: int, version: int, change: BulkChange) -> None:
    fields = change.fields()
    if fields:
        ticket = core.update_ticket(session, ticket_id, TicketUpdate(version=version, **fields))
        session.flush()
        version = ticket.version
    if change.status is not None:
        current = core.get_ticket(session, ticket_id)
        if current.status != change.status.value:
            lifecycle.transition(session, ticket_id, change.transition(version))
    session.flush()
