"""Billing speed: a month's invoice run for 50 kommuner, 1,000,000 time entries and 100,000
counted items, in PostgreSQL on this machine.

    python -m bench.billing            # the figure for BENCHMARKS.md
    python -m bench.billing --small    # the smoke run CI does

The run (draft, review and issue: every line, the specification down to each counted item and
the hours per ticket, numbering, locking and the stored documents) is timed in a fresh process,
whose peak memory is its maximum resident set size. Two peers, each in its own process:

* the floor: the fastest honest way to the same hours, one SQL aggregate (GROUP BY kommune and
  work type, each entry rounded up to started quarter hours in SQL) and one count of the
  counted items per kommune; what the draft costs beyond it is billing's own;
* the straightforward way: the month's entries and counted items as ORM objects, summed in a
  Python loop with the same rounding.

The floor and the draft (re-runnable: a draft replaces the draft) are repeated in interleaved
rounds (``--rounds``); the median and the range are reported. The whole run (draft, review,
issue) runs once, last, since issuing locks the month. All must agree on the hours.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

MONTH = date(2026, 10, 1)
FULL = {"kommuner": 50, "entries": 1_000_000, "items": 100_000, "tickets": 20_000}
SMALL = {"kommuner": 5, "entries": 5_000, "items": 1_000, "tickets": 200}


def _orgnr(n: int) -> str:
    from register.identifiers import orgnr_check_digit

    base = 93_000_000 + n * 37
    while (check := orgnr_check_digit(str(base))) is None:
        base += 1
    return f"{base}{check}"


def _price_model(slugs: list[str]) -> str:
    figures = ", ".join(f"{s}: {1000 + 997 * i}" for i, s in enumerate(slugs))
    return f"""
versions:
  - name: Bench
    valid_from: 2026-01-01
    inhabitants: [{{date: 2026-01-01, figures: {{{figures}}}}}]
    elements:
      - {{code: infra, category: 1, service: Infrastruktur, annual_budget: "24000000.00",
          key: {{mix: [{{key: equal, weight: 1/3}}, {{key: inhabitants, weight: 2/3}}]}}}}
      - {{code: systems, category: 1, service: Fellessystemer, monthly_amount: "350000.00",
          key: devices}}
      - {{code: line, category: 2, service: Linje, monthly_amount: "4500.00",
          owner: {{kommune: {slugs[0]}}}}}
      - {{code: pc, category: 3, service: PC, count: devices, unit_price: "165.00"}}
      - {{code: hours, category: 4, service: Timer, rounding: up_per_entry, rounding_minutes: 15,
          rates: {{office_hours: "650.00", after_hours: "975.00"}}}}
"""


def _kommuner(session: Any, n: int) -> list[str]:
    from register.models import Kommune, User

    slugs = []
    for i in range(1, n + 1):
        slug = f"k{i:02d}"
        session.add(
            Kommune(
                slug=slug,
                name=f"Kommune {i}",
                kommunenummer=f"{4000 + i}",
                orgnr=_orgnr(i),
                buyer_reference=f"REF-{i}",
                valid_from=date(2000, 1, 1),
            )
        )
        slugs.append(slug)
    session.add(User(username="bench-agent", full_name="Bench Agent"))
    session.flush()
    return slugs


_TICKETS = """
INSERT INTO ticket (type, kommune_id, title, description, status, impact, urgency, priority, major,
    tlp, category, form_data, root_cause, workaround, known_error, resolution, rating_comment,
    reopen_count, created_at, updated_at, version)
SELECT 'incident', k.id, 'Sak ' || g, '', 'closed', 3, 3, 3, false, 'amber', 'generert', '{}',
    '', '', false, '', '', 0, now(), now(), 1
FROM generate_series(1, :n) AS g
JOIN kommune k ON k.id = (SELECT min(id) FROM kommune) + g % :kommuner
"""

_ENTRIES = """
INSERT INTO time_entry (ticket_id, user_id, work_date, minutes, work_type, billable, kommune_id,
    note, created_at)
SELECT t.id, u.id, DATE '2026-10-01' + (g % 31), 5 + (g::bigint * 7919) % 116,
    CASE WHEN g % 10 = 0 THEN 'after_hours' ELSE 'office_hours' END, g % 11 <> 0, t.kommune_id,
    '', now()
FROM generate_series(1, :n) AS g
JOIN ticket t ON t.id = (SELECT min(id) FROM ticket) + g % :tickets
CROSS JOIN (SELECT id FROM app_user WHERE username = 'bench-agent') AS u
"""


def generate(url: str, size: dict[str, int]) -> dict[str, Any]:
    """The month's data: kommuner, price model, tickets and time entries in SQL, and the
    counted devices imported as a count file (one row per device)."""
    from sqlmodel import Session

    from billing import counts, pricemodel
    from billing.choices import CountKind
    from billing.models import Supplier
    from fellesdrift.assembly.migrations import upgrade
    from fellesdrift.kernel.db import make_engine
    from register.access import Principal, bind

    upgrade(url)
    engine = make_engine(url)
    with bind(Session(engine), Principal.system("bench")) as session:
        slugs = _kommuner(session, size["kommuner"])
        session.add(Supplier(name="Bench IKT", orgnr="998877660", bank_account="28011000004"))
        pricemodel.import_yaml(session, _price_model(slugs))
        session.commit()
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # no search triggers
        conn.execute(text(_TICKETS), {"n": size["tickets"], "kommuner": size["kommuner"]})
        conn.execute(text(_ENTRIES), {"n": size["entries"], "tickets": size["tickets"]})
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    rows = ["kommune;label"] + [f"{slugs[i % len(slugs)]};PC-{i:06d}" for i in range(size["items"])]
    with bind(Session(engine), Principal.system("bench")) as session:
        imported = time.perf_counter()
        counts.import_count_file(session, MONTH, "\n".join(rows), "pc.csv", CountKind.DEVICES)
        session.commit()
        import_s = time.perf_counter() - imported
    engine.dispose()
    return {
        "generate_s": round(time.perf_counter() - started, 1),
        "count_import_s": round(import_s, 2),
    } | size


def run_month(url: str) -> dict[str, Any]:
    """The measured run (in its own process): draft, review, issue."""
    from sqlmodel import Session, select

    from billing import run
    from billing.models import InvoiceLine
    from fellesdrift.kernel.db import make_engine
    from register.access import Principal, bind

    engine = make_engine(url)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with bind(Session(engine), Principal.system("bench")) as session:
        for step in (run.draft, run.review, run.issue):
            t0 = time.perf_counter()
            step(session, MONTH)
            session.commit()
            timings[step.__name__ + "_s"] = round(time.perf_counter() - t0, 3)
        total = time.perf_counter() - started
        lines = session.exec(select(InvoiceLine).where(InvoiceLine.category == 4)).all()
        hours: dict[int, Decimal] = defaultdict(Decimal)
        for line in lines:
            hours[line.invoice_id] += line.quantity
    engine.dispose()
    return timings | {
        "run_s": round(total, 3),
        "hours_total": str(sum(hours.values())),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


_FLOOR_HOURS = """
SELECT kommune_id, work_type, sum(((minutes + 14) / 15) * 15) AS minutes
FROM time_entry
WHERE work_date BETWEEN :start AND :end AND billable AND invoice_ref IS NULL
GROUP BY kommune_id, work_type
"""
_FLOOR_ITEMS = """
SELECT s.kommune_id, count(*) FROM count_item i JOIN count_snapshot s ON s.id = i.snapshot_id
WHERE s.month = :start GROUP BY s.kommune_id
"""


def floor(url: str) -> dict[str, Any]:
    """The floor: the same hours (and counted items) by one SQL aggregate each, nothing else."""
    from fellesdrift.kernel.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # connected before the clock starts, as the run is
        started = time.perf_counter()
        params = {"start": MONTH, "end": date(2026, 10, 31)}
        rows = conn.execute(text(_FLOOR_HOURS), params).all()
        conn.execute(text(_FLOOR_ITEMS), params).all()
        elapsed = time.perf_counter() - started
    engine.dispose()
    hours = sum((Decimal(m) / 60 for _, _, m in rows), Decimal(0))
    return {"floor_s": round(elapsed, 3), "hours_total": str(hours.quantize(Decimal("0.0001")))}


def draft_only(url: str) -> dict[str, Any]:
    """One draft of the month (it replaces the previous draft), timed in a fresh process."""
    from sqlmodel import Session

    from billing import run
    from fellesdrift.kernel.db import make_engine
    from register.access import Principal, bind

    engine = make_engine(url)
    with bind(Session(engine), Principal.system("bench")) as session:
        started = time.perf_counter()
        run.draft(session, MONTH)
        session.commit()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return {"draft_s": round(elapsed, 3)}


def peer(url: str) -> dict[str, Any]:
    """The straightforward way: every entry and counted item as an ORM object, summed in Python."""
    from sqlmodel import Session, col, select

    from billing.models import CountItem, CountSnapshot
    from fellesdrift.kernel.db import make_engine
    from register.access import Principal, bind
    from servicedesk.tickets.models import TimeEntry

    engine = make_engine(url)
    started = time.perf_counter()
    minutes: dict[tuple[int | None, str], int] = defaultdict(int)
    devices: dict[int, int] = defaultdict(int)
    with bind(Session(engine), Principal.system("bench")) as session:
        entries = select(TimeEntry).where(
            col(TimeEntry.work_date) >= MONTH, col(TimeEntry.work_date) <= date(2026, 10, 31)
        )
        for entry in session.exec(entries):
            if entry.billable and entry.invoice_ref is None:
                minutes[(entry.kommune_id, entry.work_type)] += -(-entry.minutes // 15) * 15
        items = select(CountItem, CountSnapshot).join(CountSnapshot)
        for _item, snapshot in session.exec(items):
            devices[snapshot.kommune_id] += 1
    elapsed = time.perf_counter() - started
    engine.dispose()
    hours = sum((Decimal(m) / 60 for m in minutes.values()), Decimal(0))
    return {
        "peer_s": round(elapsed, 3),
        "hours_total": str(hours.quantize(Decimal("0.0001"))),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _child(role: str, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.billing", "--child", role, url],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{role} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values)}


def measure(
    url: str, size: dict[str, int], rounds: int = 5, whole_run: bool = True
) -> dict[str, Any]:
    """Generate the data in ``url`` (a PostgreSQL database); rounds of the floor and the draft
    interleaved; then the ORM peer and, last, the whole run (issuing locks the month).
    ``whole_run=False`` stops after the rounds (issuing renders every invoice's PDF)."""
    facts = generate(url, size)
    floors, drafts, ratios = [], [], []
    for n in range(rounds):
        pair = ("floor", "draft") if n % 2 == 0 else ("draft", "floor")
        got = {role: _child(role, url) for role in pair}
        floors.append(got["floor"]["floor_s"])
        drafts.append(got["draft"]["draft_s"])
        ratios.append(round(got["draft"]["draft_s"] / got["floor"]["floor_s"], 2))
    spread = {
        "facts": facts,
        "rounds": rounds,
        "floor_s": _spread(floors),
        "draft_s": _spread(drafts),
        "ratio_draft_over_floor": _spread(ratios),
    }
    if not whole_run:
        return spread
    floor_result = _child("floor", url)
    peer_result = _child("peer", url)  # before the run: the run locks the entries it bills
    run_result = _child("run", url)
    totals = {floor_result["hours_total"], peer_result["hours_total"], run_result["hours_total"]}
    if len({Decimal(t) for t in totals}) != 1:
        raise RuntimeError(f"run and peers disagree: {run_result} {peer_result} {floor_result}")
    return spread | {
        "run": run_result,
        "peer": peer_result,
        "ratio_run_over_floor": round(run_result["run_s"] / statistics.median(floors), 1),
        "ratio_peer_over_run": round(peer_result["peer_s"] / run_result["run_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="smoke run: a small month")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of floor and draft")
    parser.add_argument(
        "--draft-only", action="store_true", help="the rounds only, not the peer and whole run"
    )
    parser.add_argument("--child", nargs=2, metavar=("ROLE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        role, url = args.child
        roles = {"run": run_month, "peer": peer, "floor": floor, "draft": draft_only}
        print(json.dumps(roles[role](url)))
        return
    from sqlalchemy import create_engine as admin_engine

    from tests.rig.postgres import create_database, drop_database, postgres_server

    with postgres_server() as server:
        admin = admin_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        create_database(admin, "bench_billing")
        try:
            size = SMALL if args.small else FULL
            rounds = 2 if args.small else args.rounds
            result = measure(server.url("bench_billing"), size, rounds, not args.draft_only)
        finally:
            drop_database(admin, "bench_billing")
            admin.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
