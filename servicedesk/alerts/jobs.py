"""Background job of alerts -> incidents (run by ``register.jobs``; the assembly registers it)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from fellesdrift.kernel.settings import Settings
from register.jobs import Job


def _alerts_reconcile(settings: Settings, engine: Engine) -> str:
    from servicedesk.alerts.reconcile import reconcile

    return reconcile(settings, engine)


#: Every minute: resolve alert incidents whose alert vanished from Alertmanager (off without
#: ``FELLESDRIFT_ALERTMANAGER_URL``).
JOBS: tuple[Job, ...] = (
    Job(
        "alerts_reconcile",
        timedelta(minutes=1),
        _alerts_reconcile,
        "resolve alert incidents whose alert vanished from Alertmanager",
        first_delay=timedelta(seconds=30),
    ),
)
