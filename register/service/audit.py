"""Append-only audit trail of changes to the register and to access control."""

from __future__ import annotations

from sqlmodel import Session

from register.access import principal_of
from register.models import AuditEvent


def record(
    session: Session,
    action: str,
    entity: str,
    entity_id: object,
    kommune_id: int | None = None,
    summary: str | list[str] = "",
) -> None:
    if isinstance(summary, list):
        summary = "; ".join(summary)
    session.add(
        AuditEvent(
            actor_id=principal_of(session).user_id,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            kommune_id=kommune_id,
            summary=summary[:2000],
        )
    )
