"""Change management (endringer) and the change-advisory board (CAB).

Layer: service desk. Uses the register (systems, people, roles), sla (the business calendar)
and the tickets package (a change is a ticket of type ``change``: it shares the tickets'
numbers, TLP label, watchers and timeline). Nothing below imports this package.

Importing the package registers its tables' access rules and its metrics.
"""

from servicedesk.changes import metrics as _metrics  # noqa: F401
from servicedesk.changes import rules as _rules  # noqa: F401
from servicedesk.changes.choices import CHANGE_TICKET_TYPE
from servicedesk.tickets.choices import OWN_PAGES

OWN_PAGES[CHANGE_TICKET_TYPE] = "/endringer/{id}"
