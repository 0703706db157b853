"""The demo's tickets: with them comes the service catalogue the portal offers."""

from __future__ import annotations

from sqlmodel import Session, select

from fellesdrift.kernel.db import make_engine
from register import demo
from register.access import Principal, bind
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
