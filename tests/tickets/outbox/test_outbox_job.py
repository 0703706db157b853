"""The ``outbox`` job during an SMTP outage: every run is recorded as failed, with the SMTP
error, so job status (``fellesdrift jobs list``, ``/metrics``) shows the outage at once."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from fellesdrift.assembly.jobs import JOBS
from fellesdrift.kernel.settings import Settings
from register.jobs import Outcome, run_job
from register.models import JobRun
from servicedesk.tickets.metrics import read_snapshot
from tests.support.factories import Factory
from tests.tickets.outbox.conftest import SmtpServer, outbox_rows, queue, smtp_settings


def _run(make: Factory) -> JobRun:
    with make.session() as s:
        run = s.get(JobRun, "outbox")
        assert run is not None
        return run


def test_an_smtp_outage_marks_every_outbox_run_failed_with_the_smtp_error(
    make: Factory,
    engine: Engine,
    settings: Settings,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "smtp-secret-never-logged"
    mail_settings = smtp_settings(settings, smtp_server.port, smtp_password=SecretStr(password))
    queue(make, "a@alfa.no")
    smtp_server.stop()

    with caplog.at_level(logging.INFO, "fellesdrift"):
        # The first run finds the server down with a row to send ...
        assert run_job(JOBS["outbox"], mail_settings, engine) is Outcome.FAILED
        first = _run(make)
        assert first.failures == 1 and first.last_success_at is None
        assert "SMTP server unavailable" in first.last_result
        assert "ConnectionRefused" in first.last_result
        # ... and the next one, with the row waiting for its retry, still fails (it was
        # recorded as successful every 15 s while nothing was due).
        [row] = outbox_rows(make).values()
        assert row.state == "pending" and row.attempts == 1
        assert run_job(JOBS["outbox"], mail_settings, engine) is Outcome.FAILED
    second = _run(make)
    assert second.failures == 2 and second.last_success_at is None
    assert "ConnectionRefused" in second.last_result
    failed = [r for r in caplog.records if r.name == "fellesdrift.jobs"]
    assert [r.levelno for r in failed] == [logging.ERROR] * 2
    assert all(r.exc_info is None for r in failed), "one line per failed run, no traceback"
    assert password not in caplog.text

    # What an operator looks at: /metrics and `fellesdrift jobs list`.
    with make.session() as s:
        [job] = [j for j in read_snapshot(s, settings).jobs if j.name == "outbox"]
    assert job.last_failure_at is not None and job.last_success_at is None
    listing = _jobs_list(settings)
    assert "FAILING" in listing and "SMTP server unavailable" in listing, listing

    # Back: the run succeeds again (the rows go at their retry time).
    smtp_server.start()
    assert run_job(JOBS["outbox"], mail_settings, engine) is Outcome.OK
    back = _run(make)
    assert back.failures == 2 and back.last_success_at is not None
    assert [r.attempts for r in outbox_rows(make).values()] == [1]  # the check sent nothing
    assert "FAILING" not in _jobs_list(settings)


def _jobs_list(settings: Settings) -> str:
    env = {
        "FELLESDRIFT_DATABASE_URL": settings.database_url,
        "FELLESDRIFT_SECRET_KEY": settings.secret_key.get_secret_value(),
        "FELLESDRIFT_DATA_DIR": str(settings.data_dir),
        "PATH": "/usr/bin:/bin",
    }
    command = [str(Path(sys.executable).parent / "fellesdrift"), "jobs", "list"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout
