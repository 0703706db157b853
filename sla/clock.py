"""The SLA clock rules as plain functions (the rules in words: ``sla/README.md``).

A ticket has two clocks, ``response`` and ``resolution``. Each is a :class:`ClockState`; the
functions here move it by the ticket's events and return what happened (``start``, ``pause``,
``resume``, ``met``, ``breached``, ``recomputed``) for the append-only history. Everything is
business time on the clock's calendar: ``due_at = calendar.add_working_time(started_at,
target + paused)``, so a pause moves the due time by exactly the business time it lasted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sla.calendar import CALENDARS, BusinessCalendar

DEFAULT_WARN_AT = (75, 100)


class ClockKind(StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"


class ClockStateName(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    #: The ticket was cancelled: no target applies any more.
    STOPPED = "stopped"


class ClockEvent(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    MET = "met"
    BREACHED = "breached"
    RECOMPUTED = "recomputed"
    WARNED = "warned"
    STOPPED = "stopped"


@dataclass(frozen=True)
class LevelSpec:
    """What a clock needs of its service level, copied onto the clock when the ticket is filed
    (so a later change of the agreement never moves a running clock)."""

    calendar: str
    #: priority -> (response seconds, resolution seconds)
    targets: dict[int, tuple[int, int]]
    pause_reasons: frozenset[str] = frozenset()
    warn_at: tuple[int, ...] = DEFAULT_WARN_AT
    closed_dates: frozenset[date] = frozenset()
    closed_each_year: frozenset[tuple[int, int]] = frozenset()
    agreement: str = ""
    level: str = ""

    def business_calendar(self) -> BusinessCalendar:
        base = CALENDARS[self.calendar]
        if base.holidays_closed:  # round the clock is on call: no closed days
            return base.with_closed_days(self.closed_dates, self.closed_each_year)
        return base

    def target(self, kind: ClockKind, priority: int) -> int:
        response, resolution = self.targets[priority]
        return response if kind == ClockKind.RESPONSE else resolution

    def as_json(self) -> dict[str, Any]:
        return {
            "calendar": self.calendar,
            "targets": {str(p): list(t) for p, t in sorted(self.targets.items())},
            "pause_reasons": sorted(self.pause_reasons),
            "warn_at": list(self.warn_at),
            "closed_dates": sorted(d.isoformat() for d in self.closed_dates),
            "closed_each_year": sorted(f"{m:02d}-{d:02d}" for m, d in self.closed_each_year),
            "agreement": self.agreement,
            "level": self.level,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LevelSpec:
        return cls(
            calendar=data["calendar"],
            targets={int(p): (int(t[0]), int(t[1])) for p, t in data["targets"].items()},
            pause_reasons=frozenset(data.get("pause_reasons", ())),
            warn_at=tuple(data.get("warn_at") or DEFAULT_WARN_AT),
            closed_dates=frozenset(date.fromisoformat(d) for d in data.get("closed_dates", ())),
            closed_each_year=frozenset(
                parse_month_day(d) for d in data.get("closed_each_year", ())
            ),
            agreement=data.get("agreement", ""),
            level=data.get("level", ""),
        )


def parse_month_day(text: str) -> tuple[int, int]:
    month, day = text.split("-")
    date(2000, int(month), int(day))  # a leap year: 02-29 is a valid day to close
    return int(month), int(day)


def split_closed_days(days: Iterable[str]) -> tuple[frozenset[date], frozenset[tuple[int, int]]]:
    """ "MM-DD" (every year) and "YYYY-MM-DD" (one day) apart; raises ValueError if neither."""
    dates, each_year = set(), set()
    for text in days:
        if len(text) == 5:
            each_year.add(parse_month_day(text))
        else:
            dates.add(date.fromisoformat(text))
    return frozenset(dates), frozenset(each_year)


@dataclass
class ClockState:
    kind: ClockKind
    priority: int
    target_seconds: int
    started_at: datetime
    due_at: datetime
    state: ClockStateName = ClockStateName.RUNNING
    paused_since: datetime | None = None
    #: Business seconds spent paused (and, for resolution, resolved before a reopen).
    paused_seconds: float = 0.0
    #: When the clock ended: met, or stopped by a cancellation.
    met_at: datetime | None = None
    breached_at: datetime | None = None
    #: The highest warning threshold (percent) already sent.
    warned_pct: int = 0


@dataclass(frozen=True)
class Happened:
    event: ClockEvent
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


def _due(spec: LevelSpec, c: ClockState) -> datetime:
    return spec.business_calendar().add_working_time(
        c.started_at, c.target_seconds + c.paused_seconds
    )


def start(spec: LevelSpec, kind: ClockKind, priority: int, filed_at: datetime) -> ClockState:
    target = spec.target(kind, priority)
    due = spec.business_calendar().add_working_time(filed_at, target)
    return ClockState(kind, priority, target, filed_at, due)


def pause(spec: LevelSpec, c: ClockState, at: datetime, reason: str | None) -> list[Happened]:
    """A pending status: a running clock stops if the level pauses on ``reason``."""
    if c.state != ClockStateName.RUNNING or reason not in spec.pause_reasons:
        return []
    c.state, c.paused_since = ClockStateName.PAUSED, at
    return [Happened(ClockEvent.PAUSE, at, {"reason": reason})]


def resume(spec: LevelSpec, c: ClockState, at: datetime) -> list[Happened]:
    """The ticket left the pausing status: the due time moves by the paused business time."""
    if c.state != ClockStateName.PAUSED or c.paused_since is None:
        return []
    paused = spec.business_calendar().working_seconds(c.paused_since, at)
    c.paused_seconds += paused
    c.state, c.paused_since = ClockStateName.RUNNING, None
    c.due_at = _due(spec, c)
    return [Happened(ClockEvent.RESUME, at, {"paused_seconds": paused})]


def meet(spec: LevelSpec, c: ClockState, at: datetime) -> list[Happened]:
    """The clock's goal is reached (response: first agent reply or status change; resolution:
    Resolved). Late: the breach is recorded at the due time, once."""
    if c.state == ClockStateName.MET:
        return []
    happened = resume(spec, c, at)
    c.state, c.met_at = ClockStateName.MET, at
    if at > c.due_at and c.breached_at is None:
        c.breached_at = c.due_at
        happened.append(Happened(ClockEvent.BREACHED, c.due_at))
    happened.append(Happened(ClockEvent.MET, at, {"late": at > c.due_at}))
    return happened


def reopen(spec: LevelSpec, c: ClockState, at: datetime) -> list[Happened]:
    """A reopened ticket continues its resolution clock: the time it lay resolved counts as
    paused, so the clock goes on from the elapsed time it had."""
    if c.state != ClockStateName.MET or c.met_at is None:
        return []
    resolved_for = spec.business_calendar().working_seconds(c.met_at, at)
    c.paused_seconds += resolved_for
    c.state, c.met_at = ClockStateName.RUNNING, None
    c.due_at = _due(spec, c)
    return [Happened(ClockEvent.RESUME, at, {"reopened": True, "paused_seconds": resolved_for})]


def recompute(spec: LevelSpec, c: ClockState, priority: int, at: datetime) -> list[Happened]:
    """A new priority: the due time is worked out again from the filing time with the new
    target (pauses so far still count). A recorded breach stays; a met clock stays met."""
    if priority == c.priority:
        return []
    old_due = c.due_at
    c.priority, c.target_seconds = priority, spec.target(c.kind, priority)
    c.due_at = _due(spec, c)
    detail = {"priority": priority, "old_due": old_due.isoformat()}
    return [Happened(ClockEvent.RECOMPUTED, at, detail)]


def stop(spec: LevelSpec, c: ClockState, at: datetime) -> list[Happened]:
    """The ticket was cancelled: a clock not yet met stops for good (a breach stays)."""
    if c.state in (ClockStateName.MET, ClockStateName.STOPPED):
        return []
    happened = resume(spec, c, at)
    c.state, c.met_at = ClockStateName.STOPPED, at
    happened.append(Happened(ClockEvent.STOPPED, at))
    return happened


def elapsed_seconds(spec: LevelSpec, c: ClockState, now: datetime) -> float:
    """Business seconds counted against the target by ``now`` (pauses left out)."""
    cal = spec.business_calendar()
    ended = c.state in (ClockStateName.MET, ClockStateName.STOPPED)
    end = c.met_at if ended and c.met_at else now
    if c.state == ClockStateName.PAUSED and c.paused_since is not None:
        end = min(end, c.paused_since)
        # The pause so far is not counted; earlier pauses are in paused_seconds.
    total = cal.working_seconds(c.started_at, end) - c.paused_seconds
    return max(0.0, total)


def paused_seconds(spec: LevelSpec, c: ClockState, now: datetime) -> float:
    """Business seconds paused so far, the running pause included."""
    running = 0.0
    if c.state == ClockStateName.PAUSED and c.paused_since is not None:
        running = spec.business_calendar().working_seconds(c.paused_since, now)
    return c.paused_seconds + running


def percent_used(spec: LevelSpec, c: ClockState, now: datetime) -> float:
    return 100.0 * elapsed_seconds(spec, c, now) / c.target_seconds


def breach_due(c: ClockState, now: datetime) -> bool:
    """A running clock past its due time whose breach is not yet recorded."""
    return c.state == ClockStateName.RUNNING and c.breached_at is None and now >= c.due_at


def check(spec: LevelSpec, c: ClockState, now: datetime) -> list[Happened]:
    """What the escalation job records now: the breach of a running clock past due (once,
    at its due time), and the highest warning threshold reached and not yet warned for."""
    happened: list[Happened] = []
    if c.state != ClockStateName.RUNNING:
        return happened
    if breach_due(c, now):
        c.breached_at = c.due_at
        happened.append(Happened(ClockEvent.BREACHED, c.due_at))
    used = percent_used(spec, c, now)
    reached = [t for t in spec.warn_at if t <= used and t > c.warned_pct]
    if reached:
        c.warned_pct = max(reached)
        happened.append(Happened(ClockEvent.WARNED, now, {"threshold": c.warned_pct}))
    return happened


def next_check_at(spec: LevelSpec, c: ClockState) -> datetime | None:
    """When the escalation job next has something to do for a running clock: the moment the
    next threshold is reached, or the due time; None when nothing is left to do."""
    if c.state != ClockStateName.RUNNING:
        return None
    cal = spec.business_calendar()
    moments = [
        cal.add_working_time(c.started_at, c.target_seconds * t / 100 + c.paused_seconds)
        for t in spec.warn_at
        if t > c.warned_pct
    ]
    if c.breached_at is None:
        moments.append(c.due_at)
    return min(moments) if moments else None
