"""Background jobs of the service desk and the scheduler that runs them.

=============  ===========  ===========================================================
job            every        what
=============  ===========  ===========================================================
``outbox``     15 s         send due notifications (``service.outbox.send_due``)
``autoclose``  10 min       close tickets resolved more than N working days ago
                            (``service.lifecycle.close_resolved``); forget idempotency keys
                            older than 24 hours (``idempotency.prune``); settle files a
                            dying process left half-stored (``attachments.sweep_files``)
=============  ===========  ===========================================================

and ``alerts_reconcile`` every minute: resolve alert incidents whose alert vanished from
Alertmanager (``servicedesk.alerts.reconcile``; off without ``FELLESDRIFT_ALERTMANAGER_URL``).

Where they run: ``fellesdrift jobs run`` runs the scheduler in the foreground (a systemd unit
of its own), ``fellesdrift jobs once NAME`` runs one job now, and the web app starts the
scheduler in-process when ``FELLESDRIFT_RUN_JOBS`` is true (the default in demo mode).

Any number of processes may run the scheduler: each run of a job takes a PostgreSQL advisory
lock named after the job (``pg_try_advisory_lock``) and is skipped where the lock is taken, so
one run happens at a time across all web workers and machines. On SQLite the lock is a no-op:
the embedded default runs on one machine, and both jobs are safe to run concurrently anyway
(row claims in the outbox, version checks in auto-close). A job that raises is logged and
recorded in ``job_run``, and the scheduler keeps going. A job that finds the world broken
(the outbox during an SMTP outage) raises :class:`JobFailed`: the run is recorded as failed with
that message and logged on one line, without a traceback.

Every run is recorded in the ``job_run`` table (last start, success, failure, result), which
``/metrics`` exposes as ``fellesdrift_job_last_success_timestamp_seconds{job}``.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from fellesdrift.settings import Settings
from fellesdrift.types import utcnow
from servicedesk.access import Principal, bind
from servicedesk.tickets.models import JobRun

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("fellesdrift.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[Settings, Engine], str]
    description: str = ""
    #: Delay of the first run after the scheduler starts inside the web app (so start-up and
    #: health checks are not slowed down); ``jobs run`` starts at once.
    first_delay: timedelta = timedelta(seconds=5)


class JobFailed(Exception):
    """A job's run failed for a reason outside the code (a server down): recorded as a failed
    run with this message, and logged without a traceback."""


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    LOCKED = "locked"  # another process is running it


def system_session(engine: Engine, settings: Settings, reason: str) -> Session:
    session = bind(Session(engine, expire_on_commit=False), Principal.system(reason))
    session.info["settings"] = settings
    return session


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


def _alerts_reconcile(settings: Settings, engine: Engine) -> str:
    from servicedesk.alerts.reconcile import reconcile

    return reconcile(settings, engine)


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("outbox", timedelta(seconds=15), _outbox, "send due notifications by SMTP"),
        Job(
            "autoclose",
            timedelta(minutes=10),
            _autoclose,
            "close tickets resolved longer ago than FELLESDRIFT_TICKET_AUTOCLOSE_WORKING_DAYS",
            first_delay=timedelta(seconds=60),
        ),
        Job(
            "alerts_reconcile",
            timedelta(minutes=1),
            _alerts_reconcile,
            "resolve alert incidents whose alert vanished from Alertmanager",
            first_delay=timedelta(seconds=30),
        ),
    )
}


# ---- locking and running ----------------------------------------------------------------------


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    digest = hashlib.sha256(f"fellesdrift.job.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def advisory_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True if this process got the job's lock (held until the block ends), else False.

    The lock is session-level and lives on a connection of its own, outside any transaction,
    so the job's own transactions commit freely; should the process die, PostgreSQL releases
    the lock with the connection. On SQLite: always True (see the module docstring)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    with engine.connect() as connection:
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        connection.commit()
        try:
            yield got
        finally:
            if got:
                _unlock(connection, key, name)


def _unlock(connection: Any, key: int, name: str) -> None:
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        connection.commit()
    except Exception:
        # A pooled connection that still held the lock would block the job everywhere for as
        # long as it lives: throw the connection away, which releases the lock.
        log.exception("job %s: could not release its lock; closing the connection", name)
        connection.invalidate()


def run_job(job: Job | str, settings: Settings, engine: Engine) -> Outcome:
    """Run one job now under its lock and record the run; never raises (a failure is logged
    and recorded), so a scheduler calling it keeps going."""
    job = JOBS[job] if isinstance(job, str) else job
    try:
        with advisory_lock(engine, job.name) as got:
            if not got:
                log.debug("job %s is running elsewhere; skipped", job.name)
                return Outcome.LOCKED
            return _run_locked(job, settings, engine)
    except Exception:
        log.exception("job %s could not run", job.name)
        return Outcome.FAILED


def _run_locked(job: Job, settings: Settings, engine: Engine) -> Outcome:
    started, clock = utcnow(), time.monotonic()
    try:
        result = job.run(settings, engine)
    except JobFailed as exc:
        log.error("job %s failed: %s", job.name, exc)
        _record(engine, settings, job.name, started, False, str(exc))
        return Outcome.FAILED
    except Exception as exc:
        log.exception("job %s failed", job.name)
        _record(engine, settings, job.name, started, False, f"{type(exc).__name__}: {exc}")
        return Outcome.FAILED
    log.debug("job %s done in %.2f s: %s", job.name, time.monotonic() - clock, result)
    _record(engine, settings, job.name, started, True, result)
    return Outcome.OK


def _record(
    engine: Engine, settings: Settings, name: str, started: datetime, ok: bool, result: str
) -> None:
    try:
        _write_run(engine, settings, name, started, ok, result)
    except IntegrityError:
        # The job's first run ever, in two processes at once (SQLite has no lock): the other
        # created the row; update it.
        _write_run(engine, settings, name, started, ok, result)


def _write_run(
    engine: Engine, settings: Settings, name: str, started: datetime, ok: bool, result: str
) -> None:
    finished = utcnow()
    with system_session(engine, settings, f"job:{name}") as session:
        run = session.get(JobRun, name) or JobRun(name=name)
        run.last_started_at, run.last_finished_at = started, finished
        run.last_result = " ".join(result.split())[:1000]
        run.runs += 1
        if ok:
            run.last_success_at = finished
        else:
            run.last_failure_at = finished
            run.failures += 1
        session.add(run)
        session.commit()


def last_runs(session: Session) -> dict[str, JobRun]:
    return {run.name: run for run in session.exec(select(JobRun))}


# ---- the scheduler ----------------------------------------------------------------------------


def build_scheduler(
    settings: Settings,
    engine: Engine,
    jobs: list[Job] | None = None,
    start_at_once: bool = False,
) -> BackgroundScheduler:
    """An APScheduler 3 ``BackgroundScheduler`` with each job on an interval trigger.

    ``coalesce``: runs missed while the process was stopped or busy collapse into one.
    ``misfire_grace_time`` of one interval: a run that comes late by less than that still
    happens; a later one is dropped (the next interval comes soon). ``max_instances=1``: a run
    never overlaps the previous one in this process (the advisory lock covers the others)."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    chosen = jobs if jobs is not None else list(JOBS.values())
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max(1, len(chosen)))},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    now = datetime.now(UTC)
    for job in chosen:
        seconds = job.every.total_seconds()
        scheduler.add_job(
            run_job,
            IntervalTrigger(seconds=seconds, timezone=UTC),
            args=(job, settings, engine),
            id=job.name,
            name=job.name,
            misfire_grace_time=max(1, int(seconds)),
            next_run_time=now + (timedelta(0) if start_at_once else job.first_delay),
        )
    return scheduler


def _quiet_apscheduler() -> None:
    # APScheduler logs every run at INFO ("Running job ..."), four times a minute; our own
    # log lines say what matters.
    logger = logging.getLogger("apscheduler")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)


@contextmanager
def in_process(settings: Settings, engine: Engine) -> Iterator[BackgroundScheduler | None]:
    """Run the scheduler in this process while the block runs, if ``settings.run_jobs_in_app``
    (the web app's lifespan uses this); yields the scheduler or None."""
    if not settings.run_jobs_in_app:
        yield None
        return
    _quiet_apscheduler()
    scheduler = build_scheduler(settings, engine)
    scheduler.start()
    log.info("background jobs started in the web process: %s", ", ".join(JOBS))
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=True)


def run_foreground(settings: Settings, engine: Engine, stop: threading.Event | None = None) -> None:
    """Run the scheduler until SIGTERM/SIGINT (or ``stop`` is set); running jobs finish first."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    _quiet_apscheduler()
    scheduler = build_scheduler(settings, engine, start_at_once=True)
    scheduler.start()
    log.info(
        "background jobs running: %s",
        ", ".join(f"{j.name} every {j.every.total_seconds():g} s" for j in JOBS.values()),
    )
    try:
        stop.wait()
    finally:
        log.info("stopping background jobs (waiting for running ones)")
        scheduler.shutdown(wait=True)
