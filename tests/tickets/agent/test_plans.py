"""The queue queries keep their shape on PostgreSQL: each queue page is read from a queue index
in (priority, id) order, a branch per status merged, never a scan and sort of the table.

A guard, not a benchmark: the table is 40,000 generated tickets (one INSERT ... SELECT
generate_series), enough for the planner to show its real choice; the 1,000,000-ticket
evidence and the timings are in the report of the change that added the queues.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servicedesk.tickets.service import queues
from servicedesk.tickets.service.queues import QueueFilter
from tests.tickets.agent.conftest import Desk

N = 40_000

GENERATE = """
INSERT INTO ticket (type, kommune_id, requester_id, title, description, status, impact, urgency,
    priority, major, tlp, category, assignment_group_id, assignee_id, form_data, root_cause,
    workaround, known_error, resolution, rating_comment, reopen_count, created_at, updated_at,
    version)
SELECT 'incident', :kommune, :requester, 'Generert sak ' || g, '',
       (ARRAY['new', 'assigned', 'in_progress', 'pending', 'closed', 'closed', 'closed',
              'closed'])[1 + g % 8],
       3, 3, 1 + (g * 7) % 4, g % 997 = 0,
       CASE WHEN g % 50 = 0 THEN 'red' ELSE 'amber' END, '',
       CASE WHEN g % 3 = 0 THEN :group_a WHEN g % 3 = 1 THEN :group_b END,
       CASE WHEN g % 8 = 0 THEN NULL WHEN g % 2 = 0 THEN :agent END,
       '{}', '', '', false, '', '', 0, now(), now(), 1
FROM generate_series(1, :n) AS g
"""


def _plan(session: Session, run: Any) -> dict[str, Any]:
    """The JSON plan of the last statement ``run`` executes, with its real parameters."""
    captured: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    statement, params = captured[-1]
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute("EXPLAIN (FORMAT JSON) " + statement, params)
    row = cursor.fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.fixture
def big(desk: Desk, engine: Engine) -> Desk:
    w = desk.world
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.execute(
            sa.text(GENERATE),
            {
                "kommune": w.a.id,
                "requester": w.user_a.id,
                "group_a": desk.network.id,
                "group_b": desk.clients.id,
                "agent": w.agent.id,
                "n": N,
            },
        )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE ticket"
        )
    return desk


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("group={network}", "ix_ticket_queue"),
        ("assignee=me", "ix_ticket_assignee_queue"),
        ("assignee=none", "ix_ticket_unassigned_queue"),
        ("kommune={kommune}&priority=1&priority=2", "ix_ticket_kommune_queue"),
        ("major=1", "ix_ticket_major_queue"),
    ],
)
def test_queue_pages_come_straight_from_a_queue_index(
    big: Desk, as_user, query: str, index: str
) -> None:
    agent = as_user(big.world.agent)
    f = QueueFilter.from_query(query.format(network=big.network.id, kommune=big.world.a.id))
    first = queues.queue_page(agent, f, 50)
    for after in (None, first.next):
        plan = _plan(agent, lambda after=after: queues.queue_page(agent, f, 50, after))
        nodes = list(_nodes(plan))
        # No scan of the table; a bitmap only over a handful of rows (a tiny partial index).
        scans = [
            n
            for n in nodes
            if n.get("Relation Name") == "ticket"
            and (
                n["Node Type"] == "Seq Scan"
                or (n["Node Type"] == "Bitmap Heap Scan" and n["Plan Rows"] > 200)
            )
        ]
        assert scans == [], json.dumps(plan)[:2000]
        assert {n.get("Index Name") for n in nodes} >= {index}, json.dumps(plan)[:2000]
        # Sorting is only ever of the merged page, never of a queue's tickets.
        sorts = [n for n in nodes if n["Node Type"] == "Sort"]
        assert all(n.get("Plan Rows", 0) <= 51 * 4 for n in sorts), json.dumps(plan)[:2000]
    assert plan["Node Type"] == "Limit"
    if len(first.tickets) == 50:
        assert any(n["Node Type"] == "Merge Append" for n in nodes), json.dumps(plan)[:2000]
    assert len(first.tickets) == 50 or (first.next is None and first.tickets)
    assert [(t.priority, t.id) for t in first.tickets] == sorted(
        (t.priority, t.id) for t in first.tickets
    )
