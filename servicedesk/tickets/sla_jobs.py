"""Background job of the SLA clocks (run by ``register.jobs``; the assembly registers it).

==============  =====  =====================================================================
job             every  what
==============  =====  =====================================================================
``sla-escalate``  1 min  warn at the clocks' thresholds and record breaches, once each
                       (``service.escalation.escalate``)
==============  =====  =====================================================================
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from fellesdrift.kernel.settings import Settings
from register.jobs import Job, system_session


def _escalate(settings: Settings, engine: Engine) -> str:
    from servicedesk.tickets.service.escalation import escalate

    report = escalate(lambda: system_session(engine, settings, "sla-escalate"))
    return str(report)


JOBS: tuple[Job, ...] = (
    Job(
        "sla-escalate",
        timedelta(minutes=1),
        _escalate,
        "warn at SLA thresholds and record breaches (each once per clock)",
        first_delay=timedelta(seconds=30),
    ),
)
