"""Time entries: who logs and corrects them, the lock once invoiced, and totals that add up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from fellesdrift.kernel.problems import Problem
from register import auth
from register.access import Principal, bind
from register.models import User
from servicedesk.tickets.models import TimeEntry
from servicedesk.tickets.schemas import TicketCreate, TimeEntryIn
from servicedesk.tickets.service import core, timeentries

DAY = date(2026, 2, 10)


def _ticket(session: Session, **kw: Any) -> int:
    ticket = core.create_ticket(session, TicketCreate(**({"title": "Treg skriver"} | kw)))
    session.commit()
    return int(ticket.id)  # type: ignore[arg-type]


def _entry(**kw: Any) -> TimeEntryIn:
    return TimeEntryIn.model_validate({"work_date": DAY, "minutes": 30} | kw)


def _id(row: Any) -> int:
    assert row.id is not None
    return int(row.id)


def _log(session: Session, ticket_id: int, **kw: Any) -> TimeEntry:
    entry = timeentries.add(session, ticket_id, _entry(**kw))
    session.commit()
    return entry


def _refused(call: Callable[[], Any], session: Session) -> int:
    """The status of the Problem raised by ``call`` or by the flush that follows it."""
    with pytest.raises(Problem) as err:
        call()
        session.flush()
    session.rollback()
    return err.value.status


def test_agents_log_time_and_others_cannot(world, as_user) -> None:
    ticket_id = _ticket(as_user(world.user_a))
    agent = as_user(world.agent)

    entry = _log(agent, ticket_id, minutes=45, note="Byttet toner")

    assert (entry.user_id, entry.kommune_id, entry.minutes) == (world.agent.id, world.a.id, 45)
    for person in (world.user_a, world.contact_a, world.owner):
        session = as_user(person)

        def add(s: Session = session) -> Any:
            return timeentries.add(s, ticket_id, _entry())

        assert _refused(add, session) == 403, person.username


def test_only_the_agent_who_logged_corrects_or_deletes(world, as_user, make) -> None:
    ticket_id = _ticket(as_user(world.user_a))
    entry_id = _id(_log(as_user(world.agent), ticket_id))
    other, contact = as_user(world.agent2), as_user(world.contact_a)

    assert _refused(lambda: timeentries.update(other, entry_id, _entry(minutes=90)), other) == 403
    assert _refused(lambda: timeentries.delete(other, entry_id), other) == 403
    assert _refused(lambda: timeentries.update(contact, entry_id, _entry()), contact) == 403

    agent = as_user(world.agent)
    changed = timeentries.update(agent, entry_id, _entry(minutes=90, work_type="after_hours"))
    agent.commit()
    assert (changed.minutes, changed.work_type) == (90, "after_hours")
    timeentries.delete(agent, entry_id)
    agent.commit()
    with make.session() as s:
        assert s.get(TimeEntry, entry_id) is None


def test_an_invoiced_entry_is_locked(world, as_user, make) -> None:
    ticket_id = _ticket(as_user(world.user_a))
    entry = _log(as_user(world.agent), ticket_id)
    with make.session() as billing:  # the invoice run, as the system
        invoiced = billing.get(TimeEntry, entry.id)
        invoiced.invoice_ref = "F-2026-0042"
        billing.commit()
    agent = as_user(world.agent)

    with pytest.raises(Problem) as err:
        timeentries.update(agent, entry.id, _entry(minutes=5))  # type: ignore[arg-type]
    assert err.value.status == 409 and "F-2026-0042" in err.value.detail
    agent.rollback()
    with pytest.raises(Problem) as err:
        timeentries.delete(agent, entry.id)  # type: ignore[arg-type]
    assert err.value.status == 409
    # Not even an admin edits it behind the service's back: the table's write rule refuses.
    admin = as_user(make.user(None, "admin", username="admin1"))
    row = admin.get(TimeEntry, entry.id)
    row.minutes = 1
    with pytest.raises(Problem) as err:
        admin.flush()
    assert err.value.status == 403
    admin.rollback()
    with make.session() as s:
        assert s.get(TimeEntry, entry.id).minutes == 30


def test_a_shared_ticket_needs_the_kommune_charged(world, as_user) -> None:
    agent = as_user(world.agent)
    shared = _ticket(agent, type="problem", title="Felles e-post nede")

    with pytest.raises(Problem) as err:
        timeentries.add(agent, shared, _entry())
    assert err.value.status == 422 and err.value.errors[0].field == "kommune_id"
    agent.rollback()
    entry = _log(agent, shared, kommune_id=world.b.id)
    assert entry.kommune_id == world.b.id


def test_who_sees_time_entries(world, as_user) -> None:
    a_ticket = _ticket(as_user(world.user_a))
    b_ticket = _ticket(as_user(world.user_b))
    agent = as_user(world.agent)
    _log(agent, a_ticket)
    _log(agent, b_ticket)

    def seen(user: User) -> set[int]:
        return {e.kommune_id for e in as_user(user).exec(select(TimeEntry))}

    assert seen(world.contact_a) == {world.a.id}  # their kommune's, for checking invoices
    assert seen(world.user_a) == set()  # end users see no time entries
    assert seen(world.agent2) == {world.a.id, world.b.id}


# ---- totals add up (property test) ------------------------------------------------------------

ENTRY = st.tuples(
    st.integers(0, 2),  # which ticket: A's, B's or the shared one
    st.dates(date(2025, 11, 1), date(2026, 3, 31)),
    st.integers(1, 24 * 60),
    st.sampled_from(["office_hours", "after_hours"]),
    st.booleans(),
    st.sampled_from(["a", "b", "c"]),  # kommune charged on the shared ticket
)


@contextmanager
def _agent_session(make: Any, user: User) -> Iterator[Session]:
    with bind(Session(make.engine, expire_on_commit=False), Principal.system("load")) as s:
        bind(s, auth.principal_for(s, s.get(User, user.id)))  # type: ignore[arg-type]
        yield s


@pytest.fixture
def three_tickets(world, make) -> list[tuple[int, int | None]]:
    """One ticket of A, one of B and a shared one (made once: hypothesis runs every example
    with the same fixtures)."""
    with _agent_session(make, world.user_a) as anne:
        a = _ticket(anne)
    with _agent_session(make, world.user_b) as bjorn:
        b = _ticket(bjorn)
    with _agent_session(make, world.agent) as agent:
        shared = _ticket(agent, type="problem", title="Felles e-post nede")
    return [(a, world.a.id), (b, world.b.id), (shared, None)]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=st.lists(ENTRY, max_size=25))
def test_totals_per_ticket_kommune_and_month_are_the_exact_sums(
    world, make, three_tickets, entries
) -> None:
    tickets = three_tickets
    kommune = {"a": world.a.id, "b": world.b.id, "c": world.c.id}
    with _agent_session(make, world.agent) as agent:
        expected: dict[tuple[Any, ...], int] = defaultdict(int)
        per_ticket: dict[int, int] = defaultdict(int)
        for which, day, minutes, work_type, billable, charged in entries:
            ticket_id, own = tickets[which]
            data = _entry(work_date=day, minutes=minutes, work_type=work_type, billable=billable)
            if own is None:
                data.kommune_id = kommune[charged]
            entry = timeentries.add(agent, ticket_id, data)
            expected[(entry.kommune_id, f"{day:%Y-%m}", work_type, billable)] += minutes
            per_ticket[ticket_id] += minutes
        agent.flush()

        rows = timeentries.totals(agent, date(2025, 11, 1), date(2026, 3, 31))
        got = {
            (r["kommune_id"], r["month"], r["work_type"], r["billable"]): r["minutes"] for r in rows
        }
        assert got == {k: v for k, v in expected.items() if v}
        for name, k_id in kommune.items():
            mine = timeentries.totals(agent, date(2025, 11, 1), date(2026, 3, 31), k_id)
            assert sum(r["minutes"] for r in mine) == sum(
                v for key, v in expected.items() if key[0] == k_id
            ), name
        february = timeentries.totals(agent, date(2026, 2, 1), date(2026, 2, 28))
        assert sum(r["minutes"] for r in february) == sum(
            v for key, v in expected.items() if key[1] == "2026-02"
        )
        for ticket_id, _own in tickets:
            total = timeentries.ticket_totals(agent, ticket_id)
            assert total["minutes"] == per_ticket[ticket_id]
            assert total["office_hours"] + total["after_hours"] == per_ticket[ticket_id]
        agent.rollback()  # each example starts from no entries
