"""The webhook on its own, posted to by hand over HTTP: authentication, payload checks,
matching alerts to CIs and kommuner, idempotence under concurrent deliveries."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlmodel import select

from register.models import User
from servicedesk.alerts.integration import USERNAME
from servicedesk.tickets.models import TicketCI
from tests.alerting.alertmanager import WEBHOOK_PATH
from tests.alerting.conftest import TOKEN, World, entries, tickets
from tests.support.factories import Factory
from tests.support.servers import serve_app

STARTED = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


def notification(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="x"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "fellesdrift",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.test",
        "alerts": list(alerts),
    }


def am_alert(
    fingerprint: str, labels: dict[str, str], status: str = "firing", **extra: Any
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "TargetDown", **labels},
        "annotations": {"summary": "Målet svarer ikke"},
        "startsAt": STARTED.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.test/graph",
        "fingerprint": fingerprint,
        **extra,
    }


def post(url: str, body: Any, token: str | None = TOKEN, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if isinstance(body, (bytes, str)):
        return httpx.post(url + WEBHOOK_PATH, content=body, headers=headers, timeout=30, **kw)
    return httpx.post(url + WEBHOOK_PATH, json=body, headers=headers, timeout=30, **kw)


def test_a_missing_or_wrong_token_is_refused_and_nothing_is_opened(
    app_url: str, world: World, make: Factory
) -> None:
    body = notification(am_alert("a1", {"ci": "lonn-alfa"}))
    for token, header in ((None, None), ("wrong", "Bearer wrong"), (TOKEN, f"Basic {TOKEN}")):
        headers = {"Authorization": header} if header else {}
        response = httpx.post(app_url + WEBHOOK_PATH, json=body, headers=headers, timeout=30)
        assert response.status_code == 401, (token, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in response.text
    assert tickets(make) == []


def test_without_a_configured_token_the_webhook_accepts_nothing(
    app: FastAPI, world: World, make: Factory
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"alertmanager_webhook_token": SecretStr("")}
    )
    with serve_app(app) as url:
        response = post(url, notification(am_alert("a1", {"ci": "lonn-alfa"})), token="x")
        assert response.status_code == 401
        assert "FELLESDRIFT_ALERTMANAGER_WEBHOOK_TOKEN" in response.json()["detail"]
    assert tickets(make) == []


def test_malformed_payloads_are_422_problems_naming_the_field(
    app_url: str, world: World, make: Factory
) -> None:
    response = post(app_url, b"{not json")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body"

    wrong_version = notification(am_alert("a1", {"ci": "lonn-alfa"})) | {"version": "3"}
    problem = post(app_url, wrong_version).json()
    assert problem["status"] == 422 and problem["errors"][0]["field"] == "version"

    no_fingerprint = notification(am_alert("a1", {"ci": "lonn-alfa"}))
    del no_fingerprint["alerts"][0]["fingerprint"]
    naive_time = notification(am_alert("a2", {"ci": "lonn-alfa"}, startsAt="2026-12-01T08:30:00"))
    bad_status = notification(am_alert("a3", {"ci": "lonn-alfa"}, status="burning"))
    for body, field in (
        (no_fingerprint, "alerts.0.fingerprint"),
        (naive_time, "alerts.0.startsAt"),
        (bad_status, "alerts.0.status"),
        ([1, 2], "input"),
    ):
        response = post(app_url, body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field, response.json()
    assert tickets(make) == []


def test_unknown_fields_are_ignored(app_url: str, world: World, make: Factory) -> None:
    body = notification(am_alert("c0ffee01", {"ci": "lonn-alfa"}, futureField={"x": 1}))
    body["somethingNew"] = [1, 2, 3]
    response = post(app_url, body)
    assert response.status_code == 200, response.text
    assert response.json()["alerts"] == [
        {"fingerprint": "c0ffee01", "action": "opened", "ticket": tickets(make)[0].id}
    ]


def test_an_alert_opens_an_incident_on_its_ci_with_priority_from_criticality(
    app_url: str, world: World, make: Factory
) -> None:
    assert post(app_url, notification(am_alert("f00d0001", {"ci": "lonn-alfa"}))).is_success
    [incident] = tickets(make)
    assert incident.type == "incident" and incident.status == "new"
    assert incident.kommune_id == world.a.id and incident.parent_id is None
    assert incident.alert_fingerprint == "f00d0001"
    assert (incident.impact, incident.urgency, incident.priority) == (2, 2, 2)  # high CI
    assert incident.title == "TargetDown: Målet svarer ikke"
    assert "lonn-alfa" in incident.description and "ci=lonn-alfa" in incident.description
    assert incident.form_data["alert"]["starts_at"] == STARTED.isoformat()
    with make.session() as s:
        ci_ids = list(s.exec(select(TicketCI.ci_id).where(TicketCI.ticket_id == incident.id)))
        actor = s.exec(select(User).where(User.username == USERNAME)).one()
    assert ci_ids == [world.own.id]
    assert incident.requester_id == actor.id and incident.created_by_id == actor.id
    assert actor.password_hash is None and actor.kommune_id is None and actor.email == ""
    assert [e.change.get("event") for e in entries(make, incident.id)] == [
        "created",
        "alert_fired",
    ]


def test_critical_severity_and_a_critical_ci_make_priority_one(
    app_url: str, world: World, make: Factory
) -> None:
    labels = {"instance": "https://lonn.a.test/", "severity": "critical"}
    assert post(app_url, notification(am_alert("f00d0002", labels))).is_success
    [incident] = tickets(make)  # found by the monitoring target's address
    assert incident.kommune_id == world.a.id and (incident.impact, incident.urgency) == (2, 1)
    assert incident.priority == 1


def test_an_alert_on_no_known_ci_still_opens_an_incident(
    app_url: str, world: World, make: Factory
) -> None:
    labels = {"instance": "10.9.9.9:9100", "kommune": world.b.slug, "severity": "warning"}
    assert post(app_url, notification(am_alert("f00d0003", labels))).is_success
    [incident] = tickets(make)
    assert incident.kommune_id == world.b.id  # the kommune label routes it
    assert "Ingen system i systemregisteret" in incident.description
    assert incident.priority == 3  # medium impact, warning


def test_shared_infrastructure_opens_a_parent_and_a_child_per_kommune(
    app_url: str, world: World, make: Factory
) -> None:
    assert post(app_url, notification(am_alert("5a4ed001", {"ci": "sak-felles"}))).is_success
    [parent, *children] = tickets(make)
    assert parent.kommune_id is None and parent.alert_fingerprint == "5a4ed001"
    assert parent.priority == 1  # critical CI, several kommuner
    assert {c.kommune_id for c in children} == {world.a.id, world.b.id, world.c.id}
    assert {c.parent_id for c in children} == {parent.id}
    assert {c.alert_fingerprint for c in children} == {None}

    resolved = am_alert("5a4ed001", {"ci": "sak-felles"}, status="resolved")
    resolved["endsAt"] = (STARTED + timedelta(minutes=5)).isoformat()
    assert post(app_url, notification(resolved, status="resolved")).is_success
    assert {t.status for t in tickets(make)} == {"resolved"}


def test_concurrent_deliveries_of_one_alert_open_one_incident(
    app_url: str, world: World, make: Factory
) -> None:
    """An HA pair of Alertmanagers and retries deliver the same alert at once: the unique
    fingerprint decides, the loser finds the winner's incident."""
    body = notification(am_alert("c0c0c0c0", {"ci": "sak-felles"}))
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: post(app_url, copy.deepcopy(body)), range(8)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    actions = sorted(r.json()["alerts"][0]["action"] for r in responses)
    assert actions == ["opened"] + ["unchanged"] * 7
    parents = tickets(make, alert_fingerprint="c0c0c0c0")
    assert len(parents) == 1
    assert len(tickets(make)) == 4  # the parent and one child per kommune, nothing twice


def test_a_late_resolved_notification_of_an_earlier_episode_changes_nothing(
    app_url: str, world: World, make: Factory
) -> None:
    assert post(app_url, notification(am_alert("1a7e0001", {"ci": "lonn-alfa"}))).is_success
    late = am_alert("1a7e0001", {"ci": "lonn-alfa"}, status="resolved")
    late["startsAt"] = (STARTED - timedelta(hours=2)).isoformat()
    late["endsAt"] = (STARTED - timedelta(hours=1)).isoformat()
    response = post(app_url, notification(late, status="resolved"))
    assert response.json()["alerts"][0]["action"] == "unchanged"
    assert tickets(make)[0].status == "new"


def test_a_resolved_alert_never_seen_firing_is_ignored(
    app_url: str, world: World, make: Factory
) -> None:
    resolved = am_alert("0dd0dd01", {"ci": "lonn-alfa"}, status="resolved")
    response = post(app_url, notification(resolved, status="resolved"))
    assert response.json()["alerts"] == [
        {"fingerprint": "0dd0dd01", "action": "ignored", "ticket": None}
    ]
    assert tickets(make) == []


def test_the_agent_sees_the_alert_on_the_ticket_page(
    app_url: str, world: World, make: Factory, browser: Any
) -> None:
    assert post(app_url, notification(am_alert("a9e17001", {"ci": "lonn-alfa"}))).is_success
    [incident] = tickets(make)
    page = browser(make.user(None)).get(f"/arbeid/saker/{incident.id}")
    assert page.status_code == 200
    assert "Varsel fra overvåkingen: TargetDown" in page.text
    assert "Alertmanager (automatisk varsling)" in page.text
