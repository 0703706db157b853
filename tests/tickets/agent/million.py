"""The agent queues at a million tickets: plans and timings on a throw-away PostgreSQL.

Not a test (pytest does not collect it; it takes minutes). Run from the repository root:

    python -m tests.tickets.agent.million            # 1,000,000 tickets
    python -m tests.tickets.agent.million 200000     # fewer

It starts a scratch server (as the test rig does), migrates it to head, generates tickets with
one ``INSERT ... SELECT generate_series`` (about 4 % open, as in a service desk after some
years), one public reply per ticket and an internal note on every fifth, then prints
``EXPLAIN (ANALYZE, BUFFERS)`` and the median and p95 of the queue statements the workspace
runs for an agent, and of a few searches.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

import fellesdrift.assembly.tables  # noqa: F401  (the tables and their access rules)
from fellesdrift.assembly.migrations import upgrade
from fellesdrift.kernel.db import make_engine
from register.access import Principal, bind
from register.choices import Role
from servicedesk.tickets.service import queues, search
from servicedesk.tickets.service.queues import QueueFilter
from tests.rig.postgres import create_database, postgres_server

SETUP = """
INSERT INTO kommune (slug, name, kommunenummer, orgnr, address_line, postcode, city, country,
                     invoice_email, buyer_reference, valid_from, created_at, updated_at)
SELECT 'k' || g, 'Kommune ' || g, (4200 + g)::text, (910000000 + g)::text, '', '', '', 'NO',
       '', '', date '2000-01-01', now(), now()
FROM generate_series(1, 7) g;
INSERT INTO app_user (username, full_name, email, phone, kommune_id, active, language, created_at)
SELECT 'agent' || g, 'Agent ' || g, 'agent' || g || '@drift.no', '', NULL, true, 'nb', now()
FROM generate_series(1, 50) g;
INSERT INTO role_grant (user_id, role) SELECT id, 'agent' FROM app_user;
INSERT INTO app_user (username, full_name, email, phone, kommune_id, active, language, created_at)
SELECT 'user' || g, 'Bruker ' || g, 'user' || g || '@k.no', '', 1 + g % 7, true, 'nb', now()
FROM generate_series(1, 20000) g;
INSERT INTO assignment_group (key, name, email)
SELECT 'g' || g, 'Gruppe ' || g, '' FROM generate_series(1, 12) g;
INSERT INTO group_member (group_id, user_id)
SELECT g.id, u.id FROM assignment_group g JOIN app_user u ON u.kommune_id IS NULL
WHERE (u.id + g.id) % 4 = 0;
INSERT INTO config_item (key, name, kind, classification, criticality, life_and_health,
    finance_payroll, lifecycle, service, description, vendor, version, address, created_at,
    updated_at)
SELECT 'ci' || g, 'System ' || g, 'fagsystem', 'fellessystem', 'medium', false, false,
       'in_production', '', '', '', '', '', now(), now()
FROM generate_series(1, 300) g;
"""

TICKETS = """
INSERT INTO ticket (type, kommune_id, requester_id, title, description, status, pending_reason,
    impact, urgency, priority, major, tlp, category, assignment_group_id, assignee_id, form_data,
    root_cause, workaround, known_error, resolution, rating_comment, reopen_count, created_at,
    updated_at, version)
SELECT
  CASE WHEN r.a < 0.70 THEN 'incident' WHEN r.a < 0.98 THEN 'request' ELSE 'problem' END,
  CASE WHEN r.b < 0.5 THEN 1 ELSE 1 + (r.b * 1000)::int % 7 END,
  51 + (r.c * 19999)::int,
  (ARRAY['Skriveren virker ikke', 'Får ikke logget inn i Visma', 'E-post synkroniserer ikke',
         'Ny PC til nyansatt', 'Tilgang til fagsystem', 'Treg nettforbindelse på skolen',
         'Passord utløpt', 'Telefon virker ikke', 'Skjermen flimrer', 'VPN kobler fra'])
     [1 + (r.d * 9)::int],
  'Brukeren melder at noe ikke fungerer som det skal.',
  st.status, CASE WHEN st.status = 'pending' THEN 'vendor' END, 3, 3,
  CASE WHEN r.e < 0.02 THEN 1 WHEN r.e < 0.12 THEN 2 WHEN r.e < 0.70 THEN 3 ELSE 4 END,
  r.f < 0.0005,
  CASE WHEN r.g < 0.01 THEN 'red' WHEN r.g < 0.86 THEN 'amber' WHEN r.g < 0.94 THEN 'green'
       ELSE 'clear' END,
  '',
  CASE WHEN st.status = 'new' AND r.h < 0.4 THEN NULL ELSE 1 + (r.h * 1000)::int % 12 END,
  CASE WHEN st.status = 'new' THEN NULL ELSE 1 + (r.i * 49)::int END,
  '{}', '', '', false, '', '', 0,
  now() - (:n - s.i) * interval '5 minutes', now() - (:n - s.i) * interval '4 minutes', 1
FROM generate_series(1, :n) s(i)
CROSS JOIN LATERAL (SELECT random() a, random() b, random() c, random() d, random() e,
    random() f, random() g, random() h, random() i, random() j, s.i AS k) r
CROSS JOIN LATERAL (SELECT CASE
    WHEN s.i > :n * 0.94 AND r.j < 0.70 THEN
        (ARRAY['new', 'assigned', 'in_progress', 'in_progress', 'pending'])
            [1 + (r.j * 1000)::int % 5]
    WHEN s.i > :n * 0.94 THEN CASE WHEN r.j < 0.85 THEN 'resolved' ELSE 'closed' END
    WHEN r.j < 0.002 THEN 'pending'
    WHEN r.j < 0.05 THEN 'cancelled'
    ELSE 'closed' END AS status) st;
INSERT INTO ticket_ci (ticket_id, ci_id)
SELECT id, 1 + (id::bigint * 7919) % 300 FROM ticket WHERE id % 5 < 3;
INSERT INTO ticket_watcher (ticket_id, user_id)
SELECT id, 1 + id % 50 FROM ticket WHERE tlp = 'red' AND id % 2 = 0;
INSERT INTO ticket_entry (ticket_id, kind, public, author_id, body, change, created_at)
SELECT id, 'reply', true, 1,
  (ARRAY['Vi har byttet toner.', 'Har du prøvd å starte maskinen på nytt?',
         'Tilgangen er gitt.', 'Nettverkskabelen var løs.'])[1 + id % 4], '{}', created_at
FROM ticket;
INSERT INTO ticket_entry (ticket_id, kind, public, author_id, body, change, created_at)
SELECT id, 'note', false, 2, 'Intern: sjekk brannmurregel ' || id % 100, '{}', created_at
FROM ticket WHERE id % 5 = 0;
"""

QUEUES = [
    "group=3",
    "assignee=me",
    "assignee=none",
    "major=1",
    "kommune=3&priority=1&priority=2",
    "group=7&tlp=amber&type=incident&status=in_progress&status=pending",
    "status=closed&group=4",
    "ci=4",
    "group=3&q=skriveren",
    "",
]
SEARCHES = ["skriveren", "brannmurregel 42", "123456", "lisenser"]


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _timed(run: Callable[[], Any], n: int = 30) -> tuple[float, float]:
    run()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * n) - 1)]


def _explain(session: Session, run: Callable[[], Any]) -> str:
    captured: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def keep(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        captured.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    statement, params = captured[-1]
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
    return "\n".join(row[0] for row in cursor.fetchall())


def main(n: int) -> None:
    with postgres_server() as server:
        admin = sa.create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        create_database(admin, "million")
        admin.dispose()
        url = server.url("million")
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.exec_driver_sql("SELECT setseed(0.42)")
            for statement in SETUP.split(";\n"):
                if statement.strip():
                    connection.execute(sa.text(statement))
            for statement in TICKETS.split(";\n"):
                if statement.strip():
                    connection.execute(sa.text(statement), {"n": n})
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE"
            )
        _say(f"generated {n} tickets in {time.perf_counter() - started:.0f} s")
        agent = Principal(user_id=5, username="agent5", roles=frozenset({Role.AGENT}))
        with Session(engine) as session:
            bind(session, agent)
            for query in QUEUES:
                f = QueueFilter.from_query(query)
                median, p95 = _timed(partial(queues.queue_page, session, f, 50))
                _say(
                    f"\n== queue {query or '(all open)'}: median {median:.1f} ms, p95 {p95:.1f} ms"
                )
                _say(_explain(session, partial(queues.queue_page, session, f, 50)))
            median, p95 = _timed(lambda: queues.queue_counts(session, [3, 7, 11]))
            _say(f"\n== sidebar counts: median {median:.1f} ms, p95 {p95:.1f} ms")
            for text in SEARCHES:
                median, p95 = _timed(partial(search.search, session, text, 50), 10)
                _say(f"== search {text!r}: median {median:.1f} ms, p95 {p95:.1f} ms")
        engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
