"""Service-desk speed at scale: 1,000,000 tickets in PostgreSQL on this machine.

    python -m bench.tickets --tickets 1000000        # the figure for BENCHMARKS.md
    python -m bench.tickets --tickets 5000 --quick   # a smoke run

Measures, with the app served as ``fellesdrift serve --workers 2`` serves it (uvicorn,
see fellesdrift/assembly/serving.py): an agent's filtered queue page of 50 (p95, one client),
their start page with a panel for each of their queues (p95, one client, for reference), opening a
ticket with its timeline (p95, one client, 500 different tickets in turn), creating a ticket
at 32 concurrent clients (p99), and throughput as ratios against a bare FastAPI endpoint
served the same way in the same run (the web stack's own limit): the queue page at 8 clients
and ticket creation at 32, each against the bare page at as many clients. Creation is also
measured against a second peer, bench/create_floor.py: the web stack, the driver and the app's
own three statements with nothing else, at the same 32 clients (the floor any create on this
stack reaches here), and, for reference, at 32 clients that each file a ticket about once a
second, at random moments.
The load generator
is wrk (C, closed loop: each client sends its next request when the answer came), so that
the 2 cores serve rather than drive: a Python client needs about as much CPU per request as
a small endpoint. The bare page at one client shows what the machine's state alone costs.
Each figure follows a few seconds of the same load, not counted: the steady state, not each
worker's first compilation of a page's templates and statements.
The PostgreSQL server is the test rig's throw-away one (fsync off).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - a throw-away server

# Paths under test (an agent's queue page, the ticket page, ticket creation).
QUEUE_PAGE = "/arbeid/saker?status=new&status=assigned&kommune={kommune}"  # 50 rows a page
START_PAGE = "/arbeid"  # the agent's day: a panel of 10 for each of their queues
TICKET_PAGE = "/arbeid/saker/{id}"
API_CREATE = "/api/v1/tickets"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def generate(url: str, tickets: int) -> dict[str, Any]:
    """Demo register data plus ``tickets`` tickets with two timeline entries each, in SQL."""
    from sqlmodel import Session

    from fellesdrift.assembly.migrations import upgrade
    from fellesdrift.kernel.db import make_engine
    from register import demo
    from register.access import Principal, bind
    from servicedesk.tickets import demo as ticket_demo

    upgrade(url)
    engine = make_engine(url)
    with bind(Session(engine), Principal.system("bench")) as session:
        demo.load(session)
        session.commit()
        ticket_demo.load(session)
        session.commit()
    started = time.perf_counter()
    with engine.begin() as conn:
        # Row triggers (the search index) would make the load take hours: they are switched
        # off for this transaction and the index is built set-based afterwards, as the
        # migration does for existing tickets.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(_TICKETS_SQL), {"n": tickets})
        conn.execute(text(_ENTRIES_SQL))
        # Without fresh statistics the planner takes the new tables for empty and joins the
        # entries' aggregate in a nested loop: hours instead of minutes.
        conn.execute(text("ANALYZE ticket, ticket_entry"))
        conn.execute(text(_search_backfill()))
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('ticket', 'id'), max(id)) FROM ticket")
        )
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('ticket_entry', 'id'), max(id)) "
                "FROM ticket_entry"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        facts = {
            "tickets": conn.execute(text("SELECT count(*) FROM ticket")).scalar_one(),
            "entries": conn.execute(text("SELECT count(*) FROM ticket_entry")).scalar_one(),
            "kommune": conn.execute(text("SELECT min(id) FROM kommune")).scalar_one(),
            # Tickets an agent may open (RED is for the named participants only).
            "tickets_to_open": list(
                conn.execute(
                    text(
                        "SELECT id FROM ticket WHERE tlp <> 'red' AND category = 'generert' "
                        "ORDER BY id DESC LIMIT 500 OFFSET 1000"
                    )
                ).scalars()
            ),
            "load_seconds": round(time.perf_counter() - started, 1),
        }
    engine.dispose()
    return facts


def _search_backfill() -> str:
    """The search migration's set-based backfill, for the generated tickets only."""
    import importlib

    migration = importlib.import_module(
        "fellesdrift.assembly.migrations.versions.0003_ticket_search"
    )
    backfill = next(
        sql for sql in migration.PG_UPGRADE if sql.lstrip().startswith("INSERT INTO ticket_search")
    )
    return backfill.rstrip() + "\n    WHERE t.category = 'generert'"


_TICKETS_SQL = """
INSERT INTO ticket (type, kommune_id, requester_id, created_by_id, title, description, status,
    impact, urgency, priority, major, tlp, category, assignment_group_id, assignee_id,
    form_data, root_cause, workaround, known_error, resolution, rating_comment, reopen_count,
    created_at, updated_at, version)
SELECT
    (ARRAY['incident','incident','incident','request'])[1 + g % 4],
    k.id, u.id, u.id,
    'Sak ' || g || ': ' || (ARRAY['Skriveren virker ikke','Får ikke logget inn','Treg PC',
        'Trenger tilgang','E-post henger','VPN faller ut'])[1 + g % 6],
    'Generert for ytelsestest ' || g,
    (ARRAY['new','assigned','in_progress','pending','resolved','closed','closed','closed',
        'closed','closed'])[1 + g % 10],
    1 + g % 4, 1 + (g / 4) % 4, 1 + (g / 7) % 4, false,
    (ARRAY['amber','amber','amber','green','clear','red'])[1 + g % 6],
    'generert', grp.id, NULL, '{}', '', '', false, '', '', 0,
    now() - (g % 365) * interval '1 day', now(), 1
FROM generate_series(1, :n) AS g
-- Every kommune with users takes its turn, and within it each of its users (a fixed offset
-- would skip kommuner with fewer users and leave the count short of :n).
CROSS JOIN (SELECT array_agg(kommune_id ORDER BY kommune_id) AS ids
              FROM (SELECT DISTINCT kommune_id FROM app_user WHERE kommune_id IS NOT NULL) x
           ) AS ks
JOIN (SELECT kommune_id AS id, array_agg(id ORDER BY id) AS users FROM app_user
       WHERE kommune_id IS NOT NULL GROUP BY kommune_id) AS k
  ON k.id = ks.ids[1 + g % cardinality(ks.ids)]
CROSS JOIN LATERAL (SELECT k.users[1 + (g / cardinality(ks.ids)) % cardinality(k.users)] AS id) AS u
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM assignment_group) AS grps
CROSS JOIN LATERAL (SELECT grps.ids[1 + g % cardinality(grps.ids)] AS id) AS grp
"""

_ENTRIES_SQL = """
INSERT INTO ticket_entry (ticket_id, kind, public, author_id, body, change, created_at)
SELECT t.id, e.kind, e.kind = 'reply', t.requester_id, e.body, '{}', t.created_at
FROM ticket t
CROSS JOIN (VALUES ('system', ''), ('reply', 'Takk, vi ser på saken.')) AS e(kind, body)
WHERE t.category = 'generert'
"""


def _serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fellesdrift.assembly.serving",  # as `fellesdrift serve --workers 2` serves
            *args,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"uvicorn {args} did not start")


_WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
local paths = {{{paths}}}
{pace}
local next_path = 0
if #paths > 0 then
  request = function()
    next_path = next_path % #paths + 1
    return wrk.format(nil, paths[next_path])
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def _wrk(
    url: str,
    connections: int,
    seconds: int,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: str = "",
    paths: list[str] | None = None,
    warmup: int = 0,
    pace_ms: int = 0,
) -> dict[str, float]:
    """Closed-loop load by wrk (C, one thread): ``connections`` clients each sending the next
    request when the last answer arrived, for ``seconds``. A load generator in C leaves the
    2 cores to the server; httpx in Python needs about as much CPU per request as a small
    endpoint does. ``paths``: request these in turn instead of ``url``'s own path.
    ``warmup``: first the same load for this many seconds, not counted (each worker compiles
    a page's templates and statements on its first requests; the figures are the steady
    state). ``pace_ms``: each client waits a random 0 to 2 × ``pace_ms`` after an answer
    before its next request (not counted in the latency): clients that think, at random, so
    they do not all send at once. Returns requests/s and the p50/p95/p99 latency in ms; any
    error fails."""
    if warmup:
        _wrk(url, connections, warmup, headers, method, body, paths, pace_ms=pace_ms)
    lua = _WRK_SCRIPT.format(
        method=method,
        body=json.dumps(body) if body else "nil",
        headers="\n".join(
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items()
        ),
        paths=", ".join(json.dumps(path) for path in paths or []),
        pace=f"delay = function() return math.random(0, {2 * pace_ms}) end" if pace_ms else "",
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(lua)
        script.flush()
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "30s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    requests, duration_us, p50_us, p95_us, p99_us, errors = (int(v) for v in line.split()[1:])
    if errors:
        raise RuntimeError(f"wrk {method} {url}: {errors} failed requests\n{out}")
    return {
        "rps": round(requests / (duration_us / 1e6), 1),
        "p50_ms": round(p50_us / 1000, 1),
        "p95_ms": round(p95_us / 1000, 1),
        "p99_ms": round(p99_us / 1000, 1),
        "requests": requests,
    }


def _agent_cookie(base: str, username: str, password: str) -> dict[str, str]:
    import re

    with httpx.Client(base_url=base) as client:
        page = client.get("/logg-inn").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post(
            "/logg-inn", data={"username": username, "password": password, "csrf_token": token}
        )
        return {"Cookie": f"fd_session={client.cookies['fd_session']}"}


def _token(url: str, username: str) -> str:
    from sqlmodel import Session, select

    from fellesdrift.kernel.db import make_engine
    from register import auth
    from register.access import Principal, bind
    from register.models import User

    engine = make_engine(url)
    with bind(Session(engine), Principal.system("bench")) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        _, raw = auth.issue_token(session, user.id, "bench", frozenset({"read", "write"}))  # type: ignore[arg-type]
        session.commit()
    engine.dispose()
    return raw


def measure(url: str, facts: dict[str, Any], seconds: int) -> dict[str, Any]:
    """Each figure from ``seconds`` of load."""
    from register.demo import DEMO_PASSWORD

    env = {k: v for k, v in os.environ.items() if not k.startswith("FELLESDRIFT_")}
    env |= {
        "FELLESDRIFT_DATABASE_URL": url,
        "FELLESDRIFT_SECRET_KEY": SECRET,
        "FELLESDRIFT_RUN_JOBS": "false",
        "PYTHONPATH": str(ROOT),
    }
    app_port, bare_port, floor_port = _free_port(), _free_port(), _free_port()
    app = _serve(["--factory", "fellesdrift.assembly.app:create_app"], env, app_port)
    bare = _serve(["bench.bare_app:app"], env, bare_port)
    floor = _serve(["bench.create_floor:app"], env, floor_port)
    try:
        base, bare_base = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{bare_port}"
        floor_base = f"http://127.0.0.1:{floor_port}"
        cookie = _agent_cookie(base, "agent", DEMO_PASSWORD)
        bearer = {"Authorization": f"Bearer {_token(url, 'ansatt')}"}
        kommune, to_open = facts["kommune"], facts.pop("tickets_to_open")
        queue_path = QUEUE_PAGE.format(kommune=kommune)
        warm = max(1, min(5, seconds // 4))  # unmeasured load first: the steady state
        queue = _wrk(base + queue_path, 1, seconds, headers=cookie, warmup=warm)
        start = _wrk(base + START_PAGE, 1, seconds, headers=cookie, warmup=warm)
        page = _wrk(
            base,
            1,
            seconds,
            headers=cookie,
            paths=[TICKET_PAGE.format(id=ticket_id) for ticket_id in to_open],
            warmup=warm,
        )
        bare_single = _wrk(bare_base + "/logg-inn", 1, seconds, warmup=warm)
        new_ticket = json.dumps({"title": "Benchmark-sak fra lastgeneratoren"})
        create = _wrk(base + API_CREATE, 32, seconds, bearer, "POST", new_ticket, warmup=warm)
        # The same creates by the floor peer: the stack, the driver and the same statements.
        floor_create = _wrk(
            floor_base + API_CREATE, 32, seconds, bearer, "POST", new_ticket, warmup=warm
        )
        # For reference: 32 clients that each file about a ticket a second, at random moments
        # (a busier hour than a desk of seven kommuner has).
        paced = _wrk(
            base + API_CREATE, 32, seconds, bearer, "POST", new_ticket, warmup=warm, pace_ms=1000
        )
        queue_load = _wrk(base + queue_path, 8, seconds, headers=cookie, warmup=warm)
        bare_load = _wrk(bare_base + "/logg-inn", 8, seconds, warmup=warm)
        bare_32 = _wrk(bare_base + "/logg-inn", 32, seconds, warmup=warm)
    finally:
        for process in (app, bare, floor):
            process.send_signal(signal.SIGINT)
            process.wait(30)
    return {
        "queue_page_p95_ms": queue["p95_ms"],
        "queue_median_ms": queue["p50_ms"],
        "start_page_p95_ms": start["p95_ms"],
        "ticket_page_p95_ms": page["p95_ms"],
        "ticket_page_median_ms": page["p50_ms"],
        # The same single client against the bare page: what the machine's state alone costs.
        "bare_fastapi_p95_ms": bare_single["p95_ms"],
        "create_p99_ms_at_32": create["p99_ms"],
        "create_p50_ms_at_32": create["p50_ms"],
        "create_rps_32_clients": create["rps"],
        "creates_measured": create["requests"],
        "bare_fastapi_rps_32_clients": bare_32["rps"],
        "bare_fastapi_p99_ms_at_32": bare_32["p99_ms"],
        "create_ratio_to_bare": round(create["rps"] / bare_32["rps"], 3),
        "floor_create_p99_ms_at_32": floor_create["p99_ms"],
        "floor_create_p50_ms_at_32": floor_create["p50_ms"],
        "floor_create_rps_32_clients": floor_create["rps"],
        "floor_creates_measured": floor_create["requests"],
        "create_ratio_to_floor": round(create["rps"] / floor_create["rps"], 3),
        "paced_create_p99_ms_at_32": paced["p99_ms"],
        "paced_create_p50_ms_at_32": paced["p50_ms"],
        "paced_create_rps": paced["rps"],
        "queue_rps_8_clients": queue_load["rps"],
        "bare_fastapi_rps_8_clients": bare_load["rps"],
        "ratio_to_bare": round(queue_load["rps"] / bare_load["rps"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=20, help="of load for each figure")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s a figure")
    args = parser.parse_args()
    from sqlalchemy import create_engine as admin_engine

    from tests.rig.postgres import create_database, drop_database, postgres_server

    seconds = 3 if args.quick else args.seconds
    with postgres_server() as server:
        admin = admin_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        create_database(admin, "bench")
        try:
            facts = generate(server.url("bench"), args.tickets)
            result = measure(server.url("bench"), facts, seconds)
        finally:
            drop_database(admin, "bench")
            admin.dispose()
    print(json.dumps({"facts": facts, "result": result}, indent=2))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
