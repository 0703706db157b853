"""The reconciliation job against a real Alertmanager: an alert that ends while silenced sends
no resolved notification, and the job resolves its incident; an unreachable or just-started
Alertmanager resolves nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from sqlalchemy.engine import Engine
from sqlmodel import select

from fellesdrift.assembly.jobs import JOBS
from fellesdrift.kernel.settings import Settings
from register.jobs import Outcome, run_job
from register.models import JobRun
from servicedesk.alerts.reconcile import AlertmanagerUnreachable, reconcile
from servicedesk.tickets.choices import EntryKind
from servicedesk.tickets.metrics import registry_for
from tests.alerting.alertmanager import alert, webhook_config
from tests.alerting.conftest import World, entries, tickets
from tests.rig.base import free_port
from tests.support.alertmanager import Alertmanager, run_alertmanager
from tests.support.factories import Factory
from tests.support.servers import wait_until as wait_for

OWN = {"ci": "lonn-alfa", "instance": "https://lonn.a.test/"}
SHARED = {"ci": "sak-felles", "instance": "sak.felles.test:443"}


def _two_incidents(manager: Alertmanager, make: Factory) -> None:
    manager.post_alerts(alert("TargetDown", OWN), alert("TargetDown", SHARED))
    wait_for(lambda: len(tickets(make)) == 5, 20, "2 incidents (+3 children)", manager.log_text)


def _quiet(manager: Alertmanager, seconds: float = 3.0) -> float:
    """The webhook delivery count once it has not moved for ``seconds`` (at most 20 s)."""
    deadline = time.monotonic() + 20
    count, since = manager.webhook_deliveries(), time.monotonic()
    while time.monotonic() - since < seconds:
        assert time.monotonic() < deadline, "Alertmanager keeps delivering despite the silences"
        time.sleep(0.3)
        now = manager.webhook_deliveries()
        if now != count:
            count, since = now, time.monotonic()
    return count


def test_an_alert_that_ends_while_silenced_is_resolved_by_the_job(
    alertmanager: Alertmanager, world: World, make: Factory, settings: Settings, engine: Engine
) -> None:
    _two_incidents(alertmanager, make)
    alertmanager.silence({"ci": "lonn-alfa"})
    alertmanager.silence({"ci": "sak-felles"})  # muted, but still firing
    delivered = _quiet(alertmanager)  # a delivery begun before the silences may still land
    alertmanager.post_alerts(alert("TargetDown", OWN, ends=datetime.now(UTC)))
    wait_for(lambda: len(alertmanager.alerts()) == 1, 20, "the own alert gone")
    assert alertmanager.webhook_deliveries() == delivered, "muted: no resolved notification"
    [own] = tickets(make, kommune_id=world.a.id, parent_id=None)
    assert own.status == "new"  # the gap the job closes

    result = reconcile(settings.model_copy(update={"alertmanager_url": alertmanager.url}), engine)

    assert result == f"1 resolved: #{own.id}"
    by_id = {t.id: t for t in tickets(make)}
    assert by_id[own.id].status == "resolved"
    notes = [e.body for e in entries(make, own.id) if e.kind == EntryKind.NOTE.value]
    assert len(notes) == 1 and "finnes ikke lenger i Alertmanager" in notes[0]
    shared = [t for t in by_id.values() if t.id != own.id]
    assert {t.status for t in shared} == {"new"}, "a silenced alert still exists"


def test_an_unreachable_alertmanager_resolves_nothing_and_counts_a_failure(
    alertmanager: Alertmanager,
    app_url: str,
    world: World,
    make: Factory,
    settings: Settings,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _two_incidents(alertmanager, make)
    nobody = settings.model_copy(update={"alertmanager_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(AlertmanagerUnreachable):
        reconcile(nobody, engine)
    assert run_job(JOBS["alerts_reconcile"], nobody, engine) is Outcome.FAILED
    # Something answers, but not with Alertmanager's API (here: the service desk itself).
    not_am = settings.model_copy(update={"alertmanager_url": app_url})
    assert run_job(JOBS["alerts_reconcile"], not_am, engine) is Outcome.FAILED
    assert {t.status for t in tickets(make)} == {"new"}
    assert "Alertmanager unreachable" in caplog.text
    with make.session() as s:
        run = s.exec(select(JobRun).where(JobRun.name == "alerts_reconcile")).one()
    assert run.failures == 2 and run.last_success_at is None
    exposition = generate_latest(registry_for(engine, settings, cache_seconds=0)).decode()
    assert 'fellesdrift_job_failures_total{job="alerts_reconcile"} 2.0' in exposition


def test_a_credentials_url_is_never_logged(
    world: World, settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://am-user:hunter2-secret@127.0.0.1:{free_port()}"
    with pytest.raises(AlertmanagerUnreachable) as failure:
        reconcile(settings.model_copy(update={"alertmanager_url": url}), engine)
    assert "hunter2" not in str(failure.value) and "hunter2" not in caplog.text


def test_a_just_started_alertmanager_is_given_time_to_hear_from_prometheus(
    alertmanager: Alertmanager,
    world: World,
    make: Factory,
    settings: Settings,
    engine: Engine,
    token_file: Path,
    app_url: str,
    tmp_path: Path,
) -> None:
    """A restarted Alertmanager knows no alerts until Prometheus sends them again: its empty
    list must not resolve every incident."""
    _two_incidents(alertmanager, make)
    config = webhook_config(app_url, token_file)
    with run_alertmanager(config, tmp_path / "restarted") as restarted:
        assert restarted.alerts() == []
        waiting = settings.model_copy(
            update={"alertmanager_url": restarted.url, "alert_reconcile_grace_seconds": 300}
        )
        assert reconcile(waiting, engine).startswith("waiting: Alertmanager started")
        assert {t.status for t in tickets(make)} == {"new"}
        # Without the grace time the same list resolves both incidents (and the children).
        eager = waiting.model_copy(update={"alert_reconcile_grace_seconds": 0})
        assert reconcile(eager, engine).startswith("2 resolved")
    assert {t.status for t in tickets(make)} == {"resolved"}


def test_without_an_alertmanager_url_the_job_is_off(settings: Settings, engine: Engine) -> None:
    assert reconcile(settings, engine).startswith("off")
    assert run_job(JOBS["alerts_reconcile"], settings, engine) is Outcome.OK
