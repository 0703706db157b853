"""The embedded default: agreements imported and a ticket's clocks started, met and listed on
SQLite (which has no INSERT in a WITH clause: the clocks go through the session there)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from fellesdrift.kernel.db import dispose_engines, get_engine
from fellesdrift.kernel.settings import load_settings
from register import auth
from register.access import bind
from servicedesk.tickets.clock_models import TicketClock, TicketClockEvent
from servicedesk.tickets.schemas import ReplyIn, TicketCreate
from servicedesk.tickets.service import core, lifecycle
from sla import importer
from sla.agreements import forget
from tests.sla.conftest import AGREEMENTS
from tests.support.factories import Factory
from tests.support.fixtures import SECRET


def test_clocks_on_sqlite(sqlite_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=sqlite_url, data_dir=tmp_path, secret_key=SECRET)
    make = Factory(get_engine(settings))
    forget()
    try:
        alfa = make.kommune("Alfa")
        make.ci("journal", name="Journal", kind="fagsystem", classification="fellessystem")
        anne = make.user(alfa, username="anne")
        agent = make.user(None, "agent", username="agent1")
        make.run(importer.import_yaml, AGREEMENTS, "avtaler.yaml")

        def as_(user):  # type: ignore[no-untyped-def]
            s = make.session()
            return bind(s, auth.principal_for(s, user))

        with as_(anne) as s:
            ticket = core.create_ticket(s, TicketCreate(title="Skriveren virker ikke"))
            s.commit()
        with as_(agent) as s:
            lifecycle.reply(s, ticket.id, ReplyIn(body="Vi ser på det"))
            s.commit()
        with make.session() as s:
            clocks = {c.kind: c for c in s.exec(select(TicketClock))}
            events = [(e.kind, e.event) for e in s.exec(select(TicketClockEvent))]
        assert clocks["response"].state == "met" and clocks["resolution"].state == "running"
        assert clocks["resolution"].agreement == "Standard"
        assert sorted(events) == [
            ("resolution", "start"), ("response", "met"), ("response", "start"),
        ]  # fmt: skip
    finally:
        dispose_engines()
        forget()
