"""What SLA clocks add to filing a ticket (issue 12: less than 10 %), in PostgreSQL on this
machine.

    python -m bench.sla_create            # the figure for BENCHMARKS.md
    python -m bench.sla_create --small    # the smoke run CI does

One database, two kommuner: "dekket" has a service agreement (its default level applies to
every ticket), "udekket" has none and there is no default agreement, so its tickets get no
clocks. Each create is what an API create does below HTTP: a session bound to the employee's
principal (the access layer on), ``core.create_ticket`` and the commit. The same process
files tickets for both kommuner in interleaved rounds (the order alternates), so the agreement
cache, the connection pool and the machine's noise are shared; the peer is the create without
clocks. The figure is the median of the per-round ratios of mean create time, with its range.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

FULL = {"rounds": 9, "creates": 300}
SMALL = {"rounds": 2, "creates": 20}
AGREEMENT = """
agreements:
  - name: Bench
    kommune: dekket
    valid_from: 2020-01-01
    default_level: standard
    levels:
      - key: standard
        name: Standard
        calendar: service_desk
        targets:
          1: {response: 30m, resolution: 4h}
          2: {response: 1h, resolution: 8h}
          3: {response: 4h, resolution: 16h}
          4: {response: 8h, resolution: 40h}
"""


def _setup(engine: Engine) -> dict[str, int]:
    from register.access import Principal, bind
    from register.choices import Role
    from register.schemas import KommuneCreate, UserCreate
    from register.service import kommuner, people
    from sla.importer import import_yaml
    from tests.support.factories import valid_orgnr

    users: dict[str, int] = {}
    with bind(Session(engine, expire_on_commit=False), Principal.system("bench")) as s:
        for n, slug in enumerate(("dekket", "udekket"), 1):
            k = kommuner.create_kommune(
                s,
                KommuneCreate(
                    slug=slug, name=slug.title(), kommunenummer=f"98{n:02d}",
                    orgnr=valid_orgnr(880 + n),
                ),
            )  # fmt: skip
            user = people.create_user(
                s,
                UserCreate(
                    username=f"ansatt-{slug}", full_name="Ansatt", kommune_id=k.id,
                    roles=[Role.END_USER], password=None,
                ),
            )  # fmt: skip
            assert user.id is not None
            users[slug] = user.id
        import_yaml(s, AGREEMENT, "bench.yaml")
        s.commit()
    return users


def _create(engine: Engine, user_id: int, n: int) -> float:
    """Seconds for ``n`` creates, each in its own session and transaction."""
    from register import auth
    from register.access import Principal, bind
    from register.models import User
    from servicedesk.tickets.schemas import TicketCreate
    from servicedesk.tickets.service import core

    with bind(Session(engine), Principal.system("bench")) as s:
        user = s.get(User, user_id)
        assert user is not None
        principal = auth.principal_for(s, user)
    started = time.perf_counter()
    for i in range(n):
        with bind(Session(engine, expire_on_commit=False), principal) as s:
            core.create_ticket(s, TicketCreate(title=f"Skriveren virker ikke {i}", impact=2))
            s.commit()
    return time.perf_counter() - started


def measure(url: str, rounds: int, creates: int) -> dict[str, Any]:
    from fellesdrift.assembly.migrations import upgrade
    from fellesdrift.kernel.db import make_engine
    from servicedesk.tickets.clock_models import TicketClock

    upgrade(url)
    engine = make_engine(url)
    try:
        users = _setup(engine)
        _create(engine, users["dekket"], 20)  # warm-up: statements compiled, pool filled
        _create(engine, users["udekket"], 20)
        with_sla: list[float] = []
        without: list[float] = []
        for r in range(rounds):
            order = ("dekket", "udekket") if r % 2 == 0 else ("udekket", "dekket")
            for slug in order:
                seconds = _create(engine, users[slug], creates) / creates
                (with_sla if slug == "dekket" else without).append(seconds)
        from register.access import Principal, bind

        with bind(Session(engine), Principal.system("bench")) as s:
            clocks = len(s.exec(select(TicketClock.id)).all())
    finally:
        engine.dispose()
    ratios = [w / o for w, o in zip(with_sla, without, strict=True)]
    return {
        "rounds": rounds,
        "creates_per_round": creates,
        "with_sla_ms": [round(v * 1000, 3) for v in with_sla],
        "without_ms": [round(v * 1000, 3) for v in without],
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "clocks": clocks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="smoke run")
    args = parser.parse_args()
    size = SMALL if args.small else FULL
    from sqlalchemy import create_engine as admin_engine

    from tests.rig.postgres import create_database, drop_database, postgres_server

    with postgres_server() as server:
        admin = admin_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        create_database(admin, "bench_sla")
        try:
            result = measure(server.url("bench_sla"), size["rounds"], size["creates"])
        finally:
            drop_database(admin, "bench_sla")
            admin.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
