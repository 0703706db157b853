"""The portal for the kommuner's employees: their tickets ("/saker"), filing a new one in three
steps ("/saker/ny"), one ticket with its timeline ("/saker/{id}") and the approvals waiting
for them ("/godkjenninger"). Server-rendered, usable without JavaScript.

``router`` is the one the app includes; the pages live in the ``portal_*`` modules.
"""

from __future__ import annotations

from fastapi import APIRouter

from servicedesk.tickets.routes import portal_approvals, portal_list, portal_new, portal_ticket
from servicedesk.tickets.routes.portal_common import PORTAL_DEPENDENCIES

router = APIRouter(include_in_schema=False, dependencies=PORTAL_DEPENDENCIES)
# The new-ticket steps come before the ticket page so that "/saker/ny" is never an id.
for _module in (portal_list, portal_new, portal_ticket, portal_approvals):
    router.include_router(_module.router)
