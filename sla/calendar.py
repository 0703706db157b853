"""Norwegian business calendars: public holidays, opening hours and working-time arithmetic.

Business rules run in Europe/Oslo local time (daylight saving included); callers pass and get
timezone-aware datetimes. The default calendar is the service desk's: 08:00-15:30 on working
days, closed on Saturdays, Sundays and the Norwegian public holidays (helligdager and 1 and 17
May). Christmas Eve and New Year's Eve are ordinary days by law; a unit that closes then adds
them as extra closed days.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
MIDNIGHT = time(0, 0)


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def public_holidays(year: int) -> dict[date, str]:
    """Norway's public holidays of ``year`` with their Norwegian names."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "1. nyttårsdag",
        easter - timedelta(days=3): "Skjærtorsdag",
        easter - timedelta(days=2): "Langfredag",
        easter: "1. påskedag",
        easter + timedelta(days=1): "2. påskedag",
        date(year, 5, 1): "Offentlig høytidsdag",
        date(year, 5, 17): "Grunnlovsdag",
        easter + timedelta(days=39): "Kristi himmelfartsdag",
        easter + timedelta(days=49): "1. pinsedag",
        easter + timedelta(days=50): "2. pinsedag",
        date(year, 12, 25): "1. juledag",
        date(year, 12, 26): "2. juledag",
    }
    return dict(sorted(days.items()))


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours on working days. ``extra_closed`` adds closed days (e.g. 24 December
    2026), ``closed_each_year`` closed days that recur as (month, day), e.g. ``(12, 24)`` for
    every julaften. ``holidays_closed=False`` keeps public holidays open (round the clock)."""

    opens: time = time(8, 0)
    closes: time = time(15, 30)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    extra_closed: frozenset[date] = field(default_factory=frozenset)
    tz: ZoneInfo = OSLO
    closed_each_year: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    holidays_closed: bool = True

    def __post_init__(self) -> None:
        if self.closes <= self.opens and self.closes != MIDNIGHT:
            raise ValueError("closes: must be after opens (00:00 means midnight)")

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() in self.weekdays
            and not (self.holidays_closed and day in public_holidays(day.year))
            and day not in self.extra_closed
            and (day.month, day.day) not in self.closed_each_year
        )

    def with_closed_days(
        self, days: Iterable[date], each_year: Iterable[tuple[int, int]]
    ) -> BusinessCalendar:
        """This calendar with more closed days (a kommune's or the unit's, e.g. julaften)."""
        return replace(
            self,
            extra_closed=self.extra_closed | frozenset(days),
            closed_each_year=self.closed_each_year | frozenset(each_year),
        )

    def working_days(self, start: date) -> Iterator[date]:
        """Working days from ``start`` on (inclusive), without end."""
        day = start
        while True:
            if self.is_working_day(day):
                yield day
            day += timedelta(days=1)

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """The same local clock time ``days`` working days later (on a working day)."""
        if days < 0:
            raise ValueError("days: must not be negative")
        local = _local(moment, self.tz)
        later = self.working_days(local.date() + timedelta(days=1))
        target = local.date() if days == 0 else next(d for i, d in enumerate(later, 1) if i == days)
        return datetime.combine(target, local.time(), self.tz)

    def _window(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing of ``day`` in UTC. Arithmetic is done in UTC throughout:
        Python subtracts two datetimes of the same zone as wall-clock times, which is wrong
        across a daylight-saving change."""
        end_day = day + timedelta(days=1) if self.closes == MIDNIGHT else day
        return (
            datetime.combine(day, self.opens, self.tz).astimezone(UTC),
            datetime.combine(end_day, self.closes, self.tz).astimezone(UTC),
        )

    def is_open(self, moment: datetime) -> bool:
        local = _local(moment, self.tz)
        start, end = self._window(local.date())
        return self.is_working_day(local.date()) and start <= moment.astimezone(UTC) < end

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of opening hours between ``start`` and ``end`` (0 if end <= start)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        total = 0.0
        for open_at, close_at in self._windows(
            _local(start, self.tz).date(), _local(end, self.tz).date()
        ):
            lo, hi = max(open_at, start), min(close_at, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        return total

    def _windows(self, first: date, last: date) -> Iterable[tuple[datetime, datetime]]:
        day = first
        while day <= last:
            if self.is_working_day(day):
                yield self._window(day)
            day += timedelta(days=1)

    def add_working_time(self, start: datetime, seconds: float) -> datetime:
        """The moment when ``seconds`` of opening hours have passed after ``start``."""
        if seconds < 0:
            raise ValueError("seconds: must not be negative")
        remaining = seconds
        day = _local(start, self.tz).date()
        start = start.astimezone(UTC)
        for _ in range(3660):  # ten years of days bounds the search
            if self.is_working_day(day):
                open_at, close_at = self._window(day)
                lo = max(open_at, start)
                if lo < close_at:
                    available = (close_at - lo).total_seconds()
                    if remaining <= available:
                        return (lo + timedelta(seconds=remaining)).astimezone(self.tz)
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("the calendar has no opening hours in the next ten years")


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"timezone-aware datetime required, got {moment!r}")
    return moment.astimezone(tz)


#: The service desk's default calendar (08:00-15:30 on working days).
SERVICE_DESK = BusinessCalendar()
#: Round the clock, every day of the year, holidays included: for on-call SLAs of critical
#: systems.
ALWAYS = BusinessCalendar(
    opens=MIDNIGHT, closes=MIDNIGHT, weekdays=frozenset(range(7)), holidays_closed=False
)
#: The calendars an agreement's levels may name, by key.
CALENDARS: dict[str, BusinessCalendar] = {"service_desk": SERVICE_DESK, "round_the_clock": ALWAYS}
