"""The demo's tickets: with them comes the service catalogue the portal offers."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlmodel import Session, select

from fellesdrift.kernel.db import make_engine
from register import demo
from register.access import Principal, bind
from register.models import Kommune
from servicedesk.tickets import demo as ticket_demo
from servicedesk.tickets.models import CatalogueItem, Group, Ticket
from servicedesk.tickets.service import catalogue_demo


def test_the_demo_offers_the_service_catalogue(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with bind(Session(engine), Principal.system("test")) as session:
            demo.load(session)
            session.commit()
            ticket_demo.load(session)
            session.commit()
            items = {i.key: i for i in session.exec(select(CatalogueItem))}
            # Every item of the demo catalogue whose system the demo register has.
            assert set(items) == {row[0] for row in catalogue_demo.DEMO_ITEMS}
            groups = {g.id: g.key for g in session.exec(select(Group))}
            assert groups[items["ny-brukerkonto"].group_id] == "brukerstotte"
            assert items["tilgang-pleie"].approval == "systemeier" and items["tilgang-pleie"].ci_id
            assert session.exec(select(Ticket)).first() is not None
    finally:
        engine.dispose()


def test_the_demo_tells_the_true_history_and_every_kind_of_ticket(sqlite_url: str) -> None:
    """Søgne and Songdalen became part of Kristiansand on 1 January 2020: the register ends
    them with Kristiansand as successor, and today's tickets are filed in today's kommuner.
    The desk has service requests (some awaiting approval) and problems, not only incidents."""
    engine = make_engine(sqlite_url)
    try:
        with bind(Session(engine), Principal.system("test")) as session:
            demo.load(session)
            session.commit()
            ticket_demo.load(session)
            session.commit()
            kommuner = {k.slug: k for k in session.exec(select(Kommune))}
            for slug in ("sogne", "songdalen"):
                assert kommuner[slug].valid_to == date(2019, 12, 31)
                assert kommuner[slug].successor_id == kommuner["kristiansand"].id
            tickets = list(session.exec(select(Ticket)))
            ended = {k.id for k in kommuner.values() if k.valid_to}
            assert not [t.id for t in tickets if t.kommune_id in ended]
            kinds = Counter(t.type for t in tickets)
            assert kinds["request"] >= 5 and kinds["problem"] >= 1, kinds
            problem = next(t for t in tickets if t.type == "problem")
            assert problem.known_error and [t for t in tickets if t.problem_id == problem.id]
            assert any(t.form_data for t in tickets if t.type == "request")
    finally:
        engine.dispose()
