"""The embedded default: a full ticket round trip on SQLite, through the real web app."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from fellesdrift.assembly.app import create_app
from fellesdrift.kernel.db import dispose_engines, get_engine
from fellesdrift.kernel.settings import load_settings
from tests.support.factories import Factory
from tests.support.fixtures import SECRET, token_for


def test_ticket_round_trip_on_sqlite(sqlite_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=sqlite_url, data_dir=tmp_path, secret_key=SECRET)
    make = Factory(get_engine(settings))
    try:
        alfa, beta = make.kommune("Alfa"), make.kommune("Beta")
        anne = make.user(alfa, username="anne", email="anne@alfa.no")
        bjorn = make.user(beta, username="bjorn")
        agent = make.user(None, "agent", username="agent1")
        app = create_app(settings)
        tokens = {u.username: token_for(make, u) for u in (anne, bjorn, agent)}
        with TestClient(app) as client:

            def as_(name: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {tokens[name]}"}

            created = client.post(
                "/api/v1/tickets",
                json={"title": "Skriveren virker ikke", "description": "<b>rød lampe</b>"},
                headers=as_("anne"),
            )
            assert created.status_code == 201, created.text
            ticket = created.json()
            assert (
                client.get(f"/api/v1/tickets/{ticket['id']}", headers=as_("bjorn")).status_code
                == 404
            )
            reply = client.post(
                f"/api/v1/tickets/{ticket['id']}/entries",
                json={"body": "Vi ser på det"},
                headers=as_("agent1"),
            )
            assert reply.status_code == 201, reply.text
            moved = client.post(
                f"/api/v1/tickets/{ticket['id']}/transitions",
                json={"version": ticket["version"], "status": "resolved", "resolution": "Ny toner"},
                headers=as_("agent1"),
            )
            assert moved.status_code == 200, moved.text
            rated = client.put(
                f"/api/v1/tickets/{ticket['id']}/rating",
                json={"rating": 4, "comment": "Bra"},
                headers=as_("anne"),
            )
            assert rated.status_code == 200, rated.text
            timeline = client.get(
                f"/api/v1/tickets/{ticket['id']}/entries", headers=as_("anne")
            ).json()
            bodies = (
                [e["body"] for e in timeline["items"]]
                if isinstance(timeline, dict)
                else [e["body"] for e in timeline]
            )
            assert "Vi ser på det" in bodies
            final = client.get(f"/api/v1/tickets/{ticket['id']}", headers=as_("anne")).json()
            assert final["status"] == "resolved" and final["rating"] == 4
            assert final["description"] == "<b>rød lampe</b>"
    finally:
        dispose_engines()
