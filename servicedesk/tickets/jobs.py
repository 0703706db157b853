"""Background jobs of the tickets (run by ``register.jobs``; the assembly registers them).

=============  ===========  ===========================================================
job            every        what
=============  ===========  ===========================================================
``outbox``     15 s         send due notifications (``service.outbox.send_due``)
``autoclose``  10 min       close tickets resolved more than N working days ago
                            (``service.lifecycle.close_resolved``); forget idempotency keys
                            older than 24 hours (``idempotency.prune``); settle files a
                            dying process left half-stored (``attachments.sweep_files``)
=============  ===========  ===========================================================
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.engine import Engine

from fellesdrift.kernel.settings import Settings
from register.jobs import Job, JobFailed, system_session

log = logging.getLogger("fellesdrift.jobs")

_warned: set[str] = set()


def _outbox(settings: Settings, engine: Engine) -> str:
    from servicedesk.tickets.service.outbox import send_due

    report = send_due(lambda: system_session(engine, settings, "outbox"), settings)
    if not report.smtp_configured and report.left_pending and "smtp" not in _warned:
        _warned.add("smtp")  # once per process; the metrics and /api/v1/outbox keep count
        log.warning(
            "SMTP is not configured (FELLESDRIFT_SMTP_HOST): %s notifications wait in the outbox",
            report.left_pending,
        )
    if report.smtp_error:
        raise JobFailed(str(report))
    return str(report)


def _autoclose(settings: Settings, engine: Engine) -> str:
    from servicedesk.tickets.idempotency import prune
    from servicedesk.tickets.service.attachments import sweep_files
    from servicedesk.tickets.service.lifecycle import close_resolved

    with system_session(engine, settings, "autoclose") as session:
        closed = close_resolved(session)
        forgotten = prune(session)  # idempotency keys past their 24 hours
        session.commit()
        renamed, removed = sweep_files(session)  # files a dying process left half-stored
    result = f"closed {len(closed)}" + (f": {', '.join(map(str, closed[:20]))}" if closed else "")
    result += f"; forgot {forgotten} idempotency keys" if forgotten else ""
    return result + (f"; files settled {renamed}, removed {removed}" if renamed or removed else "")


JOBS: tuple[Job, ...] = (
    Job("outbox", timedelta(seconds=15), _outbox, "send due notifications by SMTP"),
    Job(
        "autoclose",
        timedelta(minutes=10),
        _autoclose,
        "close tickets resolved longer ago than FELLESDRIFT_TICKET_AUTOCLOSE_WORKING_DAYS",
        first_delay=timedelta(seconds=60),
    ),
)
