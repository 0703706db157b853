"""The change API and the CAB end to end on PostgreSQL: a change on a life-and-health system
from draft through the systemeier's approval, a CAB meeting with its agenda, notice, votes and
minutes, to approved; and the refusals, each a problem+json that names the rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlmodel import col, select

from servicedesk.tickets.models import Notification
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core
from tests.changes.conftest import RISK_HIGH, World, next_window

Api = Callable[..., TestClient]


def _body(w: World, **kw: Any) -> dict[str, Any]:
    start, end = next_window()
    return {
        "title": "Oppgradere helsejournal til v12",
        "reason": "Leverandøren slutter å støtte v11",
        "ci_ids": [w.health.id],
        "implementation_plan": "Stopp tjenesten, kjør oppgraderingen, start igjen",
        "test_plan": "Logg inn og åpne en journal",
        "backout_plan": "Gjenopprett fra snapshot",
        "planned_start": start.isoformat(),
        "planned_end": end.isoformat(),
        "risk_answers": RISK_HIGH,
    } | kw


def _problem(r: httpx.Response, status: int, field: str, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json().get("errors", [])
    assert any(e["field"] == field and words in e["message"] for e in errors), r.json()


def _move(client: TestClient, change_id: int, to: str) -> httpx.Response:
    return client.post(f"/api/v1/changes/{change_id}/transitions", json={"to": to})


def _to_approval(client: TestClient, change_id: int) -> dict[str, Any]:
    for to in ("submitted", "assessment", "awaiting_approval"):
        r = _move(client, change_id, to)
        assert r.status_code == 200, r.text
    return r.json()


def test_change_through_systemeier_and_cab_meeting_to_approved(world: World, api: Api) -> None:
    agent = api(world.agent)
    r = agent.post("/api/v1/changes", json=_body(world))
    assert r.status_code == 201, r.text
    change = r.json()
    cid = change["id"]
    assert change["state"] == "draft" and change["risk"] == "high"
    assert {"systemeier_approval", "cab_approval", "backout_plan"} <= {
        rule["code"] for rule in change["rules"]
    }
    assert all(rule["reason"] for rule in change["rules"])
    assert sorted(change["kommune_ids"]) == sorted([int(world.a.id or 0), int(world.b.id or 0)])
    assert world.server.id in change["dependent_ci_ids"] or change["dependent_ci_ids"] == []

    detail = _to_approval(agent, cid)
    assert detail["state"] == "awaiting_approval"
    assert any(p.startswith("systemeier:") for p in detail["pending"])

    # The systemeier approves; the CAB is still to decide.
    r = api(world.eier).post(f"/api/v1/changes/{cid}/approvals", json={"vote": "approve"})
    assert r.status_code == 201, r.text
    assert agent.get(f"/api/v1/changes/{cid}").json()["pending"] == ["cab"]

    # A meeting: its agenda holds the change; sending it tells every member.
    meets_at = (datetime.now().astimezone() + timedelta(days=3)).isoformat()
    r = agent.post("/api/v1/cab/meetings", json={"meets_at": meets_at, "title": "CAB uke 50"})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    assert [i["change_id"] for i in r.json()["agenda"]] == [cid]
    r = agent.post(f"/api/v1/cab/meetings/{mid}/agenda")
    assert r.status_code == 200 and r.json()["state"] == "agenda_sent", r.text
    with world.make.session() as s:
        notified = s.exec(
            select(Notification.user_id).where(col(Notification.reason) == "cab_agenda")
        ).all()
    assert sorted(int(n or 0) for n in notified) == sorted(int(u.id or 0) for u in world.cab)
    r = agent.post(f"/api/v1/cab/meetings/{mid}/agenda")
    _problem(r, 409, "state", "already been sent")

    # Quorum 2: one vote is not enough; a tie is not a decision; the third vote decides.
    first, second, third = (api(u) for u in world.cab)
    vote = f"/api/v1/changes/{cid}/votes"
    assert first.post(vote, json={"vote": "approve", "meeting_id": mid}).status_code == 201
    _problem(
        first.post(vote, json={"vote": "reject", "comment": "Ombestemt"}),
        409,
        "vote",
        "already decided",
    )
    assert agent.get(f"/api/v1/changes/{cid}").json()["pending"] == ["cab"]
    assert (
        second.post(vote, json={"vote": "reject", "comment": "For kort vindu"}).status_code == 201
    )
    assert agent.get(f"/api/v1/changes/{cid}").json()["state"] == "awaiting_approval"
    assert third.post(vote, json={"vote": "approve"}).status_code == 201
    approved = agent.get(f"/api/v1/changes/{cid}").json()
    assert approved["state"] == "approved" and approved["pending"] == []
    assert len([d for d in approved["decisions"] if d["kind"] == "cab"]) == 3

    # The minutes record each item's outcome; a held meeting takes no more minutes.
    r = agent.post(f"/api/v1/cab/meetings/{mid}/minutes", json={"notes": "Godkjent 2-1"})
    assert r.status_code == 200, r.text
    held = r.json()
    assert held["state"] == "held" and held["notes"] == "Godkjent 2-1"
    assert [(i["change_id"], i["outcome"]) for i in held["agenda"]] == [(cid, "approved")]
    _problem(
        agent.post(f"/api/v1/cab/meetings/{mid}/minutes", json={"notes": "x"}),
        409,
        "state",
        "already recorded",
    )


def test_refusals_name_the_rule(world: World, api: Api) -> None:
    agent = api(world.agent)
    start, end = next_window()
    # End before start: refused, nothing stored.
    r = agent.post(
        "/api/v1/changes",
        json=_body(world, planned_start=end.isoformat(), planned_end=start.isoformat()),
    )
    assert r.status_code == 422 and "planned end must come after" in r.text, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert agent.get("/api/v1/changes").json()["items"] == []

    # Missing plans: the submission names every missing one.
    r = agent.post("/api/v1/changes", json=_body(world, backout_plan="", test_plan=""))
    cid = r.json()["id"]
    r = _move(agent, cid, "submitted")
    _problem(r, 422, "backout_plan", "backout plan is required: Helsejournal")
    _problem(r, 422, "test_plan", "test plan is required")
    assert agent.get(f"/api/v1/changes/{cid}").json()["state"] == "draft"

    # Own change: a CAB member who recorded the change may not vote on it.
    cab_agent = api(world.cab[0])
    own = cab_agent.post("/api/v1/changes", json=_body(world)).json()["id"]
    _to_approval(cab_agent, own)
    _problem(
        cab_agent.post(f"/api/v1/changes/{own}/votes", json={"vote": "approve"}),
        403,
        "vote",
        "own change",
    )
    # Only the systemeier of an affected system approves; only CAB members vote.
    r = api(world.plain_eier).post(f"/api/v1/changes/{own}/approvals", json={"vote": "approve"})
    assert r.status_code in (403, 404), r.text
    r = api(world.agent2).post(f"/api/v1/changes/{own}/votes", json={"vote": "approve"})
    assert r.status_code == 403 and "members of the CAB" in r.text, r.text
    # A draft is not decided on.
    r = api(world.cab[1]).post(f"/api/v1/changes/{cid}/votes", json={"vote": "approve"})
    _problem(r, 409, "state", "not awaiting approval")


def test_links_to_incidents_and_problems(world: World, api: Api) -> None:
    agent = api(world.agent)
    cid = agent.post("/api/v1/changes", json=_body(world)).json()["id"]
    incident = world.run(
        world.agent,
        core.create_ticket,
        TicketCreate(title="Journal nede etter oppgradering", kommune_id=world.a.id),
    )
    problem = world.run(
        world.agent,
        core.create_ticket,
        TicketCreate(title="Journal treg", kommune_id=world.a.id, type="problem"),  # type: ignore[arg-type]
    )
    link = f"/api/v1/changes/{cid}/links"
    r = agent.post(link, json={"ticket_id": incident.id, "kind": "caused_incident"})
    assert r.status_code == 200, r.text
    r = agent.post(link, json={"ticket_id": problem.id, "kind": "from_problem"})
    assert sorted((x["kind"], x["ticket_id"]) for x in r.json()["links"]) == [
        ("caused_incident", incident.id),
        ("from_problem", problem.id),
    ]
    _problem(
        agent.post(link, json={"ticket_id": incident.id, "kind": "from_problem"}),
        422,
        "ticket_id",
        "type problem",
    )
    # Links are the drift unit's: a systemeier who sees the change may not add one.
    r = api(world.eier).post(link, json={"ticket_id": incident.id, "kind": "caused_incident"})
    assert r.status_code in (403, 404), r.text
