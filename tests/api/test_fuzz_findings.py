"""Server errors the OpenAPI fuzzing found (issue 14, item 13), each now a clear 4xx or a
working request."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from register.choices import Role
from tests.api.support import field_error, problem
from tests.support.factories import Factory

Api = Callable[..., TestClient]
HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/api/v1/tickets?priority={HUGE}", "priority.0"),
        ("GET", f"/api/v1/tickets?kommune_id={HUGE}", "kommune_id"),
        ("PUT", f"/api/v1/tickets/{HUGE}/rating", "ticket_id"),
        ("POST", f"/api/v1/tickets/{HUGE}/transitions", "ticket_id"),
        ("GET", f"/api/v1/tickets/{HUGE}", "ticket_id"),
        ("GET", f"/api/v1/kommuner/{HUGE}", "kommune_id"),
        ("GET", f"/api/v1/cis/{HUGE}", "ci_id"),
    ],
)
def test_out_of_range_integers_are_a_422(
    make: Factory, api: Api, method: str, path: str, field: str
) -> None:
    user = make.user(make.kommune())
    body = {"version": 1, "status": "cancelled", "rating": 5}
    if method == "GET":
        response = api(user).get(path)
    else:
        fields = {"rating": 5} if path.endswith("rating") else {"version": 1, "status": "cancelled"}
        response = api(user).request(method, path, json=fields or body)
    field_error(response, field)


def test_control_characters_in_a_kommune_are_refused(make: Factory, api: Api) -> None:
    admin = make.user(None, Role.ADMIN)
    k = make.kommune()
    client = api(admin, "read,write,admin")
    for field in ("address_line", "city", "buyer_reference", "name"):
        response = client.patch(f"/api/v1/kommuner/{k.id}", json={field: "Rådhusgata\x0b1"})
        field_error(response, field)
    # The invoice the kommune receives is then still made from clean data.
    assert client.get(f"/api/v1/kommuner/{k.id}").json()["address_line"] != "Rådhusgata\x0b1"


def test_an_item_with_a_two_letter_name_can_be_ordered(make: Factory, api: Api) -> None:
    agent = make.user(None, Role.AGENT)
    employee = make.user(make.kommune())
    staff = api(agent)
    created = staff.post("/api/v1/catalogue/items", json={"key": "vpn-tilgang", "name": "VPN"})
    assert created.status_code == 201, created.text
    item = created.json()
    renamed = staff.patch(f"/api/v1/catalogue/items/{item['id']}", json={"name": "VM"})
    assert renamed.status_code == 200, renamed.text
    ordered = api(employee).post(f"/api/v1/catalogue/items/{item['id']}/orders", json={})
    assert ordered.status_code == 201, ordered.text
    assert ordered.json()["title"].startswith("VM")
    problem(api(employee).get("/api/v1/tickets/0"), 404)  # a small id is still just not there
