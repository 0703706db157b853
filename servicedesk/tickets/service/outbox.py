"""The outbox sender: delivers stored notifications by SMTP, safe with several workers.

Every notification is written to the ``notification`` table in the same transaction as the
change that causes it (see ``notify``); :func:`send_due` sends the due ones. The protocol, after
healthchecks' ``sendalerts``:

1. **claim** one row with a conditional ``UPDATE ... WHERE id = :id AND state = 'pending' AND
   next_attempt_at <= :now`` that moves ``next_attempt_at`` a lease (:data:`LEASE`) ahead and
   counts the attempt, and commit it. Only the worker whose UPDATE changed one row sends it;
   every other worker's UPDATE finds nothing (on PostgreSQL it waits for the first commit and
   re-checks the condition), so no two workers send one row;
2. **send** it (one message per row, one recipient per message);
3. **record** the outcome: ``sent`` with ``sent_at``; or a retry at an exponentially growing,
   jittered delay (:class:`RetryPolicy`); or, after the last attempt, ``failed`` (shown to
   admins: ``GET /api/v1/outbox``, ``fellesdrift_outbox_failed``, and they can requeue it).

**Never lost, at worst twice.** A row is only marked sent after the SMTP server accepted the
message. If the process dies between the server's "250 OK" and the commit of ``sent``, the
lease runs out and the row is sent again: at-least-once delivery. The message keeps its
``Message-ID`` (``<created.id.notification@domain>``), so mail systems and clients can recognise
the duplicate. A crash before the send simply leaves the claimed row to be sent after the lease.

When SMTP is not configured (``FELLESDRIFT_SMTP_HOST`` empty) nothing is claimed: the rows stay
pending, and their number is visible to admins.

**An outage is a failed run.** When the SMTP server cannot be reached or used, the report's
``smtp_error`` says why, and the ``outbox`` job records the run as failed (job status, metrics,
alerts). Runs between retries have no row due; while rows wait for a retry, such a run checks the
connection (connect and log in, nothing sent), so every run of an outage fails, not only the
ones that had a row to send.

The SMTP password (``smtp_password``) is used for ``AUTH`` only: it is never logged, and it is
removed from any error text that is stored or logged.
"""

from __future__ import annotations

import logging
import random
import smtplib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from fellesdrift.kernel.settings import Settings
from fellesdrift.kernel.types import utcnow
from register.access import Principal, bind, elevated, principal_of
from servicedesk.tickets.choices import OutboxState
from servicedesk.tickets.models import Notification
from servicedesk.tickets.service.mail import (
    ConnectionTrouble,
    Mailer,
    PermanentError,
    build_message,
    describe_error,
    envelope_sender,
)

log = logging.getLogger("fellesdrift.outbox")

#: How long a claimed row is reserved for the worker that claimed it. It must be longer than one
#: send can take (connect + reconnect, each bounded by SMTP_TIMEOUT), or a slow send could be
#: claimed a second time.
LEASE = timedelta(minutes=5)
PENDING, SENT, FAILED = OutboxState.PENDING.value, OutboxState.SENT.value, OutboxState.FAILED.value


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits base * 2**(n-1), capped, of which a
    random half, so that rows that failed together (SMTP down) do not come back together.
    The defaults give up after 10 attempts, about 8 to 16 hours after the first."""

    max_attempts: int = 10
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=4)

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        full = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        return full / 2 + full / 2 * (rng or random).random()


DEFAULT_POLICY = RetryPolicy()


@dataclass
class SendReport:
    """What one :func:`send_due` run did."""

    smtp_configured: bool = True
    sent: int = 0
    retried: int = 0
    failed: int = 0
    #: Rows another worker claimed between our look-up and our claim.
    taken_elsewhere: int = 0
    #: Due rows left pending (SMTP not configured, or the run stopped at a connection error).
    left_pending: int = 0
    sent_ids: list[int] = field(default_factory=list)
    #: Why the SMTP server could not be reached or used in this run (without secrets); empty
    #: when it could, or was not needed.
    smtp_error: str = ""

    def __str__(self) -> str:
        if not self.smtp_configured:
            return f"SMTP not configured; {self.left_pending} due notifications wait"
        counts = (
            f"sent {self.sent}, retry later {self.retried}, failed {self.failed}, "
            f"taken by another worker {self.taken_elsewhere}, left pending {self.left_pending}"
        )
        return (
            f"SMTP server unavailable: {self.smtp_error}; {counts}" if self.smtp_error else counts
        )


# ---- the run ----------------------------------------------------------------------------------


def send_due(
    session_factory: Callable[[], Session],
    settings: Settings,
    now: datetime | None = None,
    batch: int = 50,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> SendReport:
    """Send up to ``batch`` due notifications; see the module docstring for the protocol.

    ``session_factory`` makes a new session (e.g. ``lambda: Session(engine)``); it is bound to
    the system principal here. ``now`` is the clock (tests move it forward)."""
    now = now or utcnow()
    report = SendReport(smtp_configured=bool(settings.smtp_host))
    with bind(session_factory(), Principal.system("outbox")) as session:
        if not report.smtp_configured:
            report.left_pending = _count_due(session, now)
            return report
        sender = envelope_sender(settings)  # a bad FELLESDRIFT_SMTP_FROM fails the run, not rows
        ids = _due_ids(session, now, batch)
        session.commit()
        started = time.monotonic()
        mailer = Mailer(settings)
        if not ids and _waiting_for_retry(session, now):
            report.smtp_error = _connection_error(mailer)
            return report
        try:
            for position, notification_id in enumerate(ids):
                # The lease runs from the claim, not from the start of the batch.
                claimed_at = now + timedelta(seconds=time.monotonic() - started)
                row = _claim(session, notification_id, claimed_at)
                if row is None:
                    report.taken_elsewhere += 1
                    continue
                if not _deliver(session, mailer, row, sender, claimed_at, policy, report):
                    report.left_pending += len(ids) - position - 1
                    break
        finally:
            mailer.close()
    return report


def _count_due(session: Session, now: datetime) -> int:
    # count(column), not count(*): the access layer recognises the table by its columns.
    stmt = select(func.count(col(Notification.id))).where(
        Notification.state == PENDING, col(Notification.next_attempt_at) <= now
    )
    return int(session.exec(stmt).one())


def _waiting_for_retry(session: Session, now: datetime) -> bool:
    stmt = select(Notification.id).where(
        Notification.state == PENDING,
        col(Notification.next_attempt_at) > now,
        col(Notification.last_error) != "",
    )
    return session.exec(stmt.limit(1)).first() is not None


def _connection_error(mailer: Mailer) -> str:
    """Connect (and log in) to the SMTP server and leave again: the error, or ""."""
    try:
        mailer.check()
    except ConnectionTrouble as exc:
        return describe_error(exc.cause, mailer.settings)
    return ""


def _due_ids(session: Session, now: datetime, batch: int) -> list[int]:
    stmt = (
        select(Notification.id)
        .where(Notification.state == PENDING, col(Notification.next_attempt_at) <= now)
        .order_by(col(Notification.next_attempt_at), col(Notification.id))
        .limit(batch)
    )
    return [i for i in session.exec(stmt) if i is not None]


def _claim(session: Session, notification_id: int, now: datetime) -> Notification | None:
    """Claim the row for this worker (committed), or None if another worker has it."""
    result: Any = session.execute(
        update(Notification)
        .where(
            col(Notification.id) == notification_id,
            col(Notification.state) == PENDING,
            col(Notification.next_attempt_at) <= now,
        )
        .values(next_attempt_at=now + LEASE, attempts=col(Notification.attempts) + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:
        return None
    stmt = select(Notification).where(Notification.id == notification_id)
    return session.exec(stmt.execution_options(populate_existing=True)).one()


def _deliver(
    session: Session,
    mailer: Mailer,
    row: Notification,
    sender: str,
    now: datetime,
    policy: RetryPolicy,
    report: SendReport,
) -> bool:
    """Send one claimed row and record the outcome; False if the SMTP connection failed (the
    rest of the batch then waits for the next run)."""
    assert row.id is not None
    settings = mailer.settings
    try:
        message, recipient = build_message(row, settings, now)
        mailer.send(message, sender, recipient)
    except PermanentError as exc:
        _give_up(session, row, describe_error(exc, settings), now, report)
        return True
    except ConnectionTrouble as exc:
        report.smtp_error = describe_error(exc.cause, settings)
        _retry_or_give_up(session, row, report.smtp_error, now, policy, report)
        return False
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        _retry_or_give_up(session, row, describe_error(exc, settings), now, policy, report)
        return True
    _mark_sent(session, row, now)
    report.sent += 1
    report.sent_ids.append(row.id)
    return True


# ---- recording outcomes -----------------------------------------------------------------------


def _mark_sent(session: Session, row: Notification, now: datetime) -> None:
    # No lease condition here: the message went, so "sent" is the truth whoever holds the row.
    _update(session, row, {"state": SENT, "sent_at": now, "last_error": ""}, own_claim=False)


def _retry_or_give_up(
    session: Session,
    row: Notification,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    report: SendReport,
) -> None:
    if row.attempts >= policy.max_attempts:
        _give_up(session, row, error, now, report)
        return
    retry_at = now + policy.delay(row.attempts)
    _update(session, row, {"next_attempt_at": retry_at, "last_error": error})
    report.retried += 1
    log.warning(
        "notification %s not sent (attempt %s of %s): %s; next try at %s",
        row.id,
        row.attempts,
        policy.max_attempts,
        error,
        retry_at.isoformat(timespec="seconds"),
    )


def _give_up(
    session: Session, row: Notification, error: str, now: datetime, report: SendReport
) -> None:
    _update(session, row, {"state": FAILED, "last_error": error})
    report.failed += 1
    log.error("notification %s failed after %s attempts: %s", row.id, row.attempts, error)


def _update(
    session: Session, row: Notification, values: dict[str, Any], own_claim: bool = True
) -> None:
    """Change the row if it is still pending (and, with ``own_claim``, still our claim: the
    attempt count we set; after a lease ran out another worker may have claimed it)."""
    conditions = [col(Notification.id) == row.id, col(Notification.state) == PENDING]
    if own_claim:
        conditions.append(col(Notification.attempts) == row.attempts)
    session.execute(
        update(Notification)
        .where(*conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()


# ---- for admins -------------------------------------------------------------------------------


@dataclass
class OutboxStatus:
    smtp_configured: bool
    pending: int
    due: int
    failed: int
    oldest_pending_at: datetime | None
    failed_rows: list[Notification]


def status(session: Session, settings: Settings, limit: int = 100) -> OutboxStatus:
    """Counts of the outbox and its most recent failed rows, as the session's principal sees
    them (all of them for admins)."""
    now = utcnow()
    counts = dict(
        session.execute(
            select(Notification.state, func.count(col(Notification.id)))
            .where(col(Notification.state).in_([PENDING, FAILED]))
            .group_by(col(Notification.state))
        ).all()
    )
    oldest = session.exec(
        select(func.min(Notification.created_at)).where(Notification.state == PENDING)
    ).one()
    failed_rows = session.exec(
        select(Notification)
        .where(Notification.state == FAILED)
        .order_by(col(Notification.id).desc())
        .limit(limit)
    ).all()
    return OutboxStatus(
        smtp_configured=bool(settings.smtp_host),
        pending=int(counts.get(PENDING, 0)),
        due=_count_due(session, now),
        failed=int(counts.get(FAILED, 0)),
        oldest_pending_at=oldest,
        failed_rows=list(failed_rows),
    )


def requeue(session: Session, ids: Iterable[int], now: datetime | None = None) -> list[int]:
    """Send failed notifications again (e.g. after the mailbox was fixed), with a fresh count
    of attempts. Admins only; returns the ids that were failed and are pending again."""
    from fellesdrift.kernel.problems import forbidden

    if not principal_of(session).is_admin:
        raise forbidden("only administrators requeue notifications")
    wanted = sorted(set(ids))
    now = now or utcnow()
    done = []
    with elevated(session, "outbox-requeue"):
        rows = session.exec(
            select(Notification).where(
                col(Notification.id).in_(wanted), Notification.state == FAILED
            )
        ).all()
        for row in rows:
            row.state, row.attempts, row.next_attempt_at = PENDING, 0, now
            done.append(row.id)
    return sorted(i for i in done if i is not None)
