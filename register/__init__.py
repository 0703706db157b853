"""The register, the system of record: kommuner (tenants) and their mergers, sites, contacts,
people and roles, sign-in and API tokens, the access layer, the systems register (CMDB), the
inventory feed for the collectors, import/export and audit.

Layer: above the kernel (``fellesdrift.kernel``), below sla, servicedesk and billing. It may
import only the kernel; the domains above build on it (its access layer filters their tables too).
"""
