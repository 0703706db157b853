"""The change policy: which rules apply to a change, and why.

The policy is versioned (``change_policy`` rows with validity dates); where no version is
valid the built-in defaults below apply. What applies follows from the change's type, its
risk and its systems: each rule comes with the reason (the system and its flag, the risk)
so the change page can say why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, or_, select

from register.choices import Criticality
from register.models import ConfigItem
from servicedesk.changes.choices import ChangeType, Risk, RuleCode
from servicedesk.changes.models import ChangePolicy


class PolicySettings(BaseModel):
    """The settings one policy version holds (its ``rules`` column)."""

    model_config = ConfigDict(extra="forbid")

    cab_for_high_risk: bool = True
    cab_for_critical: bool = True
    #: Working days between submission and the planned start for strict systems.
    strict_lead_days: int = Field(default=5, ge=0, le=60)
    strict_backout_plan: bool = True
    strict_maintenance_window: bool = True
    strict_review: bool = True
    #: CAB votes needed before the CAB's decision stands (abstentions count to the quorum).
    cab_quorum: int = Field(default=2, ge=1, le=20)
    ecab_min_approvers: int = Field(default=2, ge=2, le=10)


DEFAULT_NAME = "Innebygd standard"


@dataclass(frozen=True)
class AppliedRule:
    """One rule that applies to a change: its code and the reason (a catalogue key and its
    values), e.g. ``cab_approval`` because ``Helseplattformen`` is marked life-and-health."""

    code: RuleCode
    reason: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Requirements:
    """What the policy asks of one change."""

    policy_name: str
    policy_id: int | None
    settings: PolicySettings
    rules: list[AppliedRule] = field(default_factory=list)
    strict_cis: list[ConfigItem] = field(default_factory=list)

    def has(self, code: RuleCode) -> bool:
        return any(r.code == code for r in self.rules)

    def add(self, code: RuleCode, reason: str, **params: Any) -> None:
        self.rules.append(AppliedRule(code, reason, params))


def policy_on(session: Session, day: date) -> tuple[int | None, str, PolicySettings]:
    """The policy version valid on ``day`` (id, name, settings), or the built-in one."""
    row = session.exec(
        select(ChangePolicy)
        .where(ChangePolicy.valid_from <= day)
        .where(or_(col(ChangePolicy.valid_to).is_(None), col(ChangePolicy.valid_to) >= day))
        .order_by(col(ChangePolicy.valid_from).desc())
    ).first()
    if row is None:
        return None, DEFAULT_NAME, PolicySettings()
    return row.id, row.name, PolicySettings.model_validate(row.rules)


def strict_reason(ci: ConfigItem) -> str | None:
    """Why a system gets the strict rules (a catalogue key), or None."""
    if ci.life_and_health:
        return "changes.why.life_and_health"
    if ci.finance_payroll:
        return "changes.why.finance_payroll"
    if ci.criticality == Criticality.CRITICAL:
        return "changes.why.critical"
    return None


def requirements(
    session: Session,
    change_type: ChangeType,
    risk: Risk,
    cis: list[ConfigItem],
    day: date,
) -> Requirements:
    policy_id, name, s = policy_on(session, day)
    req = Requirements(name, policy_id, s)
    strict = [(ci, why) for ci in cis if (why := strict_reason(ci)) is not None]
    req.strict_cis = [ci for ci, _ in strict]
    if change_type == ChangeType.STANDARD:
        req.add(RuleCode.PRE_APPROVED, "changes.why.standard")
        for ci, why in strict:
            req.add(RuleCode.NO_STANDARD, why, system=ci.name)
        return req
    if change_type == ChangeType.EMERGENCY:
        req.add(RuleCode.ECAB_APPROVAL, "changes.why.emergency", count=s.ecab_min_approvers)
        req.add(RuleCode.REVIEW, "changes.why.emergency")
    else:
        for ci in cis:
            req.add(RuleCode.SYSTEMEIER_APPROVAL, "changes.why.system", system=ci.name)
        if risk == Risk.HIGH and s.cab_for_high_risk:
            req.add(RuleCode.CAB_APPROVAL, "changes.why.high_risk")
        for ci, why in strict:
            if s.cab_for_critical:
                req.add(RuleCode.CAB_APPROVAL, why, system=ci.name)
    for ci, why in strict:
        _strict_rules(req, s, ci, why, emergency=change_type == ChangeType.EMERGENCY)
    return req


def _strict_rules(
    req: Requirements, s: PolicySettings, ci: ConfigItem, why: str, emergency: bool
) -> None:
    if s.strict_backout_plan:
        req.add(RuleCode.BACKOUT_PLAN, why, system=ci.name)
    if not emergency:  # an emergency cannot wait for the lead time or the window
        if s.strict_lead_days:
            req.add(RuleCode.LEAD_TIME, why, system=ci.name, days=s.strict_lead_days)
        if s.strict_maintenance_window:
            req.add(RuleCode.MAINTENANCE_WINDOW, why, system=ci.name, window=ci.maintenance_window)
    if s.strict_review and not req.has(RuleCode.REVIEW):
        req.add(RuleCode.REVIEW, why, system=ci.name)
