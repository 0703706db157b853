"""A system's agreed weekly maintenance windows, written as ``"tue 20:00-24:00; sat 06:00-12:00"``
(Norwegian day names work too: ``"tir 20:00-24:00"``), in Europe/Oslo time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
_DAYS = {
    **dict.fromkeys(("mon", "man"), 0),
    **dict.fromkeys(("tue", "tir"), 1),
    **dict.fromkeys(("wed", "ons"), 2),
    **dict.fromkeys(("thu", "tor"), 3),
    **dict.fromkeys(("fri", "fre"), 4),
    **dict.fromkeys(("sat", "lør", "lor"), 5),
    **dict.fromkeys(("sun", "søn", "son"), 6),
}
_ONE = re.compile(r"^\s*(\w+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Window:
    weekday: int
    start: timedelta  # from local midnight
    end: timedelta

    def __str__(self) -> str:
        day = next(k for k, v in _DAYS.items() if v == self.weekday)
        return f"{day} {_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse(text: str) -> list[Window]:
    """The windows in ``text`` (empty: none); ValueError naming the part that is wrong."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        m = _ONE.match(part)
        day = _DAYS.get(m.group(1).lower()) if m else None
        if m is None or day is None:
            raise ValueError(f"'{part}' is no window like 'tue 20:00-24:00'")
        h1, m1, h2, m2 = (int(g) for g in m.groups()[1:])
        start, end = timedelta(hours=h1, minutes=m1), timedelta(hours=h2, minutes=m2)
        if m1 > 59 or m2 > 59 or end > timedelta(hours=24) or end <= start:
            raise ValueError(f"'{part}': the end must come after the start, at 24:00 at most")
        out.append(Window(day, start, end))
    return out


def covers(windows: list[Window], start: datetime, end: datetime) -> bool:
    """Whether ``start``..``end`` lies inside one occurrence of one of the windows."""
    local_start, local_end = start.astimezone(OSLO), end.astimezone(OSLO)
    day = local_start.date()
    midnight = datetime.combine(day, time(0), OSLO)
    for w in windows:
        if w.weekday != day.weekday():
            continue
        # Wall-clock arithmetic on the local day, as people read the agreed window.
        if midnight + w.start <= local_start.replace(tzinfo=OSLO) and local_end <= (
            midnight + w.end
        ):
            return True
    return False
