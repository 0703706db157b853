"""What people see of the SLA clocks: time left in the agent's queue and the SLA queue, both
clocks with their pauses on the ticket page, "svar innen" and "løst innen" in the portal, and
the counts on /metrics."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from servicedesk.tickets.metrics import read_snapshot
from servicedesk.tickets.schemas import TicketCreate, Transition
from servicedesk.tickets.service import core, lifecycle
from sla.calendar import OSLO
from tests.tickets.sla.conftest import SlaWorld, clocks


def _file(session, **kw):  # type: ignore[no-untyped-def]
    ticket = core.create_ticket(session, TicketCreate(**({"title": "Journalen henger"} | kw)))
    session.commit()
    return ticket


def _local(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")


def test_agent_sees_time_left_in_queues_and_both_clocks_with_pauses(
    world, sla: SlaWorld, as_user, make, browser
) -> None:
    ticket = _file(as_user(world.user_a), ci_ids=[sla.journal.id])  # round the clock, P3
    agent = as_user(world.agent)
    lifecycle.transition(
        agent, ticket.id,
        Transition(version=ticket.version, status="pending", pending_reason="vendor"),
    )  # fmt: skip
    agent.commit()
    page = browser(world.agent)
    queue = page.get("/arbeid/saker")
    assert queue.status_code == 200
    assert "Frist" in queue.text and "pauset" in queue.text
    detail = page.get(f"/arbeid/saker/{ticket.id}")
    assert "Frister" in detail.text and "Alfa 2024" in detail.text
    c = clocks(make, ticket.id)
    assert _local(c["resolution"].due_at) in detail.text
    assert f"{_local(c['resolution'].paused_since)} – pågår" in detail.text
    assert "oppfylt" in detail.text  # the response, met by the agent's status change

    other = _file(as_user(world.user_b))  # standard level, running
    listing = page.get("/arbeid/frister?vis=alle")
    assert listing.status_code == 200 and f"#{other.id}" in listing.text
    assert "igjen" in listing.text and "Alle frister" in listing.text
    assert f"#{ticket.id} " not in listing.text  # paused: no running clock
    assert page.get("/arbeid/frister?vis=naer").status_code == 200


def test_requester_sees_svar_innen_and_lost_innen(
    world, sla: SlaWorld, as_user, make, browser
) -> None:
    ticket = _file(as_user(world.user_b))
    c = clocks(make, ticket.id)
    page = browser(world.user_b).get(f"/saker/{ticket.id}")
    assert page.status_code == 200
    assert "Svar innen" in page.text and "Løst innen" in page.text
    assert _local(c["response"].due_at) in page.text
    assert _local(c["resolution"].due_at) in page.text


def test_metrics_count_breaches_and_clocks_at_risk(
    world, sla: SlaWorld, as_user, make, settings, api
) -> None:
    ticket = _file(as_user(world.user_a), ci_ids=[sla.journal.id], impact=1, urgency=1)
    with make.session() as s:
        risky = read_snapshot(s, settings, ticket.created_at + timedelta(minutes=8))
        late = read_snapshot(s, settings, ticket.created_at + timedelta(hours=3))
    assert risky.sla_at_risk == {("alfa", "1", "response"): 1}
    assert risky.sla_breaches == {}
    assert late.sla_breaches == {("alfa", "1", "response"): 1, ("alfa", "1", "resolution"): 1}
    text = api(make.user(None, "agent", username="prometheus"), "inventory").get("/metrics").text
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"fellesdrift_sla_breaches", "fellesdrift_sla_clocks_at_risk"} <= names
    assert (
        'fellesdrift_sla_breaches_total{clock="resolution",kommune="alfa",priority="1"} 0.0' in text
    )
