"""Who may run billing: checked at the top of every billing action, before any work."""

from __future__ import annotations

from sqlmodel import Session

from billing.rules import is_billing_admin
from fellesdrift.kernel.problems import forbidden
from register.access import Principal, principal_of


def require_billing_admin(session: Session) -> Principal:
    p = principal_of(session)
    if not is_billing_admin(p) or not p.can_write_at_all:
        raise forbidden("only the billing admin runs, reviews and issues invoices")
    return p
