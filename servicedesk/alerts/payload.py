"""The body Alertmanager posts to a webhook receiver (payload version 4).

Only what the integration uses is declared; every other field (``groupLabels``,
``commonAnnotations``, ``truncatedAlerts``, fields of later Alertmanager versions) is ignored, so
an Alertmanager upgrade that adds fields does not break the webhook.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Alertmanager's "no end time": ``0001-01-01T00:00:00Z``.
NO_TIME = datetime(1, 1, 1, tzinfo=UTC)
#: A label or annotation value longer than this is cut (they end up in the ticket's text).
MAX_VALUE = 2000


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Alert(Lenient):
    """One alert; the field names are Alertmanager's."""

    status: AlertStatus
    labels: dict[str, str] = Field(min_length=1, max_length=200)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=200)
    startsAt: datetime
    endsAt: datetime = NO_TIME
    generatorURL: str = Field(default="", max_length=2000)
    #: Alertmanager's hash of the labels (16 hex digits): the same alert, however often sent.
    fingerprint: str = Field(pattern=r"^[0-9a-fA-F]{1,64}$")

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("a timestamp needs its time zone (RFC 3339, e.g. ...Z)")
        return value.astimezone(UTC)

    @field_validator("labels", "annotations")
    @classmethod
    def _short_values(cls, value: dict[str, str]) -> dict[str, str]:
        return {
            k[:200]: v if len(v) <= MAX_VALUE else v[:MAX_VALUE] + " …" for k, v in value.items()
        }

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def ended_at(self) -> datetime | None:
        return None if self.endsAt <= NO_TIME else self.endsAt


class Notification(Lenient):
    version: Literal["4"]
    groupKey: str = Field(max_length=10000)
    status: AlertStatus
    receiver: str = Field(max_length=500)
    externalURL: str = Field(default="", max_length=2000)
    alerts: list[Alert] = Field(max_length=10000)
