"""Enumerations of the service desk, each value with its label key in the string catalogue."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    END_USER = "end_user"
    KOMMUNE_CONTACT = "kommune_contact"
    AGENT = "agent"
    SYSTEMEIER = "systemeier"
    SYSTEMADMINISTRATOR = "systemadministrator"
    CAB_MEMBER = "cab_member"
    FINANCE = "finance"
    BILLING_ADMIN = "billing_admin"
    ADMIN = "admin"


#: Roles held only by staff of the drift unit (users without a kommune).
DRIFT_ROLES = frozenset({Role.AGENT, Role.BILLING_ADMIN, Role.ADMIN})
#: Roles held only by employees of a kommune.
KOMMUNE_ROLES = frozenset({Role.END_USER, Role.KOMMUNE_CONTACT, Role.FINANCE})
#: Roles scoped to the systems a user is named on in the systems register.
SYSTEM_ROLES = frozenset({Role.SYSTEMEIER, Role.SYSTEMADMINISTRATOR})


class ContactKind(StrEnum):
    IT = "it"
    LEADERSHIP = "leadership"
    FINANCE = "finance"
    SECURITY = "security"
    OTHER = "other"


class SiteKind(StrEnum):
    SITE = "site"
    ORG_UNIT = "org_unit"


class CIKind(StrEnum):
    SERVER = "server"
    NETWORK_DEVICE = "network_device"
    SERVICE_ENDPOINT = "service_endpoint"
    FAGSYSTEM = "fagsystem"
    DATABASE = "database"


class Classification(StrEnum):
    FELLESSYSTEM = "fellessystem"
    SEKTORSYSTEM = "sektorsystem"
    TVERRSEKTORIELT = "tverrsektorielt"
    VIRKSOMHETSSPESIFIKT = "virksomhetsspesifikt"


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Lifecycle(StrEnum):
    PLANNED = "planned"
    IN_PRODUCTION = "in_production"
    RETIRING = "retiring"
    RETIRED = "retired"


class Responsibility(StrEnum):
    SYSTEMEIER = "systemeier"
    SYSTEMADMINISTRATOR = "systemadministrator"
    TEKNISK_SYSTEMADMINISTRATOR = "teknisk_systemadministrator"


class RelationKind(StrEnum):
    RUNS_ON = "runs_on"
    DEPENDS_ON = "depends_on"


class ProbeKind(StrEnum):
    HTTP = "http"
    TCP = "tcp"
    TLS = "tls"
    DNS = "dns"
    ICMP = "icmp"
    SSH = "ssh"


class TokenScope(StrEnum):
    READ = "read"
    WRITE = "write"
    INVENTORY = "inventory"
    ADMIN = "admin"


def label_key(value: StrEnum) -> str:
    """Catalogue key for an enum value, e.g. ``choice.Role.agent``."""
    return f"choice.{type(value).__name__}.{value.value}"
