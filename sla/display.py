"""How durations and clocks read on pages, in the page's language ("2 t 30 min", "3 d 1 t")."""

from __future__ import annotations

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.web import add_template_global


def duration(seconds: float, lang: str) -> str:
    """Whole minutes, as days (of 24 h), hours and minutes: what is left or overdue."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(translate("sla.unit.days", lang, n=days))
    if hours:
        parts.append(translate("sla.unit.hours", lang, n=hours))
    if mins or not parts:
        parts.append(translate("sla.unit.minutes", lang, n=mins))
    return " ".join(parts[:2])


def minutes_text(minutes: int, lang: str) -> str:
    return duration(minutes * 60, lang)


add_template_global("sla_duration", duration)
add_template_global("sla_minutes", minutes_text)
