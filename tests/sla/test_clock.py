"""The SLA clock rules as plain functions, to the second, across the Norwegian calendar's edges
(the rules in words: sla/README.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sla import clock as rules
from sla.calendar import OSLO
from sla.clock import ClockEvent, ClockKind, ClockStateName, LevelSpec

H = 3600
#: priority -> (response, resolution) seconds; P1 15 min / 2 h as in DOMAIN.md.
TARGETS = {1: (15 * 60, 2 * H), 2: (H, 4 * H), 3: (4 * H, 8 * H), 4: (8 * H, 40 * H)}
DESK = LevelSpec("service_desk", TARGETS, frozenset({"user", "vendor"}), level="standard")
ROUND = LevelSpec("round_the_clock", TARGETS, frozenset({"user"}), level="kritisk")


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)  # type: ignore[misc]


def kinds(happened: list[rules.Happened]) -> list[str]:
    return [h.event.value for h in happened]


def test_resolution_across_easter_is_due_the_tuesday_after() -> None:
    # Wed 27 March 2024 15:00, 2 h: 30 min that day, then Skjærtorsdag, Langfredag, the
    # weekend (DST starts on Easter Sunday) and 2. påskedag are closed: Tue 2 April 09:30 CEST.
    c = rules.start(DESK, ClockKind.RESOLUTION, 1, oslo(2024, 3, 27, 15, 0))
    assert c.due_at == oslo(2024, 4, 2, 9, 30)
    assert c.due_at.astimezone(UTC) == datetime(2024, 4, 2, 7, 30, tzinfo=UTC)


def test_round_the_clock_counts_real_hours_over_the_dst_change_on_easter_sunday() -> None:
    # Easter Sunday 31 March 2024 00:30 CET + 2 h of real time: the clocks jump from 02:00 to
    # 03:00, so the due time is 03:30 CEST (01:30 UTC), three wall-clock hours later.
    c = rules.start(ROUND, ClockKind.RESOLUTION, 1, oslo(2024, 3, 31, 0, 30))
    assert c.due_at.astimezone(UTC) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert c.due_at == oslo(2024, 3, 31, 3, 30)
    assert rules.elapsed_seconds(ROUND, c, oslo(2024, 3, 31, 3, 30)) == 2 * H


def test_pause_over_easter_moves_due_time_by_the_paused_business_time() -> None:
    filed = oslo(2024, 3, 27, 14, 0)
    c = rules.start(DESK, ClockKind.RESOLUTION, 2, filed)  # 4 h
    assert c.due_at == oslo(2024, 4, 2, 10, 30)
    assert kinds(rules.pause(DESK, c, oslo(2024, 3, 27, 15, 0), "user")) == ["pause"]
    assert c.state == ClockStateName.PAUSED
    # While paused, elapsed stands still and paused time grows (business time only).
    assert rules.elapsed_seconds(DESK, c, oslo(2024, 4, 2, 8, 30)) == H
    assert rules.paused_seconds(DESK, c, oslo(2024, 4, 2, 8, 30)) == 1800 + 1800
    happened = rules.resume(DESK, c, oslo(2024, 4, 2, 9, 0))
    assert kinds(happened) == ["resume"] and happened[0].detail["paused_seconds"] == 1.5 * H
    assert c.paused_seconds == 1.5 * H
    assert c.due_at == oslo(2024, 4, 2, 12, 0)
    assert rules.elapsed_seconds(DESK, c, oslo(2024, 4, 2, 12, 0)) == 4 * H


def test_pause_reason_the_level_does_not_pause_on_keeps_the_clock_running() -> None:
    c = rules.start(DESK, ClockKind.RESOLUTION, 2, oslo(2026, 3, 2, 8, 0))
    assert rules.pause(DESK, c, oslo(2026, 3, 2, 9, 0), "change") == []
    assert c.state == ClockStateName.RUNNING
    assert rules.pause(DESK, c, oslo(2026, 3, 2, 9, 0), None) == []


def test_kristi_himmelfart_is_closed() -> None:
    # Wed 13 May 2026 15:00, P2 response 1 h: Thursday 14 May is Kristi himmelfartsdag.
    c = rules.start(DESK, ClockKind.RESPONSE, 2, oslo(2026, 5, 13, 15, 0))
    assert c.due_at == oslo(2026, 5, 15, 8, 30)


def test_pinse_closes_whit_monday() -> None:
    c = rules.start(DESK, ClockKind.RESPONSE, 2, oslo(2026, 5, 22, 15, 0))
    assert c.due_at == oslo(2026, 5, 26, 8, 30)


def test_17_may_on_a_sunday_moves_no_day() -> None:
    # 17 May 2026 is a Sunday: Monday 18 May is an ordinary working day.
    c = rules.start(DESK, ClockKind.RESPONSE, 2, oslo(2026, 5, 15, 15, 0))
    assert c.due_at == oslo(2026, 5, 18, 8, 30)


def test_round_the_clock_runs_on_17_may_and_other_holidays() -> None:
    c = rules.start(ROUND, ClockKind.RESOLUTION, 2, oslo(2026, 5, 17, 10, 0))
    assert c.due_at == oslo(2026, 5, 17, 14, 0)


def test_julaften_is_a_working_day_unless_the_agreement_closes_it() -> None:
    filed = oslo(2026, 12, 23, 15, 0)
    assert rules.start(DESK, ClockKind.RESPONSE, 2, filed).due_at == oslo(2026, 12, 24, 8, 30)
    closed = LevelSpec("service_desk", TARGETS, closed_each_year=frozenset({(12, 24)}))
    # Closed 24th, 1. and 2. juledag, the weekend: Monday 28 December.
    assert rules.start(closed, ClockKind.RESPONSE, 2, filed).due_at == oslo(2026, 12, 28, 8, 30)


def test_new_year() -> None:
    c = rules.start(DESK, ClockKind.RESPONSE, 2, oslo(2025, 12, 31, 15, 0))
    assert c.due_at == oslo(2026, 1, 2, 8, 30)


def test_met_in_time_and_late_breach_recorded_once_at_the_due_time() -> None:
    c = rules.start(DESK, ClockKind.RESPONSE, 2, oslo(2026, 3, 2, 8, 0))  # due 09:00
    assert kinds(rules.meet(DESK, c, oslo(2026, 3, 2, 8, 59, 59))) == ["met"]
    late = rules.start(DESK, ClockKind.RESPONSE, 2, oslo(2026, 3, 2, 8, 0))
    happened = rules.meet(DESK, late, oslo(2026, 3, 2, 9, 0, 1))
    assert kinds(happened) == ["breached", "met"]
    assert happened[0].at == late.breached_at == oslo(2026, 3, 2, 9, 0)
    assert rules.meet(DESK, late, oslo(2026, 3, 2, 10, 0)) == []


def test_reopen_continues_the_resolution_clock() -> None:
    c = rules.start(DESK, ClockKind.RESOLUTION, 2, oslo(2026, 3, 2, 8, 0))  # 4 h: 12:00
    rules.meet(DESK, c, oslo(2026, 3, 2, 10, 0))
    assert rules.elapsed_seconds(DESK, c, oslo(2026, 3, 3, 10, 0)) == 2 * H
    assert kinds(rules.reopen(DESK, c, oslo(2026, 3, 3, 10, 0))) == ["resume"]
    # Resolved from Mon 10:00 to Tue 10:00 is 7.5 business hours: due Tue 12:00.
    assert c.paused_seconds == 7.5 * H
    assert c.due_at == oslo(2026, 3, 3, 12, 0)
    assert rules.elapsed_seconds(DESK, c, oslo(2026, 3, 3, 11, 0)) == 3 * H


def test_priority_change_recomputes_from_the_filing_time() -> None:
    c = rules.start(DESK, ClockKind.RESOLUTION, 3, oslo(2026, 3, 2, 8, 0))  # 8 h
    assert c.due_at == oslo(2026, 3, 3, 8, 30)
    happened = rules.recompute(DESK, c, 1, oslo(2026, 3, 2, 9, 0))
    assert kinds(happened) == ["recomputed"]
    assert c.due_at == oslo(2026, 3, 2, 10, 0) and c.target_seconds == 2 * H
    assert rules.recompute(DESK, c, 1, oslo(2026, 3, 2, 9, 30)) == []


def test_priority_change_keeps_pauses_so_far() -> None:
    c = rules.start(DESK, ClockKind.RESOLUTION, 3, oslo(2026, 3, 2, 8, 0))
    rules.pause(DESK, c, oslo(2026, 3, 2, 9, 0), "vendor")
    rules.resume(DESK, c, oslo(2026, 3, 2, 10, 0))
    rules.recompute(DESK, c, 1, oslo(2026, 3, 2, 10, 30))
    assert c.due_at == oslo(2026, 3, 2, 11, 0)


def test_escalation_warns_each_threshold_once_and_records_the_breach_once() -> None:
    c = rules.start(DESK, ClockKind.RESPONSE, 3, oslo(2026, 3, 2, 8, 0))  # 4 h: 12:00
    assert rules.next_check_at(DESK, c) == oslo(2026, 3, 2, 11, 0)
    assert rules.check(DESK, c, oslo(2026, 3, 2, 10, 59)) == []
    first = rules.check(DESK, c, oslo(2026, 3, 2, 11, 0))
    assert kinds(first) == ["warned"] and first[0].detail == {"threshold": 75}
    assert rules.check(DESK, c, oslo(2026, 3, 2, 11, 30)) == []
    assert rules.next_check_at(DESK, c) == oslo(2026, 3, 2, 12, 0)
    second = rules.check(DESK, c, oslo(2026, 3, 2, 12, 0))
    assert kinds(second) == ["breached", "warned"] and second[1].detail == {"threshold": 100}
    assert rules.check(DESK, c, oslo(2026, 3, 2, 15, 0)) == []
    assert rules.next_check_at(DESK, c) is None


def test_escalation_after_a_long_stop_sends_only_the_highest_threshold() -> None:
    c = rules.start(DESK, ClockKind.RESPONSE, 3, oslo(2026, 3, 2, 8, 0))
    happened = rules.check(DESK, c, oslo(2026, 3, 3, 9, 0))
    assert kinds(happened) == ["breached", "warned"] and c.warned_pct == 100


def test_paused_clock_neither_warns_nor_breaches() -> None:
    c = rules.start(DESK, ClockKind.RESPONSE, 3, oslo(2026, 3, 2, 8, 0))
    rules.pause(DESK, c, oslo(2026, 3, 2, 9, 0), "user")
    assert rules.check(DESK, c, oslo(2026, 3, 5, 9, 0)) == []
    assert rules.next_check_at(DESK, c) is None


def test_cancel_stops_a_running_clock_for_good() -> None:
    c = rules.start(DESK, ClockKind.RESOLUTION, 3, oslo(2026, 3, 2, 8, 0))
    assert kinds(rules.stop(DESK, c, oslo(2026, 3, 2, 9, 0))) == ["stopped"]
    assert rules.check(DESK, c, oslo(2026, 3, 9, 9, 0)) == []
    assert rules.elapsed_seconds(DESK, c, oslo(2026, 3, 9, 9, 0)) == H


def test_spec_survives_json_round_trip() -> None:
    spec = LevelSpec(
        "service_desk", TARGETS, frozenset({"user"}), (50, 90, 100),
        frozenset({datetime(2026, 12, 31).date()}), frozenset({(12, 24)}), "A", "b",
    )  # fmt: skip
    assert LevelSpec.from_json(spec.as_json()) == spec


@pytest.mark.parametrize("event", list(ClockEvent))
def test_every_event_has_a_name_in_both_catalogues(event: ClockEvent) -> None:
    from fellesdrift.kernel.i18n import catalogue

    for lang in ("nb", "en"):
        assert f"choice.ClockEvent.{event.value}" in catalogue(lang)
