"""A request's connections: the sign-in look-up gives its connection back before the route
takes one (held while the request waits for the route's thread, connections could all end up
with requests that have no thread while every thread waits for a connection), every request
gives back what it took, and what the sign-in tells the route (the kommune's end) and the
priority matrix inside the INSERT hold as separate reads would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import delete, select

from fellesdrift.kernel.types import utcnow
from register.choices import Role
from register.models import Kommune
from servicedesk.tickets.models import PriorityRule, Ticket
from tests.api.support import field_error
from tests.support.factories import Factory
from tests.tickets.api.conftest import Api, file_ticket
from tests.tickets.conftest import World


@contextmanager
def pool_events(engine: Engine) -> Iterator[list[str]]:
    """The pool's check-outs and check-ins inside the block, in order."""
    seen: list[str] = []

    def out(*_: object) -> None:
        seen.append("out")

    def back(*_: object) -> None:
        seen.append("in")

    event.listen(engine.pool, "checkout", out)
    event.listen(engine.pool, "checkin", back)
    try:
        yield seen
    finally:
        event.remove(engine.pool, "checkout", out)
        event.remove(engine.pool, "checkin", back)


#: Sign in (a connection, given back), then the route's work (another, given back).
SIGN_IN_THEN_ROUTE = ["out", "in", "out", "in"]


def test_an_api_create_holds_no_connection_between_sign_in_and_route(
    world: World, api: Api, engine: Engine
) -> None:
    anne = api(world.user_a)
    file_ticket(anne)  # the first request of a client may warm things up
    with pool_events(engine) as seen:
        created = file_ticket(anne, impact=1, urgency=1)
    assert seen == SIGN_IN_THEN_ROUTE
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert created["priority"] == 1 and created["kommune_id"] == world.a.id


def test_a_page_holds_no_connection_between_sign_in_and_route(
    world: World, browser, engine: Engine
) -> None:
    page = browser(world.agent)
    assert page.get("/arbeid").status_code == 200
    with pool_events(engine) as seen:
        assert page.get("/arbeid/saker?status=new").status_code == 200
    assert seen == SIGN_IN_THEN_ROUTE
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_route_that_only_signs_in_gives_its_connection_back(
    world: World, browser, engine: Engine
) -> None:
    signed_in = browser(world.user_a)
    # The sign-in form only asks who is there (and sends them on): no session dependency.
    answer = signed_in.get("/logg-inn", follow_redirects=False)
    assert answer.status_code == 303
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    bad_token = api_with(signed_in, "fd_nonsense")
    assert bad_token.status_code == 401
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def api_with(client, token: str):  # type: ignore[no-untyped-def]
    return client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})


def test_filing_in_ones_ended_kommune_is_refused(world: World, api: Api, make: Factory) -> None:
    anne = api(world.user_a)
    with make.session() as s:
        kommune = s.get(Kommune, world.a.id)
        assert kommune is not None
        kommune.valid_to = (utcnow() - timedelta(days=1)).date()
        s.add(kommune)
        s.commit()
    refused = anne.post("/api/v1/tickets", json={"title": "Skriveren virker ikke"})
    field_error(refused, "kommune_id")
    with make.session() as s:
        assert s.exec(select(Ticket).where(Ticket.requester_id == world.user_a.id)).all() == []


def test_the_configured_matrix_sets_the_priority_of_an_api_ticket(
    world: World, api: Api, make: Factory, stored
) -> None:
    with make.session() as s:
        rule = s.exec(
            select(PriorityRule).where(PriorityRule.impact == 4, PriorityRule.urgency == 4)
        ).first()
        s.add(rule or PriorityRule(impact=4, urgency=4, priority=1))
        if rule is not None:
            rule.priority = 1
        s.exec(  # no rule for 4x3: the default matrix applies
            delete(PriorityRule).where(PriorityRule.impact == 4, PriorityRule.urgency == 3)  # type: ignore[call-overload]
        )
        s.commit()
    anne = api(world.user_a)
    configured = file_ticket(anne, impact=4, urgency=4)
    default = file_ticket(anne, impact=4, urgency=3)
    assert configured["priority"] == 1 and stored(configured["id"]).priority == 1
    assert default["priority"] == 4  # no rule: the default matrix


def test_a_merger_elsewhere_adds_no_reads_to_others_sign_in(
    world: World, api: Api, make: Factory, engine: Engine
) -> None:
    """Whether one's kommune succeeded another is asked of one's own kommune: after a merger
    of two other kommuner (the successor has people), signing in is still the one look-up."""
    ended, successor = make.kommune(), make.kommune()
    with make.session() as s:
        row = s.get(Kommune, ended.id)
        assert row is not None
        row.valid_to, row.successor_id = (utcnow() - timedelta(days=1)).date(), successor.id
        s.add(row)
        s.commit()
    make.user(successor, Role.KOMMUNE_CONTACT, password=None)
    anne = api(world.user_a)
    file_ticket(anne)
    seen: list[str] = []

    def count(_c, _cur, statement: str, *_: object) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert anne.get("/api/v1/tickets").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(seen) == 2, seen  # sign in, then the page of tickets
