"""Input shapes of the agreements (YAML import, API): every rule that needs no database.

Durations are business minutes, given as a number of minutes or as text such as ``15m``,
``2h`` or ``1h30m``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from sla.calendar import CALENDARS
from sla.clock import DEFAULT_WARN_AT, split_closed_days

PREFIX = "sla_err."
#: The pending reasons a level may pause on (the service desk's PendingReason values).
PAUSE_REASONS = ("user", "vendor", "change", "approval")
PRIORITIES = (1, 2, 3, 4)
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")


def rule(code: str, template: str, /, **params: Any) -> PydanticCustomError:
    """A broken rule whose type is its catalogue key (``sla_err.<code>``)."""
    return PydanticCustomError(PREFIX + code, template.format(**params), params)


def _minutes(value: Any) -> Any:
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        match = _DURATION.match(value)
        if not match or not any(match.groups()):
            raise rule("duration", "{value!r} is no duration (e.g. 15m, 2h, 1h30m)", value=value)
        hours, minutes = (int(g or 0) for g in match.groups())
        return hours * 60 + minutes
    return value


Minutes = Annotated[int, BeforeValidator(_minutes)]


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response: Minutes
    resolution: Minutes

    @model_validator(mode="after")
    def _check(self) -> TargetIn:
        for name in ("response", "resolution"):
            if getattr(self, name) <= 0:
                raise rule(
                    "target_not_positive",
                    "{name}: a target must be more than zero minutes",
                    name=name,
                )
        if self.response > self.resolution:
            raise rule("response_after_resolution", "response: must not be longer than resolution")
        return self


class LevelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=120)
    calendar: str
    pause_on: list[str] = Field(default_factory=lambda: ["user", "vendor"])
    warn_at: list[int] = Field(default_factory=lambda: list(DEFAULT_WARN_AT))
    targets: dict[int, TargetIn]

    @model_validator(mode="after")
    def _check(self) -> LevelIn:
        if self.calendar not in CALENDARS:
            raise rule(
                "unknown_calendar",
                "calendar: unknown calendar {value!r} (known: {known})",
                value=self.calendar,
                known=", ".join(CALENDARS),
            )
        unknown = [r for r in self.pause_on if r not in PAUSE_REASONS]
        if unknown:
            raise rule(
                "unknown_pause_reason",
                "pause_on: unknown pending reason {value!r} (known: {known})",
                value=unknown[0],
                known=", ".join(PAUSE_REASONS),
            )
        if sorted(set(self.targets)) != list(PRIORITIES):
            raise rule("priorities", "targets: give a target for each priority 1, 2, 3 and 4")
        if not self.warn_at or any(not 0 < t <= 100 for t in self.warn_at):
            raise rule("warn_at", "warn_at: thresholds are percents from 1 to 100")
        self.warn_at = sorted(set(self.warn_at))
        return self


def _percent(value: Any) -> Any:
    return Decimal(str(value)) if isinstance(value, (int, float, str)) else value


class ServiceIn(BaseModel):
    """A service the agreement names: a system (its register key) or a catalogue service."""

    model_config = ConfigDict(extra="forbid")

    system: str | None = None
    service: str | None = None
    level: str
    availability: Annotated[Decimal | None, BeforeValidator(_percent)] = None

    @model_validator(mode="after")
    def _check(self) -> ServiceIn:
        if (self.system is None) == (self.service is None):
            raise rule("system_or_service", "system: name either a system or a service")
        a = self.availability
        if a is not None and (a <= 0 or a > 100 or a != a.quantize(Decimal("0.01"))):
            raise rule("availability", "availability: a percent above 0, at most 100, two decimals")
        return self

    def ref(self) -> str:
        return f"system {self.system!r}" if self.system else f"service {self.service!r}"


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    #: The kommune's slug; empty for the unit's default agreement.
    kommune: str | None = None
    valid_from: date
    valid_to: date | None = None
    default_level: str | None = None
    closed_days: list[str] = Field(default_factory=list)
    leadership: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list
    )
    note: str = Field(default="", max_length=2000)
    levels: list[LevelIn] = Field(min_length=1)
    services: list[ServiceIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> AgreementIn:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise rule("period", "valid_to: must not be before valid_from")
        keys = [lv.key for lv in self.levels]
        if len(set(keys)) != len(keys):
            raise rule("duplicate_level", "levels: a level key is given twice")
        if self.default_level is not None and self.default_level not in keys:
            raise rule(
                "unknown_level", "default_level: no level {value!r}", value=self.default_level
            )
        for s in self.services:
            if s.level not in keys:
                raise rule(
                    "unknown_level",
                    "services: no level {value!r} for {ref}",
                    value=s.level,
                    ref=s.ref(),
                )
        try:
            split_closed_days(self.closed_days)
        except ValueError:
            raise rule("closed_day", "closed_days: use MM-DD (every year) or YYYY-MM-DD") from None
        if self.kommune is None and self.default_level is None:
            raise rule(
                "default_needs_level",
                "default_level: the default agreement needs a default level",
            )
        return self


class AgreementsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agreements: list[AgreementIn] = Field(min_length=1)
