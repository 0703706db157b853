"""Bulk update: many tickets in one form, each changed through the ticket services (history
and notifications), a stale, hidden or impossible one reported and the rest applied."""

from __future__ import annotations

from sqlmodel import select

from servicedesk.tickets.choices import Status
from servicedesk.tickets.models import Notification, Ticket, TicketEntry
from servicedesk.tickets.service import bulk
from servicedesk.tickets.service.bulk import BulkChange
from tests.pages.helpers import text
from tests.tickets.agent.conftest import Desk, assign, file_ticket, tid


def test_bulk_update_applies_what_it_can_and_reports_the_rest(desk: Desk, as_user, make) -> None:
    w = desk.world
    anne, agent, agent2 = as_user(w.user_a), as_user(w.agent), as_user(w.agent2)
    fine = file_ticket(anne, title="Skriver 1")
    also_fine = file_ticket(as_user(w.user_b), title="Skriver 2")
    stale = file_ticket(anne, title="Skriver 3")
    secret = file_ticket(anne, title="Hemmelig", tlp="red")
    closed = file_ticket(anne, title="Allerede avbrutt")
    seen_versions = {tid(t): t.version for t in (fine, also_fine, stale, secret, closed)}
    # Meanwhile another agent changes one ticket and cancels another.
    assign(agent2, stale, title="Skriver 3 i 2. etasje")
    from servicedesk.tickets.schemas import Transition
    from servicedesk.tickets.service import lifecycle

    lifecycle.transition(agent2, closed.id, Transition(version=1, status="cancelled"))  # type: ignore[arg-type]
    agent2.commit()

    change = BulkChange(
        assignee_id=bulk.ASSIGN_TO_ME,
        group_id=desk.network.id,
        status=Status.IN_PROGRESS,
        comment="Vi ser på det",
    )
    results = bulk.bulk_update(agent, list(seen_versions.items()), change)
    agent.commit()
    outcome = {r.ticket_id: r.status for r in results}
    assert outcome == {
        fine.id: 200,
        also_fine.id: 200,
        stale.id: 409,
        secret.id: 404,
        closed.id: 409,
    }

    with make.session() as system:
        for t in (fine, also_fine):
            now = system.get(Ticket, t.id)
            assert now is not None
            assert (now.assignee_id, now.assignment_group_id, now.status) == (
                w.agent.id,
                desk.network.id,
                "in_progress",
            )
            changes = system.exec(select(TicketEntry).where(TicketEntry.ticket_id == t.id)).all()
            fields = {e.change.get("field") for e in changes}
            assert {"assignee_id", "assignment_group_id", "status"} <= fields
            assert "Vi ser på det" in [e.body for e in changes]
        untouched = system.get(Ticket, stale.id)
        assert untouched is not None and untouched.assignee_id is None
        assert untouched.title == "Skriver 3 i 2. etasje"
        hidden = system.get(Ticket, secret.id)
        assert hidden is not None and hidden.assignee_id is None and hidden.status == "new"
        mails = system.exec(select(Notification).where(Notification.ticket_id == fine.id)).all()
        assert "anne@alfa.no" in {m.email for m in mails if m.reason in ("status", "reply")}


def test_a_change_every_ticket_would_refuse_is_refused_up_front(desk: Desk, as_user) -> None:
    agent = as_user(desk.world.agent)
    ticket = file_ticket(as_user(desk.world.user_a))
    from fellesdrift.kernel.problems import Problem

    try:
        bulk.bulk_update(agent, [(ticket.id, 1)], BulkChange(status=Status.RESOLVED))  # type: ignore[list-item]
    except Problem as problem:
        assert problem.status == 422 and problem.errors[0].field == "resolution"
    else:
        raise AssertionError("resolving without a resolution was accepted")
    agent.rollback()
    assert agent.get(Ticket, ticket.id).status == "new"


def test_bulk_form_on_the_queue_page(desk: Desk, browser, as_user, make) -> None:
    w = desk.world
    one = file_ticket(as_user(w.user_a), title="Treg PC 1")
    two = file_ticket(as_user(w.user_a), title="Treg PC 2")
    client = browser(w.agent)
    page = client.get("/arbeid/saker")
    assert f'value="{one.id}:{one.version}"' in page.text
    # Nothing chosen: the queue again with the reason, nothing changed.
    empty = client.submit("/arbeid/saker/bulk", {"status": "in_progress", "next": "/arbeid/saker"})
    assert empty.status_code == 422
    assert "Velg minst én sak i listen" in text(empty.text)
    # Pending without a reason: refused with the field named; the typed comment is kept.
    pending = client.submit(
        "/arbeid/saker/bulk",
        {
            "ticket": [f"{one.id}:1", f"{two.id}:1"],
            "status": "pending",
            "comment": "Vi venter",
            "next": "/arbeid/saker?priority=3",
        },
    )
    assert pending.status_code == 422
    assert "Velg hva saken venter på" in text(pending.text)
    assert ">Vi venter</textarea>" in pending.text
    assert f'value="{one.id}:1" id="sel-{one.id}" form="bulk-form" checked' in pending.text
    done = client.submit(
        "/arbeid/saker/bulk",
        {
            "ticket": [f"{one.id}:1", f"{two.id}:1"],
            "assignee": "me",
            "impact": "1",
            "urgency": "1",
            "next": "/arbeid/saker?priority=3",
        },
    )
    assert done.status_code == 200
    shown = text(done.text)
    assert "2 av 2 saker ble endret." in shown
    assert 'href="/arbeid/saker?priority=3"' in done.text
    again = client.submit(
        "/arbeid/saker/bulk",
        {"ticket": [f"{one.id}:1"], "status": "in_progress", "next": "https://evil.example/x"},
    )
    assert "noen andre endret saken" in text(again.text)
    assert "evil.example" not in again.text
    with make.session() as system:
        assert {system.get(Ticket, t.id).priority for t in (one, two)} == {1}
