"""The service desk's /metrics: parsed back with prometheus_client's own parser and checked
against the tickets made for the test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from fellesdrift.assembly.jobs import JOBS
from fellesdrift.kernel.db import make_engine
from register.jobs import run_job
from servicedesk.tickets.metrics import ServiceDeskCollector, read_snapshot, registry_for
from servicedesk.tickets.schemas import TicketCreate, TicketUpdate, Transition
from servicedesk.tickets.service import core, lifecycle
from tests.rig.base import free_port
from tests.tickets.outbox.conftest import queue

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
SECRET_TITLE = "Innbrudd i lønnssystemet hos Alfa"


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def _file(session: Any, **kw: Any) -> Any:
    ticket = core.create_ticket(session, TicketCreate(**({"title": "Noe er galt"} | kw)))
    session.commit()
    return ticket


def _move(as_user: Callable[..., Any], user: Any, ticket: Any, **kw: Any) -> Any:
    session = as_user(user)
    current = session.get(type(ticket), ticket.id)
    moved = lifecycle.transition(session, ticket.id, Transition(version=current.version, **kw))
    session.commit()
    return moved


def _landscape(world: Any, as_user: Callable[..., Any]) -> dict[str, Any]:
    """Tickets across kommuner, priorities, statuses and types; returns what to expect."""
    anne, bjorn, agent = as_user(world.user_a), as_user(world.user_b), as_user(world.agent)
    a1 = _file(anne, impact=1, urgency=1)  # P1, new
    _file(anne)  # P3, new
    _file(anne, tlp="red", title=SECRET_TITLE)  # P3, new, only anne may read it
    a4 = _file(anne, type="request")  # P3 request
    b1 = _file(bjorn, impact=2, urgency=2)  # P2
    b2 = _file(bjorn)
    problem = _file(agent, type="problem", title="Rotårsak: DNS")  # no kommune: "felles"
    core.update_ticket(agent, a1.id, TicketUpdate(version=a1.version, assignee_id=world.agent.id))
    agent.commit()
    _move(as_user, world.agent, a4, status="pending", pending_reason="user")
    _move(as_user, world.agent, b1, status="resolved", resolution="Fikset")
    # Resolved, reopened and resolved again: two resolutions, one ticket.
    _move(as_user, world.agent, b2, status="resolved", resolution="Fikset")
    _move(as_user, world.user_b, b2, status="in_progress", comment="Feilen er tilbake")
    _move(as_user, world.agent, b2, status="resolved", resolution="Fikset igjen")
    _move(as_user, world.agent, b2, status="closed")
    return {"problem": problem}


def test_metrics_match_the_tickets_across_kommuner_and_statuses(
    world, as_user, make, api, settings, engine
) -> None:
    _landscape(world, as_user)
    queue(make, "venter@alfa.no", "venter2@alfa.no")
    run_job(JOBS["autoclose"], settings, engine)
    prometheus = make.user(None, "agent", username="prometheus")

    response = api(prometheus, "inventory").get("/metrics")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    m = parse(response.text)
    open_ = "fellesdrift_tickets_open"
    assert value(m, open_, kommune="alfa", priority="1", status="assigned", type="incident") == 1
    # The TLP:RED ticket is not counted at all (issue 14, item 14): only the other new P3.
    assert value(m, open_, kommune="alfa", priority="3", status="new", type="incident") == 1
    assert value(m, open_, kommune="alfa", priority="3", status="pending", type="request") == 1
    assert value(m, open_, kommune="felles", priority="3", status="new", type="problem") == 1
    assert value(m, open_, kommune="beta", priority="2", status="new", type="incident") == 0
    assert value(m, open_, kommune="gamma", priority="4", status="new", type="incident") == 0
    assert sum(v for (name, _), v in m.items() if name == open_) == 4
    assert SECRET_TITLE not in response.text and "Innbrudd" not in response.text

    created, resolved = "fellesdrift_tickets_created_total", "fellesdrift_tickets_resolved_total"
    assert value(m, created, kommune="alfa", type="incident") == 2  # not the RED one
    assert value(m, created, kommune="alfa", type="request") == 1
    assert value(m, created, kommune="beta", type="incident") == 2
    assert value(m, created, kommune="felles", type="problem") == 1
    assert value(m, created, kommune="gamma", type="incident") == 0
    assert value(m, resolved, kommune="beta", type="incident") == 3  # b1 once, b2 twice
    assert value(m, resolved, kommune="alfa", type="incident") == 0

    assert value(m, "fellesdrift_outbox_pending") >= 2
    assert value(m, "fellesdrift_outbox_failed") == 0
    assert value(m, "fellesdrift_outbox_oldest_pending_age_seconds") >= 0
    assert value(m, "fellesdrift_outbox_smtp_configured") == 0
    assert value(m, "fellesdrift_job_last_success_timestamp_seconds", job="autoclose") > 0
    assert value(m, "fellesdrift_servicedesk_metrics_up") == 1


def test_resolved_counter_never_goes_down_when_a_ticket_is_reopened(
    world, as_user, make, settings
) -> None:
    ticket = _file(as_user(world.user_a))

    def resolved() -> int:
        with make.session() as s:
            return read_snapshot(s, settings).totals.get(("alfa", "incident"), (0, 0))[1]

    seen = [resolved()]
    _move(as_user, world.agent, ticket, status="resolved", resolution="Ok")
    seen.append(resolved())
    _move(as_user, world.user_a, ticket, status="in_progress")
    seen.append(resolved())
    _move(as_user, world.agent, ticket, status="resolved", resolution="Ok nå")
    seen.append(resolved())
    _move(as_user, world.agent, ticket, status="closed")
    seen.append(resolved())
    assert seen == [0, 1, 1, 2, 2]


def test_who_may_scrape(world, make, api, browser) -> None:
    prometheus = make.user(None, "agent", username="prometheus")
    admin = make.user(None, "admin", username="admin1")

    # A scraper without credentials gets a plain 401, not the pages' redirect to sign-in.
    anonymous = browser().get("/metrics", follow_redirects=False)
    assert anonymous.status_code == 401 and "inventory scope" in anonymous.text
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    forged = browser().get("/metrics", headers={"Authorization": "Bearer fd_nonsense"})
    assert forged.status_code == 401
    assert api(prometheus, "inventory").get("/metrics").status_code == 200
    assert api(prometheus, "read").get("/metrics").status_code == 200
    assert browser(admin).get("/metrics").status_code == 200
    for kommune_person in (world.user_a, world.contact_a, world.owner):
        response = api(kommune_person, "read,inventory").get("/metrics")
        assert response.status_code == 403, (kommune_person.username, response.text)
        assert "fellesdrift_tickets" not in response.text
    assert browser(world.contact_a).get("/metrics").status_code == 403


def test_openmetrics_on_request(world, make, api) -> None:
    prometheus = make.user(None, "agent", username="prometheus")

    response = api(prometheus, "inventory").get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert "fellesdrift_tickets_created_total{" in response.text


def test_the_collector_caches_between_scrapes(world, as_user, engine, settings) -> None:
    now = [1000.0]
    collector = ServiceDeskCollector(engine, settings, cache_seconds=10, clock=lambda: now[0])

    def created() -> float:
        return sum(
            s.value
            for family in collector.collect()
            for s in family.samples
            if s.name == "fellesdrift_tickets_created_total"
        )

    assert created() == 0
    _file(as_user(world.user_a))
    now[0] += 9
    assert created() == 0  # still the cached snapshot
    now[0] += 2
    assert created() == 1


def test_a_database_that_fails_gives_up_0_not_an_error(settings, caplog) -> None:
    dead: Engine = make_engine(f"postgresql+psycopg://nobody:x@127.0.0.1:{free_port()}/nothing")
    try:
        registry = registry_for(dead, settings)
        samples = {s.name: s.value for f in registry.collect() for s in f.samples}
    finally:
        dead.dispose()
    assert samples["fellesdrift_servicedesk_metrics_up"] == 0
    assert "fellesdrift_tickets_open" not in samples
    assert "reading the database failed" in caplog.text


def test_oldest_pending_age(make, settings) -> None:
    [row] = queue(make, "venter@alfa.no")
    with make.session() as s:
        snap = read_snapshot(s, settings, now=row.created_at + timedelta(minutes=7))
    assert snap.outbox_pending == 1 and snap.oldest_pending_age == 420
