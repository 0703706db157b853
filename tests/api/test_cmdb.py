"""/api/v1/cis and its parts: the systems register."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from register.choices import Role
from register.models import ConfigItem, MonitorTarget, User
from register.schemas import ResponsibilityIn, UsageIn
from register.service import cmdb
from tests.api.support import all_pages, field_error, ids, problem
from tests.support.factories import Factory

Api = Callable[..., TestClient]
FAGSYSTEM = {"name": "Visma Enterprise", "kind": "fagsystem", "classification": "fellessystem"}


def _admin(make: Factory) -> User:
    return make.user(None, Role.ADMIN, password=None)


def _stored(make: Factory, ci_id: int) -> ConfigItem:
    with make.session() as s:
        ci = s.get(ConfigItem, ci_id)
        assert ci is not None
        return ci


def _assign(make: Factory, ci: ConfigItem, user: User, kind: str) -> None:
    make.run(cmdb.add_responsibility, ci.id, ResponsibilityIn(user_id=user.id, kind=kind))  # type: ignore[arg-type]


# ---- systems -----------------------------------------------------------------------------------


def test_create_and_get_a_system(make: Factory, api: Api) -> None:
    k = make.kommune()
    client = api(_admin(make))
    body = FAGSYSTEM | {"key": "visma", "criticality": "critical", "owner_kommune_id": k.id}
    response = client.post("/api/v1/cis", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["key"] == "visma" and created["owner_kommune_id"] == k.id
    fetched = client.get(f"/api/v1/cis/{created['id']}").json()
    assert fetched == created


def test_create_system_refuses_bad_input(make: Factory, api: Api) -> None:
    make.ci("taken")
    client = api(_admin(make))
    assert (
        "taken"
        in problem(client.post("/api/v1/cis", json=FAGSYSTEM | {"key": "taken"}), 409)["detail"]
    )
    unclassified = {"key": "x", "name": "X", "kind": "fagsystem"}
    field_error(client.post("/api/v1/cis", json=unclassified), "classification")
    field_error(
        client.post("/api/v1/cis", json={"key": "x", "name": "X", "kind": "toaster"}),
        "kind",
        "toaster",
    )
    field_error(client.post("/api/v1/cis", json=FAGSYSTEM | {"key": "Not A Key"}), "key")
    body = FAGSYSTEM | {"key": "x", "criticality": "extreme"}
    field_error(client.post("/api/v1/cis", json=body), "criticality", "extreme")
    problem(
        client.post("/api/v1/cis", json=FAGSYSTEM | {"key": "x", "owner_kommune_id": 9999}), 404
    )
    assert ids(client.get("/api/v1/cis")) == [_id_of(make, "taken")]


def _id_of(make: Factory, key: str) -> int:
    with make.session() as s:
        return s.exec(select(ConfigItem.id).where(ConfigItem.key == key)).one()  # type: ignore[return-value]


def test_only_drift_staff_create_systems(make: Factory, api: Api) -> None:
    k = make.kommune()
    contact = make.user(k, Role.KOMMUNE_CONTACT, password=None)
    owner = make.user(k, Role.SYSTEMEIER, password=None)
    body = FAGSYSTEM | {"key": "mine", "owner_kommune_id": k.id}
    problem(api(contact).post("/api/v1/cis", json=body), 403)
    problem(api(owner).post("/api/v1/cis", json=body), 403)
    agent = make.user(None, Role.AGENT, password=None)
    assert api(agent).post("/api/v1/cis", json=body).status_code == 201


def test_warnings_name_the_gaps_in_responsibility(make: Factory, api: Api) -> None:
    k = make.kommune()
    ci = make.ci("visma", **FAGSYSTEM, owner_kommune_id=k.id)
    client = api(_admin(make))
    path = f"/api/v1/cis/{ci.id}"
    assert client.get(path).json()["warnings"] == [
        "warning.no_systemeier",
        "warning.few_systemadministratorer",
        "warning.few_tekniske",
    ]
    owner, admin1, admin2 = (make.user(k, Role.SYSTEMEIER, password=None) for _ in range(3))
    tech1, tech2 = (make.user(None, Role.AGENT, password=None) for _ in range(2))
    for user, kind in [(owner, "systemeier"), (admin1, "systemadministrator")]:
        post = {"user_id": user.id, "kind": kind}
        assert client.post(f"{path}/responsibilities", json=post).status_code == 201
    assert client.get(path).json()["warnings"] == [
        "warning.few_systemadministratorer",
        "warning.few_tekniske",
    ]
    _assign(make, ci, admin2, "systemadministrator")
    _assign(make, ci, tech1, "teknisk_systemadministrator")
    assert client.get(path).json()["warnings"] == ["warning.few_tekniske"]
    _assign(make, ci, tech2, "teknisk_systemadministrator")
    assert client.get(path).json()["warnings"] == []
    listed = {c["id"]: c for c in client.get("/api/v1/cis").json()["items"]}
    assert listed[ci.id]["warnings"] == []


def test_list_systems_with_filters(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    owned = make.ci("owned-by-a", owner_kommune_id=a.id, criticality="high")
    used = make.ci("used-by-a", **FAGSYSTEM, criticality="critical")
    make.run(cmdb.set_usage, used.id, UsageIn(kommune_id=a.id, users_count=10))  # type: ignore[arg-type]
    other = make.ci("b-database", kind="database", owner_kommune_id=b.id)
    retired = make.ci("old-server", owner_kommune_id=b.id)
    make.run(cmdb.retire_ci, retired.id)
    client = api(_admin(make))

    def listed(**params: Any) -> set[int]:
        return set(ids(client.get("/api/v1/cis", params=params)))

    assert listed() == {owned.id, used.id, other.id, retired.id}
    assert listed(kommune_id=a.id) == {owned.id, used.id}
    assert listed(kind="database") == {other.id}
    assert listed(classification="fellessystem") == {used.id}
    assert listed(criticality="critical") == {used.id}
    assert listed(lifecycle="retired") == {retired.id}
    assert listed(q="VISMA") == {used.id}
    assert listed(q="b-data") == {other.id}
    assert listed(kind="server", kommune_id=b.id) == {retired.id}
    field_error(client.get("/api/v1/cis", params={"lifecycle": "zombie"}), "lifecycle", "zombie")


def test_systems_page_by_keyset(make: Factory, api: Api) -> None:
    for n in range(12):
        make.ci(f"ci-page-{n}")
    pages = all_pages(api(_admin(make)), "/api/v1/cis", limit=5)
    seen = [i for p in pages for i in p]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert len(set(seen)) == 12 and seen == sorted(seen)


def test_a_kommune_sees_the_systems_it_owns_or_uses(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    owned = make.ci("owned", owner_kommune_id=a.id)
    used = make.ci("shared", **FAGSYSTEM)
    make.run(cmdb.set_usage, used.id, UsageIn(kommune_id=a.id, users_count=3))  # type: ignore[arg-type]
    foreign = make.ci("foreign", owner_kommune_id=b.id)
    client = api(make.user(a, password=None))
    assert set(ids(client.get("/api/v1/cis"))) == {owned.id, used.id}
    problem(client.get(f"/api/v1/cis/{foreign.id}"), 404)


def test_update_a_system(make: Factory, api: Api) -> None:
    k = make.kommune()
    ci = make.ci("visma", **FAGSYSTEM)
    client = api(_admin(make))
    response = client.patch(
        f"/api/v1/cis/{ci.id}", json={"criticality": "critical", "owner_kommune_id": k.id}
    )
    assert response.status_code == 200, response.text
    assert response.json()["criticality"] == "critical"
    assert _stored(make, ci.id).owner_kommune_id == k.id  # type: ignore[arg-type]
    path = f"/api/v1/cis/{ci.id}"
    field_error(client.patch(path, json={"classification": None}), "classification")
    field_error(client.patch(path, json={"key": "renamed"}), "key")
    problem(client.patch(path, json={"owner_kommune_id": 9999}), 404)
    problem(client.patch("/api/v1/cis/9999", json={"name": "x"}), 404)


def test_a_systemadministrator_edits_only_the_descriptive_fields(make: Factory, api: Api) -> None:
    k = make.kommune()
    ci = make.ci("visma", **FAGSYSTEM)
    person = make.user(k, Role.SYSTEMADMINISTRATOR, password=None)
    _assign(make, ci, person, "systemadministrator")
    client = api(person)
    path = f"/api/v1/cis/{ci.id}"
    response = client.patch(path, json={"version": "2026.1", "description": "Lønn og personal"})
    assert response.status_code == 200, response.text
    problem(client.patch(path, json={"criticality": "low"}), 403)
    problem(client.patch(path, json={"owner_kommune_id": k.id}), 403)
    stored = _stored(make, ci.id)  # type: ignore[arg-type]
    assert (stored.version, stored.criticality, stored.owner_kommune_id) == (
        "2026.1",
        "medium",
        None,
    )


def test_retire_keeps_the_system_and_stops_its_monitoring(make: Factory, api: Api) -> None:
    ci = make.ci("old")
    client = api(_admin(make))
    target = {"probe": "tcp", "target": "old.example.no:22"}
    assert client.post(f"/api/v1/cis/{ci.id}/targets", json=target).status_code == 201
    response = client.post(f"/api/v1/cis/{ci.id}/retire")
    assert response.status_code == 200, response.text
    assert response.json()["lifecycle"] == "retired"
    assert client.get(f"/api/v1/cis/{ci.id}").json()["lifecycle"] == "retired"
    assert [t["enabled"] for t in client.get(f"/api/v1/cis/{ci.id}/targets").json()] == [False]
    problem(client.post("/api/v1/cis/9999/retire"), 404)
    kommune_user = make.user(make.kommune(), Role.KOMMUNE_CONTACT, password=None)
    problem(api(kommune_user).post(f"/api/v1/cis/{ci.id}/retire"), 404)


# ---- responsibilities --------------------------------------------------------------------------


def test_responsibilities_add_list_and_remove(make: Factory, api: Api) -> None:
    k = make.kommune()
    ci = make.ci("visma", **FAGSYSTEM, owner_kommune_id=k.id)
    owner = make.user(
        k, Role.SYSTEMEIER, full_name="Siri Eier", email="siri@example.no", password=None
    )
    client = api(_admin(make))
    path = f"/api/v1/cis/{ci.id}/responsibilities"
    response = client.post(path, json={"user_id": owner.id, "kind": "systemeier"})
    assert response.status_code == 201, response.text
    row = response.json()
    assert row | {"id": 0} == {
        "id": 0, "ci_id": ci.id, "user_id": owner.id, "kind": "systemeier",
        "name": "Siri Eier", "email": "siri@example.no",
    }  # fmt: skip
    # Everyone who sees the system sees who answers for it.
    assert api(make.user(k, password=None)).get(path).json() == [row]
    assert client.delete(f"/api/v1/responsibilities/{row['id']}").status_code == 204
    assert client.get(path).json() == []
    problem(client.delete(f"/api/v1/responsibilities/{row['id']}"), 404)


def test_responsibilities_refuse_bad_input(make: Factory, api: Api) -> None:
    k = make.kommune()
    ci = make.ci("visma", **FAGSYSTEM, owner_kommune_id=k.id)
    owner, other = (make.user(k, Role.SYSTEMEIER, password=None) for _ in range(2))
    inactive = make.user(k, password=None, active=False)
    client = api(_admin(make))
    path = f"/api/v1/cis/{ci.id}/responsibilities"
    assert client.post(path, json={"user_id": owner.id, "kind": "systemeier"}).status_code == 201
    problem(client.post(path, json={"user_id": owner.id, "kind": "systemeier"}), 409)
    problem(client.post(path, json={"user_id": other.id, "kind": "systemeier"}), 409)
    teknisk = {"user_id": other.id, "kind": "teknisk_systemadministrator"}
    field_error(client.post(path, json=teknisk), "user_id", other.id)
    field_error(client.post(path, json={"user_id": 9999, "kind": "systemeier"}), "user_id", 9999)
    bad = {"user_id": inactive.id, "kind": "systemadministrator"}
    field_error(client.post(path, json=bad), "user_id", inactive.id)
    field_error(client.post(path, json={"user_id": other.id, "kind": "boss"}), "kind", "boss")
    problem(client.post("/api/v1/cis/9999/responsibilities", json=teknisk), 404)
    assert len(client.get(path).json()) == 1


def test_only_drift_staff_name_responsible_people(make: Factory, api: Api) -> None:
    k, other = make.kommune(), make.kommune()
    ci = make.ci("visma", **FAGSYSTEM, owner_kommune_id=k.id)
    owner = make.user(k, Role.SYSTEMEIER, password=None)
    _assign(make, ci, owner, "systemeier")
    helper = make.user(k, password=None)
    stranger = make.user(other, password=None)
    path = f"/api/v1/cis/{ci.id}/responsibilities"
    body = {"user_id": helper.id, "kind": "systemadministrator"}
    problem(api(owner).post(path, json=body), 403)
    # Refused before anyone is looked up: the answer does not tell whether a user id exists,
    # belongs to another kommune or already has the role.
    for user_id, kind in [
        (stranger.id, "systemadministrator"),
        (999_999, "systemadministrator"),
        (owner.id, "systemeier"),
        (stranger.id, "teknisk_systemadministrator"),
    ]:
        response = api(owner).post(path, json={"user_id": user_id, "kind": kind})
        assert problem(response, 403)["detail"] == (
            "only the drift unit names the people responsible for a system"
        )
    (row,) = api(owner).get(path).json()
    problem(api(owner).delete(f"/api/v1/responsibilities/{row['id']}"), 403)


# ---- relations ---------------------------------------------------------------------------------


def test_relations_add_list_and_remove(make: Factory, api: Api) -> None:
    app_ci = make.ci("visma", **FAGSYSTEM)
    server = make.ci("srv-01")
    db = make.ci("db-01", kind="database")
    client = api(_admin(make))
    runs = client.post(
        f"/api/v1/cis/{app_ci.id}/relations", json={"target_id": server.id, "kind": "runs_on"}
    )
    assert runs.status_code == 201, runs.text
    depends = {"target_id": db.id, "kind": "depends_on"}
    assert client.post(f"/api/v1/cis/{app_ci.id}/relations", json=depends).status_code == 201
    rel = client.get(f"/api/v1/cis/{app_ci.id}/relations").json()
    assert {(r["target_id"], r["kind"]) for r in rel["outgoing"]} == {
        (server.id, "runs_on"),
        (db.id, "depends_on"),
    }
    assert rel["incoming"] == []
    assert client.get(f"/api/v1/cis/{server.id}/relations").json() == {
        "outgoing": [],
        "incoming": [runs.json()],
    }
    assert client.delete(f"/api/v1/relations/{runs.json()['id']}").status_code == 204
    assert client.get(f"/api/v1/cis/{server.id}/relations").json()["incoming"] == []
    problem(client.delete(f"/api/v1/relations/{runs.json()['id']}"), 404)


def test_relations_refuse_cycles_and_nonsense(make: Factory, api: Api) -> None:
    a, b, c = (
        make.ci("a", kind="service_endpoint"),
        make.ci("b", kind="fagsystem", classification="sektorsystem"),
        make.ci("c", kind="server"),
    )
    client = api(_admin(make))

    def relate(source: ConfigItem, target: ConfigItem | int, kind: str = "depends_on") -> Any:
        target_id = target if isinstance(target, int) else target.id
        return client.post(
            f"/api/v1/cis/{source.id}/relations", json={"target_id": target_id, "kind": kind}
        )

    assert relate(a, b).status_code == 201
    assert relate(b, c).status_code == 201
    field_error(relate(c, a), "target_id", "a")  # c -> a -> b -> c
    field_error(relate(b, a), "target_id", "a")
    field_error(relate(a, a), "target_id", a.id)
    field_error(relate(a, b, "runs_on"), "target_id", "b")  # a fagsystem is no server
    problem(relate(a, b), 409)
    problem(relate(a, 9999), 404)
    field_error(relate(a, c, "hosts"), "kind", "hosts")
    assert len(client.get(f"/api/v1/cis/{a.id}/relations").json()["outgoing"]) == 1


def test_relation_to_a_system_one_cannot_see_is_404(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    mine = make.ci("mine", **FAGSYSTEM, owner_kommune_id=a.id)
    theirs = make.ci("theirs", owner_kommune_id=b.id)
    owner = make.user(a, Role.SYSTEMEIER, password=None)
    _assign(make, mine, owner, "systemeier")
    response = api(owner).post(
        f"/api/v1/cis/{mine.id}/relations", json={"target_id": theirs.id, "kind": "runs_on"}
    )
    assert "theirs" not in problem(response, 404)["detail"]
    # The drift unit's link between them is not shown on B's side to A.
    admin_client = api(_admin(make))
    shared = {"target_id": theirs.id, "kind": "runs_on"}
    assert admin_client.post(f"/api/v1/cis/{mine.id}/relations", json=shared).status_code == 201
    problem(api(owner).get(f"/api/v1/cis/{theirs.id}/relations"), 404)


# ---- usage -------------------------------------------------------------------------------------


def test_usage_set_update_list_and_remove(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    ci = make.ci("visma", **FAGSYSTEM)
    client = api(_admin(make))
    path = f"/api/v1/cis/{ci.id}/usage"
    first = client.put(path, json={"kommune_id": a.id, "users_count": 40})
    assert first.status_code == 200, first.text
    again = client.put(path, json={"kommune_id": a.id, "users_count": 55})
    assert again.json() == first.json() | {"users_count": 55}
    assert client.put(path, json={"kommune_id": b.id, "users_count": 5}).status_code == 200
    listed = client.get(path).json()
    assert {(u["kommune_id"], u["users_count"]) for u in listed} == {(a.id, 55), (b.id, 5)}
    # A kommune sees its own usage row, not the other kommune's.
    assert [u["kommune_id"] for u in api(make.user(a, password=None)).get(path).json()] == [a.id]
    assert client.delete(f"/api/v1/usage/{first.json()['id']}").status_code == 204
    assert [u["kommune_id"] for u in client.get(path).json()] == [b.id]
    problem(client.delete(f"/api/v1/usage/{first.json()['id']}"), 404)


def test_usage_refuses_bad_input(make: Factory, api: Api) -> None:
    k = make.kommune()
    ci = make.ci("visma", **FAGSYSTEM)
    client = api(_admin(make))
    path = f"/api/v1/cis/{ci.id}/usage"
    field_error(client.put(path, json={"kommune_id": k.id, "users_count": -1}), "users_count", -1)
    problem(client.put(path, json={"kommune_id": 9999, "users_count": 1}), 404)
    problem(client.put("/api/v1/cis/9999/usage", json={"kommune_id": k.id, "users_count": 1}), 404)
    field_error(client.put(path, json={"users_count": 1}), "kommune_id")
    assert client.get(path).json() == []


def test_a_systemeier_records_usage_of_their_system(make: Factory, api: Api) -> None:
    a = make.kommune()
    ci = make.ci("visma", **FAGSYSTEM, owner_kommune_id=a.id)
    owner = make.user(a, Role.SYSTEMEIER, password=None)
    _assign(make, ci, owner, "systemeier")
    response = api(owner).put(
        f"/api/v1/cis/{ci.id}/usage", json={"kommune_id": a.id, "users_count": 7}
    )
    assert response.status_code == 200, response.text


# ---- monitoring targets ------------------------------------------------------------------------


def test_targets_add_list_update_and_remove(make: Factory, api: Api) -> None:
    ci = make.ci("web")
    client = api(_admin(make))
    path = f"/api/v1/cis/{ci.id}/targets"
    body = {
        "probe": "http",
        "target": "https://web.example.no/health",
        "interval_seconds": 30,
        "timeout_seconds": 5,
    }
    created = client.post(path, json=body)
    assert created.status_code == 201, created.text
    assert created.json() == body | {"id": created.json()["id"], "ci_id": ci.id, "enabled": True}
    assert client.get(path).json() == [created.json()]
    target_path = f"/api/v1/targets/{created.json()['id']}"
    changed = client.put(target_path, json=body | {"enabled": False, "interval_seconds": 120})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["interval_seconds"]) == (False, 120)
    assert client.delete(target_path).status_code == 204
    assert client.get(path).json() == []
    problem(client.delete(target_path), 404)
    problem(client.put(target_path, json=body), 404)


def test_targets_refuse_bad_input(make: Factory, api: Api) -> None:
    ci = make.ci("web")
    client = api(_admin(make))
    path = f"/api/v1/cis/{ci.id}/targets"
    body = {"probe": "tcp", "target": "web.example.no:443"}
    assert client.post(path, json=body).status_code == 201
    problem(client.post(path, json=body), 409)
    field_error(client.post(path, json=body | {"probe": "smoke"}), "probe", "smoke")
    slow = body | {"interval_seconds": 10, "timeout_seconds": 30}
    field_error(client.post(path, json=slow), "timeout_seconds", 30)
    field_error(client.post(path, json=body | {"interval_seconds": 1}), "interval_seconds", 1)
    field_error(client.post(path, json=body | {"target": ""}), "target")
    problem(client.post("/api/v1/cis/9999/targets", json=body), 404)
    # Changing a target into one the system already has is the same conflict, not a crash.
    other = client.post(path, json=body | {"target": "web.example.no:80"}).json()
    problem(client.put(f"/api/v1/targets/{other['id']}", json=body), 409)
    assert client.get(f"/api/v1/cis/{ci.id}/targets").json()[1]["target"] == "web.example.no:80"
    with make.session() as s:
        assert len(s.exec(select(MonitorTarget)).all()) == 2


def test_null_is_refused_where_a_system_needs_a_value(make: Factory, api: Api) -> None:
    k = make.kommune()
    ci = make.ci("srv", owner_kommune_id=k.id)
    client = api(_admin(make))
    path = f"/api/v1/cis/{ci.id}"
    for name in ("name", "criticality", "lifecycle", "description", "life_and_health"):
        field_error(client.patch(path, json={name: None}), name)
    # The owner may be cleared (a shared system).
    assert client.patch(path, json={"owner_kommune_id": None}).json()["owner_kommune_id"] is None
    assert _stored(make, ci.id).criticality == "medium"  # type: ignore[arg-type]
