"""The main navigation, by role: it names every domain's pages, so the assembly owns it."""

from __future__ import annotations

from register.access import Principal
from register.choices import Role


def is_employee_only(principal: Principal) -> bool:
    """An employee of a kommune with no other role: the portal is all they use, so the
    register, the kommuner and API keys are not offered to them."""
    return not principal.is_system and principal.roles <= {Role.END_USER}


def nav_items(principal: Principal) -> list[tuple[str, str]]:
    employee = is_employee_only(principal)
    items = [("/", "nav.home"), ("/saker", "nav.tickets")]
    if not employee:
        items.append(("/systemer", "nav.systems"))
    if principal.is_admin or (principal.is_drift and Role.AGENT in principal.roles):
        items.insert(1, ("/arbeid", "nav.agent"))
    if principal.is_drift or principal.has(Role.SYSTEMEIER, Role.CAB_MEMBER):
        items.append(("/endringer", "nav.changes"))
    if not employee and (principal.global_read or principal.kommuner):
        items.append(("/kommuner", "nav.kommuner"))
    if principal.is_admin or principal.has(Role.KOMMUNE_CONTACT):
        items.append(("/brukere", "nav.users"))
    if principal.is_admin:
        items.append(("/import", "nav.import"))
    if principal.global_read or principal.has(Role.KOMMUNE_CONTACT):
        items.append(("/tjenesteavtaler", "nav.sla"))
    if principal.is_admin or principal.has(Role.BILLING_ADMIN, Role.FINANCE):
        items.append(("/fakturering", "nav.billing"))
    if not employee:
        items.append(("/api-nokler", "nav.tokens"))
    items.append(("/profil", "nav.profile"))
    return items
