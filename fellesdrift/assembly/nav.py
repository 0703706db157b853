"""The main navigation, by role: it names every domain's pages, so the assembly owns it."""

from __future__ import annotations

from register.access import Principal
from register.choices import Role


def nav_items(principal: Principal) -> list[tuple[str, str]]:
    items = [("/", "nav.home"), ("/saker", "nav.tickets"), ("/systemer", "nav.systems")]
    if principal.is_admin or (principal.is_drift and Role.AGENT in principal.roles):
        items.insert(1, ("/arbeid", "nav.agent"))
    if principal.is_drift or principal.has(Role.SYSTEMEIER, Role.CAB_MEMBER):
        items.append(("/endringer", "nav.changes"))
    if principal.global_read or principal.kommuner:
        items.append(("/kommuner", "nav.kommuner"))
    if principal.is_admin or principal.has(Role.KOMMUNE_CONTACT):
        items.append(("/brukere", "nav.users"))
    if principal.is_admin:
        items.append(("/import", "nav.import"))
    if principal.is_admin or principal.has(Role.BILLING_ADMIN, Role.FINANCE):
        items.append(("/fakturering", "nav.billing"))
    items.append(("/api-nokler", "nav.tokens"))
    items.append(("/profil", "nav.profile"))
    return items
