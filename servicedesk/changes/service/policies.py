"""Versions of the change policy: added by admins, never overlapping."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from fellesdrift.kernel.problems import FieldError, forbidden, invalid
from register.access import principal_of
from servicedesk.changes.models import ChangePolicy
from servicedesk.changes.policy import PolicySettings
from servicedesk.changes.schemas import PolicyIn

_END = date(9999, 12, 31)


def add_policy(session: Session, data: PolicyIn, settings: PolicySettings) -> ChangePolicy:
    if not principal_of(session).is_admin:
        raise forbidden("policy versions are set by administrators")
    for other in session.exec(select(ChangePolicy)):
        if data.valid_from <= (other.valid_to or _END) and other.valid_from <= (
            data.valid_to or _END
        ):
            raise invalid(
                FieldError(
                    "valid_from",
                    f"overlaps the policy version '{other.name}'; end that one first",
                    data.valid_from.isoformat(),
                    code="changes_err.policy_overlap",
                    params={"name": other.name},
                )
            )
    row = ChangePolicy(
        name=data.name,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        rules=settings.model_dump(),
    )
    session.add(row)
    session.flush()
    return row
