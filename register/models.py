"""Tables of the system of record: kommuner, sites, people, access and the systems register.

Every table that holds tenant data is registered in ``register.access`` with the rule that
decides who may see and change its rows; ``tests/test_access_rules.py`` fails for a table that
is not.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from fellesdrift.kernel.types import UTCDateTime, utcnow


def _ts(nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class Kommune(SQLModel, table=True):
    """A participating municipality: the tenant."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=60, unique=True, index=True)
    name: str = Field(max_length=120)
    kommunenummer: str = Field(max_length=4, unique=True, index=True)
    orgnr: str = Field(max_length=9, unique=True, index=True)
    inhabitants: int | None = Field(default=None, ge=0)
    inhabitants_date: date | None = None
    address_line: str = Field(default="", max_length=200)
    postcode: str = Field(default="", max_length=10)
    city: str = Field(default="", max_length=80)
    country: str = Field(default="NO", max_length=2)
    invoice_email: str = Field(default="", max_length=200)
    buyer_reference: str = Field(default="", max_length=120)
    #: The kommune's kontostreng for the unit's invoices (EHF AccountingCost, BT-19/BT-133).
    accounting_cost: str = Field(
        default="", max_length=100, sa_column_kwargs={"server_default": ""}
    )
    #: The order or agreement the invoices refer to (EHF OrderReference, BT-13).
    order_reference: str = Field(default="", max_length=60, sa_column_kwargs={"server_default": ""})
    valid_from: date
    valid_to: date | None = None
    successor_id: int | None = Field(default=None, foreign_key="kommune.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class KommuneContact(SQLModel, table=True):
    __tablename__ = "kommune_contact"

    id: int | None = Field(default=None, primary_key=True)
    kommune_id: int = Field(foreign_key="kommune.id", index=True)
    kind: str = Field(max_length=20)
    name: str = Field(max_length=120)
    title: str = Field(default="", max_length=120)
    email: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)


class Site(SQLModel, table=True):
    """A site (building, school, office) or organisational unit of one kommune."""

    __table_args__ = (UniqueConstraint("kommune_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    kommune_id: int = Field(foreign_key="kommune.id", index=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=160)
    kind: str = Field(default="site", max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="site.id")
    address: str = Field(default="", max_length=200)


class User(SQLModel, table=True):
    """A person who signs in: an employee of a kommune, or of the drift unit (no kommune)."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    full_name: str = Field(max_length=160)
    email: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)
    kommune_id: int | None = Field(default=None, foreign_key="kommune.id", index=True)
    site_id: int | None = Field(default=None, foreign_key="site.id")
    password_hash: str | None = Field(default=None, max_length=300)
    active: bool = True
    language: str = Field(default="nb", max_length=2)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_login_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    role: str = Field(max_length=40)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored (tokens are 256-bit random, not passwords)."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=16, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class WebSession(SQLModel, table=True):
    """A signed-in browser; the cookie carries a random id whose SHA-256 is the key here."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per user name; locks the name for a growing time after too many."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=120)
    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_failure_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ConfigItem(SQLModel, table=True):
    """An entry in the systems register (CMDB)."""

    __tablename__ = "config_item"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=160)
    kind: str = Field(max_length=30, index=True)
    classification: str | None = Field(default=None, max_length=30)
    criticality: str = Field(default="medium", max_length=20)
    life_and_health: bool = False
    finance_payroll: bool = False
    lifecycle: str = Field(default="in_production", max_length=20)
    owner_kommune_id: int | None = Field(default=None, foreign_key="kommune.id", index=True)
    service: str = Field(default="", max_length=120)
    description: str = Field(default="", max_length=4000)
    vendor: str = Field(default="", max_length=120)
    version: str = Field(default="", max_length=60)
    address: str = Field(default="", max_length=255)
    #: Agreed weekly maintenance windows (``register.windows``), e.g. "tue 20:00-24:00".
    maintenance_window: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CIResponsibility(SQLModel, table=True):
    """A named person's role on a system: systemeier, systemadministrator, teknisk."""

    __tablename__ = "ci_responsibility"
    __table_args__ = (UniqueConstraint("ci_id", "user_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    ci_id: int = Field(foreign_key="config_item.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    kind: str = Field(max_length=40)


class CIRelation(SQLModel, table=True):
    """``source`` runs on / depends on ``target``."""

    __tablename__ = "ci_relation"
    __table_args__ = (UniqueConstraint("source_id", "target_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="config_item.id", index=True)
    target_id: int = Field(foreign_key="config_item.id", index=True)
    kind: str = Field(max_length=20)


class CIUsage(SQLModel, table=True):
    """A kommune uses a system with this many users."""

    __tablename__ = "ci_usage"
    __table_args__ = (UniqueConstraint("ci_id", "kommune_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ci_id: int = Field(foreign_key="config_item.id", index=True)
    kommune_id: int = Field(foreign_key="kommune.id", index=True)
    users_count: int = Field(default=0, ge=0)


class MonitorTarget(SQLModel, table=True):
    """What the collectors poll for a CI, published through the inventory feed."""

    __tablename__ = "monitor_target"
    __table_args__ = (UniqueConstraint("ci_id", "probe", "target"),)

    id: int | None = Field(default=None, primary_key=True)
    ci_id: int = Field(foreign_key="config_item.id", index=True)
    probe: str = Field(max_length=10)
    target: str = Field(max_length=255)
    interval_seconds: int = Field(default=60, ge=5, le=86400)
    timeout_seconds: int = Field(default=10, ge=1, le=300)
    enabled: bool = True


class AuditEvent(SQLModel, table=True):
    """Append-only record of who changed what in the register and access control."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: str = Field(max_length=80)
    kommune_id: int | None = Field(default=None, foreign_key="kommune.id", index=True)
    summary: str = Field(default="", max_length=2000)


class JobRun(SQLModel, table=True):
    """The last run of each background job (one row per job), for /metrics and admins.

    Kept in the database, not in a worker's memory: with several web workers the job runs in
    whichever holds its advisory lock, and every worker's /metrics must tell the same story."""

    __tablename__ = "job_run"

    name: str = Field(primary_key=True, max_length=60)
    last_started_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_finished_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_success_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_failure_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    #: The last run's summary (e.g. "sent 3, retried 1") or, after a failure, its error.
    last_result: str = Field(default="", max_length=1000)
    runs: int = 0
    failures: int = 0
