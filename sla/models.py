"""Tables of the SLA: service agreements, their levels, targets and the services they cover.

An agreement belongs to one kommune, or to nobody: then it is the unit's default agreement,
which covers whatever a kommune's own agreement does not name. Agreements are versioned by
validity dates like the price model: versions of one kommune never overlap. Access rules are
registered in ``sla.rules``.

Room for what comes later (issue 12, items 5-7): availability is measured per covered service
(``SlaService.id``) against ``availability_target_bp``; the monthly report and service credits
hang on the agreement version and its services.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from fellesdrift.kernel.types import UTCDateTime, utcnow


def _ts() -> Any:
    return Column(UTCDateTime(), nullable=False)


class SlaAgreement(SQLModel, table=True):
    """One version of a kommune's service agreement (or of the unit's default agreement)."""

    __tablename__ = "sla_agreement"

    id: int | None = Field(default=None, primary_key=True)
    #: The natural key: an import replaces the stored version of the same name.
    name: str = Field(max_length=120, unique=True)
    #: None: the unit's default agreement.
    kommune_id: int | None = Field(default=None, foreign_key="kommune.id", index=True)
    valid_from: date
    valid_to: date | None = None
    #: The level for services the agreement does not name (None: the default agreement's).
    default_level: str | None = Field(default=None, max_length=60)
    #: Extra closed days of the service desk: "MM-DD" every year (julaften "12-24") or a date
    #: "YYYY-MM-DD". The default agreement's closed days are the unit's and apply to everyone.
    closed_days: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: E-mail addresses told of a warning or breach on a P1 or a major incident: on the
    #: default agreement, the unit's leadership; on a kommune's, whoever it names in addition.
    leadership_emails: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    note: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class SlaLevel(SQLModel, table=True):
    """A service level of an agreement: calendar, pause reasons and warning thresholds."""

    __tablename__ = "sla_level"
    __table_args__ = (UniqueConstraint("agreement_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="sla_agreement.id", index=True)
    key: str = Field(max_length=60)
    name: str = Field(max_length=120)
    #: A key of ``sla.calendar.CALENDARS``: ``service_desk`` or ``round_the_clock``.
    calendar: str = Field(max_length=30)
    #: Pending reasons that pause the clocks (``user``, ``vendor``, ``change``, ``approval``).
    pause_reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: Warning thresholds in percent of a target, ascending (default 75 and 100).
    warn_at: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class SlaTarget(SQLModel, table=True):
    """A level's response and resolution targets for one priority, in business minutes."""

    __tablename__ = "sla_target"
    __table_args__ = (UniqueConstraint("level_id", "priority"),)

    id: int | None = Field(default=None, primary_key=True)
    level_id: int = Field(foreign_key="sla_level.id", index=True)
    priority: int = Field(ge=1, le=4)
    response_minutes: int = Field(gt=0)
    resolution_minutes: int = Field(gt=0)


class SlaService(SQLModel, table=True):
    """A service the agreement names: a system of the register (``ci_id``) or a service of the
    catalogue (``catalogue_key``, the catalogue item's key), with its level."""

    __tablename__ = "sla_service"
    __table_args__ = (UniqueConstraint("agreement_id", "ci_id", "catalogue_key"),)

    id: int | None = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="sla_agreement.id", index=True)
    level_id: int = Field(foreign_key="sla_level.id", index=True)
    ci_id: int | None = Field(default=None, foreign_key="config_item.id")
    catalogue_key: str | None = Field(default=None, max_length=80)
    #: Availability target per month within the level's calendar, in hundredths of a percent
    #: (99.5 % is 9950); measured later.
    availability_target_bp: int | None = Field(default=None, gt=0, le=10000)


class SlaRevision(SQLModel, table=True):
    """One row whose number moves with every change of the agreements: each process keeps the
    agreements in memory and reloads them when the number moved (``sla.agreements``)."""

    __tablename__ = "sla_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = 0
    changed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
