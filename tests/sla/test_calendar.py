"""Norwegian business calendar: holidays, opening hours, working-time arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.calendar import (
    ALWAYS,
    OSLO,
    SERVICE_DESK,
    BusinessCalendar,
    easter_sunday,
    public_holidays,
)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_holidays_2026() -> None:
    days = public_holidays(2026)
    assert len(days) == 12
    assert days[date(2026, 4, 2)] == "Skjærtorsdag"
    assert days[date(2026, 5, 14)] == "Kristi himmelfartsdag"
    assert days[date(2026, 5, 25)] == "2. pinsedag"
    assert date(2026, 12, 24) not in days  # julaften is an ordinary day by law


def _oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)  # type: ignore[misc]


def test_opening_hours() -> None:
    assert SERVICE_DESK.is_open(_oslo(2026, 11, 23, 8, 0))
    assert not SERVICE_DESK.is_open(_oslo(2026, 11, 23, 15, 30))
    assert not SERVICE_DESK.is_open(_oslo(2026, 11, 22, 10, 0))  # Sunday
    assert not SERVICE_DESK.is_open(_oslo(2026, 5, 17, 10, 0))
    # UTC input is judged in Oslo time: 07:30 UTC in winter is 08:30 in Oslo.
    assert SERVICE_DESK.is_open(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))


def test_working_seconds_skip_nights_weekends_and_easter() -> None:
    # Wednesday before Easter 15:00 to Tuesday after Easter 09:00: 30 min + 60 min.
    start, end = _oslo(2026, 4, 1, 15, 0), _oslo(2026, 4, 7, 9, 0)
    assert SERVICE_DESK.working_seconds(start, end) == 90 * 60


def test_add_working_time_crosses_the_night() -> None:
    start = _oslo(2026, 11, 20, 15, 0)  # Friday
    assert SERVICE_DESK.add_working_time(start, 3600) == _oslo(2026, 11, 23, 8, 30)


def test_add_working_days_skips_holidays() -> None:
    assert SERVICE_DESK.add_working_days(_oslo(2026, 5, 13, 10, 0), 1) == _oslo(2026, 5, 15, 10, 0)
    assert SERVICE_DESK.add_working_days(_oslo(2026, 12, 23, 12, 0), 2) == _oslo(
        2026, 12, 28, 12, 0
    )


def test_always_calendar_counts_every_second_across_dst() -> None:
    start, end = _oslo(2026, 10, 24, 12, 0), _oslo(2026, 10, 25, 12, 0)  # DST ends on the 25th
    assert ALWAYS.working_seconds(start, end) == 25 * 3600


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SERVICE_DESK.is_open(datetime(2026, 1, 5, 9, 0))


def test_closing_before_opening_is_refused() -> None:
    from datetime import time

    with pytest.raises(ValueError, match="closes"):
        BusinessCalendar(opens=time(16, 0), closes=time(8, 0))


moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(OSLO)
)


@settings(max_examples=200, deadline=None)
@given(start=moments, seconds=st.integers(min_value=0, max_value=40 * 27000))
def test_add_then_measure_round_trips(start: datetime, seconds: int) -> None:
    end = SERVICE_DESK.add_working_time(start, seconds)
    assert end >= start
    assert SERVICE_DESK.working_seconds(start, end) == pytest.approx(seconds, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(a=moments, b=moments, c=moments)
def test_working_seconds_are_additive(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    total = SERVICE_DESK.working_seconds(a, c)
    assert total == pytest.approx(
        SERVICE_DESK.working_seconds(a, b) + SERVICE_DESK.working_seconds(b, c), abs=1e-6
    )
    elapsed = c.astimezone(UTC) - a.astimezone(UTC)
    assert total <= elapsed.total_seconds() + 1e-6
