"""The service desk proper: incidents, service requests and problems.

Importing the package registers its tables' access rules.
"""

from servicedesk.tickets import clock_rules as _clock_rules  # noqa: F401
from servicedesk.tickets import idempotency as _idempotency  # noqa: F401
from servicedesk.tickets import rules as _rules  # noqa: F401
