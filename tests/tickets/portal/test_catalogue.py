"""The service catalogue: each item's own form, its validation, and approval before work
starts (by the systemeier of the item's system, or by the requester's leader)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from sqlmodel import select

from fellesdrift.kernel.problems import Problem
from servicedesk.tickets.models import Approval, CatalogueItem, Notification, Ticket, TicketCI
from servicedesk.tickets.service import catalogue, catalogue_demo
from servicedesk.tickets.service.catalogue import CatalogueItemIn, DecisionIn, RequestIn
from tests.tickets.conftest import World
from tests.tickets.portal.conftest import Catalogue
from tests.tickets.portal.helpers import field_error, ident, input_value, page, text, ticket_id

GOOD: dict[str, object] = {"for_whom": "Kari Nordmann", "level": "read"}


# ---- validation ------------------------------------------------------------------------------


def _errors(item: CatalogueItem, data: Mapping[str, object]) -> dict[str, str]:
    with pytest.raises(Problem) as err:
        catalogue.validate_form_data(item, data)
    assert err.value.status == 422
    return {e.field: e.code or e.message for e in err.value.errors}


def test_form_data_is_checked_against_the_items_fields(items: Catalogue) -> None:
    item = items.plain
    assert catalogue.validate_form_data(
        item, GOOD | {"count": " 3 ", "from_date": "24.12.2026"}
    ) == {
        "for_whom": "Kari Nordmann",
        "level": "read",
        "count": 3,
        "from_date": "2026-12-24",
    }
    assert catalogue.validate_form_data(item, GOOD | {"from_date": "2026-12-24", "why": ""}) == (
        GOOD | {"from_date": "2026-12-24"}
    )
    assert _errors(item, {}) == {"form_data.for_whom": "missing", "form_data.level": "missing"}
    assert _errors(item, GOOD | {"level": "admin"}) == {"form_data.level": "literal_error"}
    assert _errors(item, GOOD | {"from_date": "31.02.2026"}) == {
        "form_data.from_date": "date_parsing"
    }
    assert _errors(item, GOOD | {"count": "tre"}) == {"form_data.count": "int_parsing"}
    assert _errors(item, GOOD | {"count": "11"}) == {"form_data.count": "less_than_equal"}
    assert _errors(item, GOOD | {"count": "0"}) == {"form_data.count": "greater_than_equal"}
    assert _errors(item, GOOD | {"why": "x" * 101}) == {"form_data.why": "string_too_long"}
    assert _errors(item, GOOD | {"sneaky": "1"}) == {"form_data.sneaky": "extra_forbidden"}


def test_item_definitions_are_checked() -> None:
    base: dict[str, object] = {"key": "x-item", "name": "Noe"}
    bad: list[dict[str, object]] = [
        {"fields": [{"name": "a", "label": "A", "type": "select"}]},
        {"fields": [{"name": "a", "label": "A"}, {"name": "a", "label": "B"}]},
        {"fields": [{"name": "A b", "label": "A"}]},
        {"fields": [{"name": "a", "label": "A", "type": "number", "min": 5, "max": 1}]},
        {"approval": "systemeier"},
        {"fields": [{"name": "a", "label": "A", "type": "html"}]},
    ]
    for extra in bad:
        with pytest.raises(ValueError):
            CatalogueItemIn.model_validate(base | extra)


def test_only_the_drift_unit_keeps_the_catalogue(world: World, as_user) -> None:
    with pytest.raises(Problem) as err:
        catalogue.create_item(as_user(world.user_a), CatalogueItemIn(key="x-item", name="Noe"))
    assert err.value.status == 403
    agent = as_user(world.agent)
    catalogue.create_item(agent, CatalogueItemIn(key="x-item", name="Noe"))
    with pytest.raises(Problem) as err:
        catalogue.create_item(agent, CatalogueItemIn(key="x-item", name="Noe igjen"))
    assert err.value.status == 409


# ---- ordering in the portal --------------------------------------------------------------------


def test_an_order_with_wrong_values_is_shown_again_in_norwegian(
    world: World, items: Catalogue, browser, make
) -> None:
    anne = browser(world.user_a)
    url = f"/saker/ny/bestilling/{items.plain.id}"
    html = page(anne.get(url), "Bestilling plain")
    assert 'name="f_level"' in html and 'type="date"' in html
    response = anne.submit(
        url, {"f_for_whom": "", "f_level": "admin", "f_count": "99", "f_why": "Fordi"}
    )
    html = page(response, "Bestilling plain", status=422)
    assert field_error(html, "f-for-whom") == "Feil: Må fylles ut"
    assert field_error(html, "f-level") == "Feil: Er ikke et av valgene"
    assert field_error(html, "f-count") == "Feil: Kan ikke være mer enn 10"
    assert input_value(html, "f-count") == "99" and ">Fordi</textarea>" in html
    summary = text(html)
    assert "Hvem gjelder det: må fylles ut" in summary  # the summary names the item's own label
    with make.session() as s:
        assert s.exec(select(Ticket)).all() == []


def test_an_order_without_approval_goes_straight_to_the_queue(
    world: World, items: Catalogue, browser, make
) -> None:
    anne = browser(world.user_a)
    response = anne.submit(
        f"/saker/ny/bestilling/{items.plain.id}",
        {
            "f_for_whom": "Kari Nordmann",
            "f_level": "write",
            "f_from_date": "2026-12-24",
            "description": "Snarest",
        },
        follow_redirects=False,
    )
    number = ticket_id(response)
    html = page(anne.get(f"/saker/{number}/mottatt"))
    assert "venter nå på godkjenning" not in html
    with make.session() as s:
        t = s.get(Ticket, number)
        assert t is not None
        assert (t.type, t.status, t.catalogue_item_id, t.category) == (
            "request",
            "new",
            items.plain.id,
            "Tilgang",
        )
        assert t.title == "Bestilling plain: Kari Nordmann"
        assert t.form_data == {
            "for_whom": "Kari Nordmann",
            "level": "write",
            "from_date": "2026-12-24",
        }
        assert t.description == "Snarest"
    html = page(anne.get(f"/saker/{number}"))
    assert "Skrive" in html and "24.12.2026" in html  # the answers, as labels and dates


def _order(anne, item: CatalogueItem) -> int:
    response = anne.submit(
        f"/saker/ny/bestilling/{item.id}",
        {"f_for_whom": "Anne Alfa", "f_level": "read"},
        follow_redirects=False,
    )
    return ticket_id(response)


def test_systemeier_approves_and_work_can_start(
    world: World, items: Catalogue, browser, make
) -> None:
    anne = browser(world.user_a)
    number = _order(anne, items.access)
    html = page(anne.get(f"/saker/{number}/mottatt"))
    assert "venter nå på godkjenning" in html
    with make.session() as s:
        t = s.get(Ticket, number)
        assert t is not None and (t.status, t.pending_reason) == ("pending", "approval")
        approval = s.exec(select(Approval).where(Approval.ticket_id == number)).one()
        assert approval.approver_id == world.owner.id and approval.kind == "systemeier"
        assert s.exec(select(TicketCI.ci_id).where(TicketCI.ticket_id == number)).all() == [
            world.shared.id
        ]
        asked = s.exec(
            select(Notification).where(Notification.reason == "approval_requested")
        ).all()
        assert [n.email for n in asked] == ["eier@alfa.no"]
    html = page(anne.get(f"/saker/{number}"))
    assert "Venter på godkjenning" in html and "Eier: venter" in html

    owner = browser(world.owner)
    html = page(owner.get("/godkjenninger"), "Godkjenninger")
    assert f"Sak {number}: Bestilling access: Anne Alfa" in html and "Anne, Alfa" in html
    response = owner.submit(
        f"/godkjenninger/{approval.id}", {"decision": "approve", "comment": "Ok for meg"}
    )
    html = page(response, "Godkjenninger")
    assert "Bestillingen er godkjent" in html and "Ingen bestillinger venter" in html
    with make.session() as s:
        t = s.get(Ticket, number)
        assert t is not None and (t.status, t.pending_reason) == ("new", None)
        assert s.get(Approval, approval.id).state == "approved"
        told = s.exec(select(Notification).where(Notification.reason == "approval_approved")).one()
        assert told.email == "anne@alfa.no"
    html = page(anne.get(f"/saker/{number}"))
    assert "Bestillingen er godkjent." in html and "Ok for meg" in html
    # Decided once: a second decision is a conflict, shown on the page.
    response = owner.submit(
        f"/godkjenninger/{approval.id}", {"decision": "reject", "comment": "Nei"}
    )
    assert "allerede avgjort" in page(response, "Godkjenninger", status=409)


def test_rejection_cancels_with_the_reason(world: World, items: Catalogue, browser, make) -> None:
    anne = browser(world.user_a)
    number = _order(anne, items.access)
    with make.session() as s:
        approval = s.exec(select(Approval).where(Approval.ticket_id == number)).one()
    owner = browser(world.owner)
    response = owner.submit(f"/godkjenninger/{approval.id}", {"decision": "reject", "comment": ""})
    html = page(response, "Godkjenninger", status=422)
    assert field_error(html, f"a{approval.id}-comment").startswith("Feil: Skriv hvorfor")
    response = owner.submit(
        f"/godkjenninger/{approval.id}",
        {"decision": "reject", "comment": "Du trenger ikke tilgang til e-post for dette"},
    )
    assert "Bestillingen er avslått" in page(response, "Godkjenninger")
    with make.session() as s:
        t = s.get(Ticket, number)
        assert t is not None and t.status == "cancelled" and t.closed_at is not None
        told = s.exec(select(Notification).where(Notification.reason == "approval_rejected")).one()
        assert "Du trenger ikke tilgang til e-post for dette" in told.body
    html = page(anne.get(f"/saker/{number}"))
    assert "Bestillingen er avslått." in html and "Du trenger ikke tilgang" in html
    assert "Avbrutt" in html


def test_a_non_approver_cannot_decide(world: World, items: Catalogue, browser, make) -> None:
    anne = browser(world.user_a)
    number = _order(anne, items.access)
    with make.session() as s:
        approval = s.exec(select(Approval).where(Approval.ticket_id == number)).one()
    url = f"/godkjenninger/{approval.id}"
    # The requester sees the approval on their ticket, but may not decide it.
    assert anne.submit(url, {"decision": "approve"}).status_code == 403
    # Those who see the request (the kommune's contact, the drift unit) may not decide either;
    # another kommune's employee does not even learn that it exists.
    for user, status in ((world.contact_a, 403), (world.agent, 403), (world.user_b, 404)):
        client = browser(user)
        assert client.submit(url, {"decision": "approve"}).status_code == status
        assert f"Sak {number}" not in client.get("/godkjenninger").text
    with make.session() as s:
        assert s.get(Ticket, number).status == "pending"


def test_the_leader_is_the_kommunes_contact(
    world: World, items: Catalogue, browser, as_user, make
) -> None:
    anne = browser(world.user_a)
    number = _order(anne, items.pc)
    with make.session() as s:
        approvals = s.exec(select(Approval).where(Approval.ticket_id == number)).all()
    assert [(a.approver_id, a.kind) for a in approvals] == [(world.contact_a.id, "leader")]
    contact = browser(world.contact_a)
    assert f"Sak {number}" in page(contact.get("/godkjenninger"))
    page(
        contact.submit(f"/godkjenninger/{approvals[0].id}", {"decision": "approve"}),
        "Godkjenninger",
    )
    with make.session() as s:
        assert s.get(Ticket, number).status == "new"
    # A kommune without a contact: nobody could approve, so the order is refused.
    bjorn = browser(world.user_b)
    response = bjorn.submit(
        f"/saker/ny/bestilling/{items.pc.id}", {"f_for_whom": "Bjørn", "f_level": "read"}
    )
    html = page(response, status=422)
    assert "ingen er registrert som godkjenner" in html.lower()
    with make.session() as s:
        assert s.exec(select(Ticket).where(Ticket.requester_id == world.user_b.id)).all() == []


def test_one_decision_settles_the_request_for_every_approver(
    world: World, items: Catalogue, make, as_user
) -> None:
    second = make.user(world.a, "end_user", "kommune_contact", username="kontakt-a2")
    anne = as_user(world.user_a)
    ticket = catalogue.order(anne, ident(items.pc), RequestIn(form_data=GOOD))
    anne.commit()
    with make.session() as system:
        rows = system.exec(select(Approval).where(Approval.ticket_id == ticket.id)).all()
    assert sorted(a.approver_id for a in rows) == sorted([world.contact_a.id, second.id])
    mine = next(a for a in rows if a.approver_id == second.id)
    session = as_user(second)
    catalogue.decide(session, ident(mine), DecisionIn(approve=True))
    session.commit()
    with make.session() as system:
        left = system.exec(select(Approval).where(Approval.ticket_id == ticket.id)).all()
    assert [(a.approver_id, a.state) for a in left] == [(second.id, "approved")]
    assert catalogue.pending_for_me(as_user(world.contact_a)) == []


def test_a_withdrawn_request_leaves_the_approvers_list(
    world: World, items: Catalogue, browser, make
) -> None:
    anne = browser(world.user_a)
    number = _order(anne, items.access)
    version = make.run(lambda s: s.get(Ticket, number).version)
    page(anne.submit(f"/saker/{number}/status", {"target": "cancelled", "version": str(version)}))
    assert f"Sak {number}" not in browser(world.owner).get("/godkjenninger").text


def test_demo_catalogue(make, world: World) -> None:
    make.ci("pleie", name="Pleie og omsorg", kind="fagsystem", classification="sektorsystem")
    created = make.run(catalogue_demo.load_demo_catalogue)
    keys = {i.key for i in created}
    assert len(created) == 8 and "tilgang-pleie" in keys and "tilgang-sakarkiv" not in keys
    assert {i.approval for i in created} == {"none", "systemeier", "leader"}
    for item in created:
        catalogue.fields_of(item)  # every definition is valid
    assert make.run(catalogue_demo.load_demo_catalogue) == []  # idempotent
