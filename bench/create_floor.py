"""The peer for ticket creation: what this machine gives an API create with the web stack, the
database driver and the app's own statements, and nothing else.

``POST /api/v1/tickets`` here validates the same body (``TicketCreate``), signs the bearer in
with the app's own look-up statement, stores the ticket with the app's own INSERT (priority
from the matrix) and its first timeline entry, and commits: the three statements and the
commit an API create sends to PostgreSQL, through SQLAlchemy Core on one pooled connection
(checked out with the same pre-ping), with no ORM session, access layer, dependencies or
response model. bench/tickets.py serves it as it serves the app and measures it at the same
32 clients in the same run: its p99 is the floor any create built on this stack can reach on
this machine, one request at a time.

Benchmark only: it skips every rule the app applies (scopes, kommune validity, TLP, roles).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException
from sqlalchemy import insert

from fellesdrift.kernel.db import make_engine
from register.auth import _TOKEN_LOOKUP, digest  # the app's own sign-in statement
from servicedesk.tickets.choices import DEFAULT_PRIORITY_MATRIX, EntryKind, Status
from servicedesk.tickets.models import TicketEntry
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service.core import _INSERT_TICKET  # the app's own INSERT

engine = make_engine(os.environ["FELLESDRIFT_DATABASE_URL"])
app = FastAPI()
_INSERT_ENTRY = insert(TicketEntry)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/api/v1/tickets", status_code=201)
def create(data: TicketCreate, authorization: Annotated[str, Header()]) -> dict[str, Any]:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        user = connection.execute(
            _TOKEN_LOOKUP, {"digest": digest(authorization.removeprefix("Bearer "))}
        ).first()
        if user is None:
            raise HTTPException(401)
        ticket = (
            connection.execute(
                _INSERT_TICKET,
                {
                    "type": data.type.value,
                    "kommune_id": user.kommune_id,
                    "requester_id": user.user_id,
                    "created_by_id": user.user_id,
                    "title": data.title,
                    "description": data.description,
                    "status": Status.NEW.value,
                    "pending_reason": None,
                    "impact": data.impact,
                    "urgency": data.urgency,
                    "p_impact": data.impact,
                    "p_urgency": data.urgency,
                    "p_default": DEFAULT_PRIORITY_MATRIX[(data.impact, data.urgency)],
                    "major": data.major,
                    "tlp": data.tlp.value,
                    "category": data.category,
                    "form_data": data.form_data,
                    "root_cause": "",
                    "workaround": "",
                    "known_error": False,
                    "resolution": "",
                    "rating_comment": "",
                    "reopen_count": 0,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                },
            )
            .mappings()
            .one()
        )
        connection.execute(
            _INSERT_ENTRY,
            {
                "ticket_id": ticket["id"],
                "kind": EntryKind.SYSTEM.value,
                "public": True,
                "author_id": user.user_id,
                "body": "",
                "change": {"event": "created"},
                "created_at": now,
            },
        )
    return dict(ticket)
