"""A real Alertmanager posts to the app: repeats open one incident, a resolved alert resolves
it with a note, shared infrastructure opens a mass outage, a re-fire reopens the incident."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from servicedesk.tickets.choices import EntryKind
from tests.alerting.alertmanager import alert, webhook_config
from tests.alerting.conftest import World, entries, tickets
from tests.support.alertmanager import Alertmanager, run_alertmanager
from tests.support.factories import Factory
from tests.support.servers import wait_until as wait_for

OWN = {"ci": "lonn-alfa", "instance": "https://lonn.a.test/", "severity": "critical"}
SHARED = {"ci": "sak-felles", "instance": "sak.felles.test:443"}


def _gone(manager: Alertmanager, labels: dict[str, str], name: str = "TargetDown") -> None:
    """Resolve the alert in Alertmanager as Prometheus does: the same labels, ended now."""
    manager.post_alerts(alert(name, labels, ends=datetime.now(UTC)))


def test_repeated_notifications_open_exactly_one_incident(
    alertmanager: Alertmanager, world: World, make: Factory
) -> None:
    alertmanager.post_alerts(alert("TargetDown", OWN, summary="Lønn svarer ikke"))
    wait_for(lambda: tickets(make), 30, "an incident", alertmanager.log_text)
    # repeat_interval is 2 s: wait for Alertmanager to send the firing alert several times
    wait_for(lambda: alertmanager.webhook_deliveries() >= 3, 30, "3 deliveries")
    assert alertmanager.failed_deliveries() == 0, alertmanager.log_text()
    [incident] = tickets(make)
    assert incident.kommune_id == world.a.id and incident.priority == 1
    assert incident.title == "TargetDown: Lønn svarer ikke"
    [am_alert] = alertmanager.alerts()
    assert incident.alert_fingerprint == am_alert["fingerprint"]


def test_a_resolved_alert_resolves_the_incident_with_a_note(
    alertmanager: Alertmanager, world: World, make: Factory
) -> None:
    alertmanager.post_alerts(alert("TargetDown", OWN))
    [incident] = wait_for(lambda: tickets(make), 30, "an incident", alertmanager.log_text)
    _gone(alertmanager, OWN)
    wait_for(lambda: tickets(make)[0].status == "resolved", 30, "resolved", alertmanager.log_text)
    [done] = tickets(make)
    assert done.id == incident.id and done.resolved_at is not None
    assert done.resolution.startswith("Løst automatisk")
    notes = [e for e in entries(make, done.id) if e.kind == EntryKind.NOTE.value]
    assert len(notes) == 1 and "er over" in notes[0].body and not notes[0].public


def test_shared_infrastructure_is_one_mass_outage_resolved_as_one(
    alertmanager: Alertmanager, world: World, make: Factory
) -> None:
    alertmanager.post_alerts(alert("TargetDown", SHARED))
    wait_for(lambda: len(tickets(make)) == 4, 30, "parent and 3 children", alertmanager.log_text)
    wait_for(lambda: alertmanager.webhook_deliveries() >= 3, 30, "3 deliveries")
    [parent, *children] = tickets(make)
    assert len(children) == 3, "repeats open no further tickets"
    assert parent.kommune_id is None and parent.alert_fingerprint is not None
    assert {c.kommune_id for c in children} == {world.a.id, world.b.id, world.c.id}
    assert {c.parent_id for c in children} == {parent.id}
    _gone(alertmanager, SHARED)
    wait_for(
        lambda: {t.status for t in tickets(make)} == {"resolved"},
        30,
        "all resolved",
        alertmanager.log_text,
    )


def test_a_re_fire_after_resolution_reopens_the_incident(
    alertmanager: Alertmanager, world: World, make: Factory
) -> None:
    alertmanager.post_alerts(alert("TargetDown", OWN))
    [incident] = wait_for(lambda: tickets(make), 30, "an incident", alertmanager.log_text)
    _gone(alertmanager, OWN)
    wait_for(lambda: tickets(make)[0].status == "resolved", 30, "resolved")
    wait_for(lambda: not alertmanager.alerts(), 30, "the alert gone from Alertmanager")
    alertmanager.post_alerts(alert("TargetDown", OWN))  # a new episode: a new startsAt
    wait_for(
        lambda: tickets(make)[0].status == "in_progress", 30, "reopened", alertmanager.log_text
    )
    [again] = tickets(make)
    assert again.id == incident.id and again.reopen_count == 1
    events = [e.change.get("event") for e in entries(make, again.id)]
    assert events.count("alert_fired") == 2


def test_an_alertmanager_with_the_wrong_token_is_refused(
    app_url: str, world: World, make: Factory, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-webhook-token-0123456789abcdefghijkl\n")
    with run_alertmanager(webhook_config(app_url, wrong), tmp_path / "am-wrong") as manager:
        manager.post_alerts(alert("TargetDown", OWN))
        wait_for(lambda: manager.failed_deliveries() >= 1, 30, "a refused delivery")
        assert "401" in manager.log_text()
    assert tickets(make) == []
