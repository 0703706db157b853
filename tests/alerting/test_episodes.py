"""Alerts over time: a repeat of an episode someone resolved by hand, a re-fire after the
incident was closed (a new incident), concurrent resolved deliveries, and an incident the
integration may not see (TLP:RED)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlmodel import Session

from register import auth
from register.access import Principal, bind
from register.models import User
from servicedesk.tickets.schemas import TicketUpdate, Transition
from servicedesk.tickets.service import core, lifecycle
from tests.alerting.conftest import World, entries, tickets
from tests.alerting.test_webhook import STARTED, am_alert, notification, post
from tests.support.factories import Factory

OWN = {"ci": "lonn-alfa"}


def _as_agent(make: Factory, agent: User) -> Session:
    session = bind(Session(make.engine, expire_on_commit=False), Principal.system("test"))
    user = session.get(User, agent.id)
    assert user is not None
    return bind(session, auth.principal_for(session, user))


def _move(make: Factory, agent: User, ticket_id: int | None, status: str, **kw: str) -> None:
    assert ticket_id is not None
    with _as_agent(make, agent) as s:
        ticket = core.get_ticket(s, ticket_id)
        data = {"version": ticket.version, "status": status} | kw
        lifecycle.transition(s, ticket_id, Transition.model_validate(data))
        s.commit()


def _fire(url: str, fingerprint: str, started: datetime = STARTED) -> str:
    alert = am_alert(fingerprint, OWN, startsAt=started.isoformat())
    response = post(url, notification(alert))
    assert response.status_code == 200, response.text
    return str(response.json()["alerts"][0]["action"])


def _resolve(url: str, fingerprint: str, started: datetime = STARTED) -> str:
    alert = am_alert(fingerprint, OWN, status="resolved")
    alert["startsAt"] = started.isoformat()
    alert["endsAt"] = (started + timedelta(hours=1)).isoformat()
    response = post(url, notification(alert, status="resolved"))
    assert response.status_code == 200, response.text
    return str(response.json()["alerts"][0]["action"])


def test_a_repeat_of_an_episode_resolved_by_hand_changes_nothing(
    app_url: str, world: World, make: Factory
) -> None:
    agent = make.user(None)
    assert _fire(app_url, "e0000001") == "opened"
    [incident] = tickets(make)
    _move(make, agent, incident.id, "resolved", resolution="Fikset for hånd")
    assert _fire(app_url, "e0000001") == "unchanged"  # Alertmanager's repeat_interval
    [after] = tickets(make)
    assert after.status == "resolved" and after.reopen_count == 0


def test_a_re_fire_after_the_incident_was_closed_opens_a_new_one(
    app_url: str, world: World, make: Factory
) -> None:
    agent = make.user(None)
    assert _fire(app_url, "e0000002") == "opened"
    assert _resolve(app_url, "e0000002") == "resolved"
    [old] = tickets(make)
    _move(make, agent, old.id, "closed")
    later = STARTED + timedelta(days=2)
    assert _fire(app_url, "e0000002", later) == "opened"
    [old, new] = tickets(make)
    assert old.alert_fingerprint is None and old.status == "closed"
    assert new.alert_fingerprint == "e0000002" and new.status == "new"
    assert f"#{old.id}" in new.description
    handed = [e.change for e in entries(make, old.id) if e.change.get("event")]
    assert {"event": "alert_refired_elsewhere", "ticket": new.id} in handed
    assert _fire(app_url, "e0000002", later) == "unchanged"  # and repeats go to the new one
    assert _resolve(app_url, "e0000002", later) == "resolved"
    assert [t.status for t in tickets(make)] == ["closed", "resolved"]


def test_a_re_fire_past_the_reopen_window_opens_a_new_incident(
    app_url: str, world: World, make: Factory
) -> None:
    assert _fire(app_url, "e0000003") == "opened"
    assert _resolve(app_url, "e0000003") == "resolved"
    [old] = tickets(make)
    with make.session() as s:  # resolved a month ago
        row = core.get_ticket(s, old.id or 0)
        assert row.resolved_at is not None
        row.resolved_at -= timedelta(days=30)
        s.commit()
    assert _fire(app_url, "e0000003", STARTED + timedelta(days=31)) == "opened"
    assert [t.status for t in tickets(make)] == ["resolved", "new"]


def test_concurrent_resolved_deliveries_resolve_once(
    app_url: str, world: World, make: Factory
) -> None:
    assert _fire(app_url, "e0000004") == "opened"
    with ThreadPoolExecutor(6) as pool:
        actions = sorted(pool.map(lambda _: _resolve(app_url, "e0000004"), range(6)))
    assert actions == ["resolved"] + ["unchanged"] * 5
    [incident] = tickets(make)
    notes = [e for e in entries(make, incident.id) if e.kind == "note"]
    assert incident.status == "resolved" and len(notes) == 1


def test_an_incident_made_tlp_red_is_still_followed_by_its_requester(
    app_url: str, world: World, make: Factory
) -> None:
    """TLP:RED limits an incident to its named participants; the integration is the requester
    of its incidents, so it still resolves one an agent made TLP:RED."""
    agent = make.user(None)
    assert _fire(app_url, "e0000005") == "opened"
    [incident] = tickets(make)
    assert incident.id is not None
    with _as_agent(make, agent) as s:
        core.update_ticket(s, incident.id, TicketUpdate(version=incident.version, tlp="red"))
        s.commit()
    assert _fire(app_url, "e0000005") == "unchanged"
    assert _resolve(app_url, "e0000005") == "resolved"
    [after] = tickets(make)
    assert after.status == "resolved" and after.tlp == "red"
