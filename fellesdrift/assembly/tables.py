"""Every domain package's tables, in one import: for migrations, the app and the tests.

Importing this puts all tables on ``SQLModel.metadata`` and registers their access rules.
"""

import billing.rules  # noqa: F401
import register.models  # noqa: F401
import servicedesk.changes
import servicedesk.tickets  # noqa: F401
import sla.rules  # noqa: F401
