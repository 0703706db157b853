"""Who sees and changes the service agreements, registered with the access layer.

A kommune's people see their own kommune's agreements (and its predecessors') and the unit's
default agreement, with their levels, targets and services; drift staff see all. Only
administrators of the drift unit change them (the import checks that first).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true

from register.access import Principal, register
from sla.models import SlaAgreement, SlaLevel, SlaRevision, SlaService, SlaTarget

_a = SlaAgreement.__table__.c  # type: ignore[attr-defined]
_lv = SlaLevel.__table__.c  # type: ignore[attr-defined]


def agreement_rule(p: Principal) -> ColumnElement[bool]:
    return or_(_a.kommune_id.is_(None), _a.kommune_id.in_(sorted(p.kommuner)))


def _visible_agreements(p: Principal) -> object:
    return select(_a.id).where(agreement_rule(p))


def _admin(p: Principal, _obj: object, _op: str) -> bool:
    return p.is_admin


def _install() -> None:
    register(SlaAgreement, agreement_rule, _admin)
    register(
        SlaLevel,
        lambda p: SlaLevel.__table__.c.agreement_id.in_(_visible_agreements(p)),  # type: ignore[attr-defined]
        _admin,
    )
    register(
        SlaService,
        lambda p: SlaService.__table__.c.agreement_id.in_(_visible_agreements(p)),  # type: ignore[attr-defined]
        _admin,
    )
    register(
        SlaTarget,
        lambda p: SlaTarget.__table__.c.level_id.in_(  # type: ignore[attr-defined]
            select(_lv.id).where(_lv.agreement_id.in_(_visible_agreements(p)))
        ),
        _admin,
    )
    # The change counter: anyone may read it; it is moved as the system by an admin's change.
    register(SlaRevision, lambda p: true(), _admin)


_install()
