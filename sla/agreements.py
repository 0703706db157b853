"""Which service level applies: the agreements in memory, and the lookup a new ticket uses.

Every process keeps the agreements in memory (:class:`Catalogue`), per database, and asks the
one-row ``sla_revision`` table at most once a second whether they changed; every change of an
agreement moves that number in its own transaction (:func:`bump_revision`). Filing a ticket
therefore costs no query for its level in the common case.

The lookup (also in ``sla/README.md``): for a ticket of kommune K filed at T, among the
agreements in force on T's date (Europe/Oslo):

1. K's agreement, if it names one of the ticket's systems or its catalogue service;
2. else K's agreement's default level, if it has one;
3. else the unit's default agreement, if it names one of them;
4. else the default agreement's default level;
5. else no clock.

Where several named services match (a ticket on two systems), the strictest level wins: the
shortest resolution target for the ticket's priority, then the shortest response target.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, select

from fellesdrift.kernel.types import utcnow
from register.access import elevated
from sla.calendar import OSLO
from sla.clock import DEFAULT_WARN_AT, LevelSpec, split_closed_days
from sla.models import SlaAgreement, SlaLevel, SlaRevision, SlaService, SlaTarget

#: How long a process trusts its copy before asking whether the agreements changed.
RECHECK_SECONDS = 1.0
FAR_FUTURE = date(9999, 12, 31)


@dataclass
class AgreementView:
    id: int
    name: str
    kommune_id: int | None
    valid_from: date
    valid_to: date | None
    default_level: str | None
    closed_days: list[str]
    leadership: list[str] = field(default_factory=list)
    levels: dict[str, LevelSpec] = field(default_factory=dict)
    by_ci: dict[int, list[str]] = field(default_factory=dict)
    by_service: dict[str, list[str]] = field(default_factory=dict)

    def in_force(self, day: date) -> bool:
        return self.valid_from <= day <= (self.valid_to or FAR_FUTURE)

    def named(self, ci_ids: Iterable[int], catalogue_key: str | None) -> list[str]:
        keys = [k for ci in ci_ids for k in self.by_ci.get(ci, [])]
        if catalogue_key:
            keys += self.by_service.get(catalogue_key, [])
        return keys


@dataclass
class Catalogue:
    """Every agreement of one database, as the lookup needs them."""

    revision: int
    agreements: list[AgreementView]

    def in_force(self, kommune_id: int | None, day: date) -> AgreementView | None:
        for a in self.agreements:
            if a.kommune_id == kommune_id and a.in_force(day):
                return a
        return None

    def named(self, name: str) -> AgreementView | None:
        return next((a for a in self.agreements if a.name == name), None)

    def level_for(
        self,
        kommune_id: int | None,
        priority: int,
        filed_at: datetime,
        ci_ids: Iterable[int] = (),
        catalogue_key: str | None = None,
    ) -> LevelSpec | None:
        """The level a ticket filed at ``filed_at`` gets (the lookup in the module docstring),
        with the closed days of its agreement and of the default agreement."""
        day = filed_at.astimezone(OSLO).date()
        ci_ids = list(ci_ids)
        own = self.in_force(kommune_id, day) if kommune_id is not None else None
        default = self.in_force(None, day)
        for agreement, use_default_level in (
            (own, False),
            (own, True),
            (default, False),
            (default, True),
        ):
            if agreement is None:
                continue
            if use_default_level:
                keys = [agreement.default_level] if agreement.default_level else []
            else:
                keys = agreement.named(ci_ids, catalogue_key)
            if keys:
                return _with_closed_days(_strictest(agreement, keys, priority), agreement, default)
        return None


def _strictest(agreement: AgreementView, keys: list[str], priority: int) -> LevelSpec:
    def strictness(key: str) -> tuple[int, int, str]:
        response, resolution = agreement.levels[key].targets[priority]
        return resolution, response, key

    return agreement.levels[min(keys, key=strictness)]


def _with_closed_days(
    spec: LevelSpec, agreement: AgreementView, default: AgreementView | None
) -> LevelSpec:
    days = list(agreement.closed_days)
    if default is not None and default is not agreement:
        days += default.closed_days
    dates, each_year = split_closed_days(days)
    return LevelSpec(
        calendar=spec.calendar,
        targets=spec.targets,
        pause_reasons=spec.pause_reasons,
        warn_at=spec.warn_at,
        closed_dates=dates,
        closed_each_year=each_year,
        agreement=agreement.name,
        level=spec.level,
    )


# ---- loading and the per-process copy ---------------------------------------------------------

_lock = threading.Lock()
#: database URL -> (the copy, when its revision was last confirmed, monotonic seconds)
_copies: dict[str, tuple[Catalogue, float]] = {}


def load(session: Session, revision: int) -> Catalogue:
    """Read every agreement (four queries, on a change only)."""
    with elevated(session, "sla: agreements"):
        agreements = list(session.exec(select(SlaAgreement)))
        levels = list(session.exec(select(SlaLevel)))
        targets = list(session.exec(select(SlaTarget)))
        services = list(session.exec(select(SlaService)))
    views = {
        a.id: AgreementView(
            a.id,
            a.name,
            a.kommune_id,
            a.valid_from,
            a.valid_to,
            a.default_level,
            a.closed_days,
            a.leadership_emails,
        )
        for a in agreements
        if a.id is not None
    }
    by_level: dict[int, dict[int, tuple[int, int]]] = {}
    for t in targets:
        by_level.setdefault(t.level_id, {})[t.priority] = (
            t.response_minutes * 60,
            t.resolution_minutes * 60,
        )
    level_keys: dict[int, tuple[int, str]] = {}
    for lv in levels:
        assert lv.id is not None
        level_keys[lv.id] = (lv.agreement_id, lv.key)
        views[lv.agreement_id].levels[lv.key] = LevelSpec(
            calendar=lv.calendar,
            targets=by_level.get(lv.id, {}),
            pause_reasons=frozenset(lv.pause_reasons),
            warn_at=tuple(sorted(lv.warn_at)) or DEFAULT_WARN_AT,
            level=lv.key,
        )
    for s in services:
        view, key = views[s.agreement_id], level_keys[s.level_id][1]
        if s.ci_id is not None:
            view.by_ci.setdefault(s.ci_id, []).append(key)
        if s.catalogue_key:
            view.by_service.setdefault(s.catalogue_key, []).append(key)
    ordered = sorted(views.values(), key=lambda v: (v.kommune_id or 0, v.valid_from))
    return Catalogue(revision, ordered)


def _revision(session: Session) -> int:
    with elevated(session, "sla: revision"):
        row = session.get(SlaRevision, 1)
    return row.revision if row is not None else 0


def catalogue(session: Session) -> Catalogue:
    """This database's agreements, from the process's copy when it is current."""
    bind = session.get_bind()
    url = bind.engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _lock:
        copy = _copies.get(url)
    if copy is not None and now - copy[1] < RECHECK_SECONDS:
        return copy[0]
    revision = _revision(session)
    if copy is not None and copy[0].revision == revision:
        fresh = copy[0]
    else:
        fresh = load(session, revision)
    with _lock:
        _copies[url] = (fresh, now)
    return fresh


def forget() -> None:
    """Drop every copy (the next lookup reads afresh)."""
    with _lock:
        _copies.clear()


def bump_revision(session: Session) -> None:
    """Record that the agreements changed (in the changing transaction), and make this
    process ask again at its next lookup."""
    with elevated(session, "sla: revision"):
        row = session.get(SlaRevision, 1, with_for_update=True) or SlaRevision(id=1)
        row.revision += 1
        row.changed_at = utcnow()
        session.add(row)
    forget()
