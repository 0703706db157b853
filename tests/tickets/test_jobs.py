"""Background jobs: auto-close, advisory locks, the scheduler, the CLI and the web app's hook."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from fellesdrift.assembly.app import create_app
from fellesdrift.assembly.jobs import JOBS
from fellesdrift.kernel.db import get_engine
from fellesdrift.kernel.settings import Settings, load_settings
from register import jobs
from register.jobs import Job, Outcome, advisory_lock, build_scheduler, run_job
from register.models import JobRun
from servicedesk.tickets import jobs as ticket_jobs
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.schemas import TicketCreate, Transition
from servicedesk.tickets.service import core, lifecycle
from tests.support.factories import Factory
from tests.support.fixtures import SECRET


def _resolved_ticket(world: Any, as_user: Callable[..., Any], days_ago: int) -> int:
    anne = as_user(world.user_a)
    ticket = core.create_ticket(anne, TicketCreate(title="Treg PC"))
    anne.commit()
    ticket_id = int(ticket.id or 0)
    agent = as_user(world.agent)
    t = lifecycle.transition(
        agent,
        ticket_id,
        Transition.model_validate(
            {"version": ticket.version, "status": "resolved", "resolution": "Ok"}
        ),
    )
    assert t.resolved_at is not None
    t.resolved_at -= timedelta(days=days_ago)
    agent.commit()
    return ticket_id


def _runs(make: Factory) -> dict[str, JobRun]:
    with make.session() as s:
        return {r.name: r for r in s.exec(select(JobRun))}


def _wait_for(check: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)
    return result


def test_autoclose_job_closes_old_resolved_tickets_only(
    world, as_user, make, settings, engine
) -> None:
    old = _resolved_ticket(world, as_user, days_ago=30)
    recent = _resolved_ticket(world, as_user, days_ago=0)

    assert run_job(JOBS["autoclose"], settings, engine) is Outcome.OK

    with make.session() as s:
        assert s.get(Ticket, old).status == "closed"
        assert s.get(Ticket, recent).status == "resolved"
    run = _runs(make)["autoclose"]
    assert run.last_success_at is not None and run.runs == 1 and run.failures == 0
    assert run.last_result == f"closed 1: {old}"
    # Idempotent: a second run finds nothing more to close.
    assert run_job(JOBS["autoclose"], settings, engine) is Outcome.OK
    assert _runs(make)["autoclose"].last_result == "closed 0"


def test_a_held_advisory_lock_skips_the_run(world, as_user, make, settings, engine) -> None:
    ticket_id = _resolved_ticket(world, as_user, days_ago=30)

    with advisory_lock(engine, "autoclose") as got:  # another worker is running the job
        assert got
        assert run_job(JOBS["autoclose"], settings, engine) is Outcome.LOCKED
        with make.session() as s:
            assert s.get(Ticket, ticket_id).status == "resolved"
        assert "autoclose" not in _runs(make)

    assert run_job(JOBS["autoclose"], settings, engine) is Outcome.OK
    with make.session() as s:
        assert s.get(Ticket, ticket_id).status == "closed"


def test_concurrent_runs_of_one_job_run_it_once(settings, engine, make) -> None:
    inside, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(_settings: Settings, _engine: Engine) -> str:
        calls.append(threading.current_thread().name)
        inside.set()
        assert release.wait(10)
        return "done"

    job = Job("slow", timedelta(seconds=60), slow)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(run_job, job, settings, engine)
        assert inside.wait(10)
        assert [run_job(job, settings, engine) for _ in range(3)] == [Outcome.LOCKED] * 3
        release.set()
        assert first.result(10) is Outcome.OK
    assert len(calls) == 1
    # Released: the next run takes the lock again.
    release.set()
    assert run_job(job, settings, engine) is Outcome.OK


def test_the_lock_is_released_when_the_job_fails(settings, engine, make) -> None:
    def boom(_settings: Settings, _engine: Engine) -> str:
        raise RuntimeError("disk full")

    job = Job("boom", timedelta(seconds=60), boom)
    assert run_job(job, settings, engine) is Outcome.FAILED
    assert run_job(job, settings, engine) is Outcome.FAILED  # not LOCKED: the lock was freed
    run = _runs(make)["boom"]
    assert (run.runs, run.failures, run.last_success_at) == (2, 2, None)
    assert run.last_result == "RuntimeError: disk full"


def test_a_failing_job_is_logged_and_the_scheduler_keeps_going(
    settings, engine, make, caplog
) -> None:
    ticks: list[float] = []

    def boom(_settings: Settings, _engine: Engine) -> str:
        raise RuntimeError("the database said no")

    def tick(_settings: Settings, _engine: Engine) -> str:
        ticks.append(time.monotonic())
        return f"tick {len(ticks)}"

    scheduler = build_scheduler(
        settings,
        engine,
        [Job("boom", timedelta(seconds=0.2), boom), Job("tick", timedelta(seconds=0.2), tick)],
        start_at_once=True,
    )
    with caplog.at_level(logging.ERROR, "fellesdrift.jobs"):
        scheduler.start()
        try:
            _wait_for(
                lambda: _runs(make).get("boom", JobRun(name="x")).failures >= 3, 20, "3 failures"
            )
            _wait_for(lambda: len(ticks) >= 3, 20, "3 ticks")
        finally:
            scheduler.shutdown(wait=True)
    assert "job boom failed" in caplog.text and "the database said no" in caplog.text
    assert _runs(make)["tick"].last_success_at is not None


def test_the_scheduler_coalesces_and_has_a_grace_time(settings, engine) -> None:
    scheduler = build_scheduler(settings, engine, list(JOBS.values()))
    scheduler.start(paused=True)  # jobs get their defaults when the scheduler starts
    try:
        planned = {j.id: j for j in scheduler.get_jobs()}
    finally:
        scheduler.shutdown()
    assert set(planned) == {"outbox", "autoclose", "alerts_reconcile", "sla-escalate"}
    assert planned["outbox"].trigger.interval == timedelta(seconds=15)
    assert planned["sla-escalate"].trigger.interval == timedelta(minutes=1)
    assert planned["autoclose"].trigger.interval == timedelta(minutes=10)
    for job in planned.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time == job.trigger.interval.total_seconds()


def test_on_sqlite_the_lock_is_a_no_op(sqlite_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=sqlite_url, data_dir=tmp_path, secret_key=SECRET)
    engine = get_engine(settings)
    try:
        with (
            advisory_lock(engine, "autoclose") as first,
            advisory_lock(engine, "autoclose") as second,
        ):
            assert first and second
        assert run_job(JOBS["autoclose"], settings, engine) is Outcome.OK
        assert run_job(JOBS["outbox"], settings, engine) is Outcome.OK
    finally:
        engine.dispose()


# ---- settings, the web app's hook and the command line ----------------------------------------


def test_run_jobs_defaults_to_demo_mode(tmp_path: Path) -> None:
    demo = load_settings(demo_mode=True, data_dir=tmp_path)
    production = load_settings(secret_key=SECRET, data_dir=tmp_path)
    assert demo.run_jobs_in_app and not production.run_jobs_in_app
    assert not load_settings(demo_mode=True, data_dir=tmp_path, run_jobs=False).run_jobs_in_app
    assert load_settings(secret_key=SECRET, data_dir=tmp_path, run_jobs=True).run_jobs_in_app


def _scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "APScheduler"]


def test_the_web_app_runs_the_jobs_when_asked(settings, make) -> None:
    assert not _scheduler_threads()
    with TestClient(create_app(settings)):
        assert not _scheduler_threads()  # not by default outside demo mode

    with TestClient(create_app(settings.model_copy(update={"run_jobs": True}))):
        assert _scheduler_threads()
        _wait_for(lambda: "outbox" in _runs(make), 20, "the outbox job's first run")
    assert not _scheduler_threads()  # stopped with the app
    assert _runs(make)["outbox"].last_result.startswith("SMTP not configured")


def _cli(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "FELLESDRIFT_DATABASE_URL": settings.database_url,
        "FELLESDRIFT_SECRET_KEY": SECRET,
        "FELLESDRIFT_DATA_DIR": str(settings.data_dir),
    }


def test_cli_jobs_once(world, as_user, make, settings) -> None:
    ticket_id = _resolved_ticket(world, as_user, days_ago=30)
    command = [sys.executable, "-m", "fellesdrift.assembly.cli", "jobs", "once"]

    done = subprocess.run(
        [*command, "autoclose"], env=_cli(settings), capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert f"autoclose: ok (closed 1: {ticket_id})" in done.stdout
    unknown = subprocess.run(
        [*command, "nosuch"], env=_cli(settings), capture_output=True, text=True, timeout=60
    )
    assert unknown.returncode == 2 and "the jobs are: outbox, autoclose" in unknown.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "fellesdrift.assembly.cli", "jobs", "list"],
        env=_cli(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("outbox") and lines[0].endswith("last success: never")
    assert any(line.startswith("autoclose") and "never" not in line for line in lines)


def test_cli_jobs_run_runs_until_sigterm(make, settings) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "fellesdrift.assembly.cli", "jobs", "run"],
        env=_cli(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(lambda: "outbox" in _runs(make) or process.poll() is not None, 30, "a run")
        assert process.poll() is None, process.communicate()[0]
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "background jobs running: outbox every 15 s, autoclose every 600 s" in output
    assert "stopping background jobs" in output


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_job_has_a_distinct_lock(name: str) -> None:
    others = {jobs.lock_key(n) for n in JOBS if n != name}
    assert jobs.lock_key(name) not in others
    assert -(2**63) <= jobs.lock_key(name) < 2**63


def test_outbox_job_without_smtp_warns_once_and_keeps_the_rows(
    make, settings, engine, caplog
) -> None:
    from tests.tickets.outbox.conftest import outbox_rows, queue

    queue(make, "anne@alfa.no")
    ticket_jobs._warned.clear()
    with caplog.at_level(logging.WARNING, "fellesdrift.jobs"):
        assert run_job(JOBS["outbox"], settings, engine) is Outcome.OK
        assert run_job(JOBS["outbox"], settings, engine) is Outcome.OK
    assert caplog.text.count("SMTP is not configured") == 1
    assert _runs(make)["outbox"].last_result == "SMTP not configured; 1 due notifications wait"
    assert {n.state for n in outbox_rows(make).values()} == {"pending"}
