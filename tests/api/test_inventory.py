"""/api/v1/inventory/targets: the Prometheus HTTP service-discovery feed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from register.choices import Role
from register.models import ConfigItem
from register.schemas import TargetIn, UsageIn
from register.service import cmdb
from tests.api.support import problem
from tests.support.factories import Factory

Api = Callable[..., TestClient]
FEED = "/api/v1/inventory/targets"
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
REQUIRED_LABELS = {"kommune", "ci", "service", "criticality", "probe"}


def http_sd_groups(response: httpx.Response) -> list[dict[str, Any]]:
    """Validate a response against the rules of Prometheus' HTTP SD and return its groups.

    See https://prometheus.io/docs/prometheus/latest/http_sd/: HTTP 200, content type
    ``application/json``, UTF-8, a JSON list of objects with ``targets`` (a list of strings)
    and optionally ``labels`` (an object of string to string whose names are valid label
    names). Nothing else is allowed in a group.
    """
    assert response.status_code == 200, response.text
    content_type = response.headers["content-type"].split(";")[0].strip()
    assert content_type == "application/json", response.headers["content-type"]
    response.content.decode("utf-8")
    groups = response.json()
    assert isinstance(groups, list), groups
    for group in groups:
        assert isinstance(group, dict) and set(group) <= {"targets", "labels"}, group
        targets = group["targets"]
        assert isinstance(targets, list) and targets, group
        assert all(isinstance(t, str) and t for t in targets), group
        labels = group.get("labels", {})
        assert isinstance(labels, dict), group
        for name, value in labels.items():
            assert isinstance(name, str) and LABEL_NAME.fullmatch(name), f"bad label name {name!r}"
            assert isinstance(value, str), f"label {name} is not a string: {value!r}"
        assert set(labels) >= REQUIRED_LABELS, f"missing labels in {group}"
    return groups


def _target(make: Factory, ci_id: int | None, probe: str, target: str, **kw: Any) -> None:
    make.run(cmdb.add_target, ci_id, TargetIn(probe=probe, target=target, **kw))  # type: ignore[arg-type]


def _by_target(groups: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {t: g["labels"] for g in groups for t in g["targets"]}


def test_feed_has_the_prometheus_shape_and_labels(make: Factory, api: Api) -> None:
    lillesand = make.kommune("Lillesand")
    birkenes = make.kommune("Birkenes")
    vpn = make.ci("vpn-lillesand", kind="service_endpoint", owner_kommune_id=lillesand.id,
                  service="VPN", criticality="high")  # fmt: skip
    visma = make.ci("visma", kind="fagsystem", classification="fellessystem",
                    name="Visma Enterprise", criticality="critical")  # fmt: skip
    # Names are one line since the register refuses control characters; a row stored before
    # that rule may still hold one, and the feed must not pass it into a label.
    with make.session() as s:
        stored = s.get(ConfigItem, visma.id)
        assert stored is not None
        stored.name = "Visma\nEnterprise"
        s.commit()
    for k in (lillesand, birkenes):
        make.run(cmdb.set_usage, visma.id, UsageIn(kommune_id=k.id, users_count=10))  # type: ignore[arg-type]
    _target(make, vpn.id, "http", "https://vpn.lillesand.no/health", interval_seconds=30)
    _target(make, vpn.id, "http", "https://vpn2.lillesand.no/health", interval_seconds=30)
    _target(make, visma.id, "tcp", "visma.example.no:443", timeout_seconds=3)
    agent = make.user(None, Role.AGENT, password=None)

    groups = http_sd_groups(api(agent, "inventory").get(FEED))

    by_target = _by_target(groups)
    assert set(by_target) == {
        "https://vpn.lillesand.no/health",
        "https://vpn2.lillesand.no/health",
        "visma.example.no:443",
    }
    # Targets with the same labels share one group.
    assert len(groups) == 2
    assert by_target["https://vpn.lillesand.no/health"] == {
        "kommune": "lillesand",
        "kommuner": ",lillesand,",
        "ci": "vpn-lillesand",
        "ci_kind": "service_endpoint",
        "service": "VPN",
        "criticality": "high",
        "probe": "http",
        "__interval_seconds": "30",
        "__timeout_seconds": "10",
    }
    shared = by_target["visma.example.no:443"]
    assert shared["kommune"] == "felles"
    assert shared["kommuner"] == ",birkenes,lillesand,"
    assert shared["service"] == "Visma Enterprise"  # a control character cannot reach a label
    assert (shared["probe"], shared["criticality"], shared["__timeout_seconds"]) == (
        "tcp",
        "critical",
        "3",
    )


def test_retired_systems_and_disabled_targets_are_left_out(make: Factory, api: Api) -> None:
    live = make.ci("live")
    old = make.ci("old")
    _target(make, live.id, "icmp", "10.0.0.1")
    _target(make, live.id, "ssh", "10.0.0.1:22", enabled=False)
    _target(make, old.id, "icmp", "10.0.0.2")
    admin = make.user(None, Role.ADMIN, password=None)
    client = api(admin)
    assert set(_by_target(http_sd_groups(client.get(FEED)))) == {"10.0.0.1", "10.0.0.2"}
    assert client.post(f"/api/v1/cis/{old.id}/retire").status_code == 200
    assert set(_by_target(http_sd_groups(client.get(FEED)))) == {"10.0.0.1"}


def test_an_empty_register_gives_an_empty_list(make: Factory, api: Api) -> None:
    agent = make.user(None, Role.AGENT, password=None)
    assert http_sd_groups(api(agent, "inventory").get(FEED)) == []


def test_feed_needs_a_token_with_a_reading_scope(make: Factory, api: Api) -> None:
    agent = make.user(None, Role.AGENT, password=None)
    assert api(agent, "read").get(FEED).status_code == 200
    assert api(agent, "write").get(FEED).status_code == 200
    anonymous = api(agent, "inventory")
    del anonymous.headers["Authorization"]
    problem(anonymous.get(FEED), 401)
    # The feed is read-only: there is nothing to write, whatever the token.
    assert api(agent, "inventory").post(FEED).status_code == 405


def test_a_kommune_token_sees_only_its_own_systems(make: Factory, api: Api) -> None:
    a, b = make.kommune(), make.kommune()
    mine = make.ci("mine", owner_kommune_id=a.id)
    theirs = make.ci("theirs", owner_kommune_id=b.id)
    _target(make, mine.id, "icmp", "10.1.0.1")
    _target(make, theirs.id, "icmp", "10.2.0.1")
    contact = make.user(a, Role.KOMMUNE_CONTACT, password=None)
    response = api(contact, "inventory").get(FEED)
    assert set(_by_target(http_sd_groups(response))) == {"10.1.0.1"}
    assert "theirs" not in response.text


def test_feed_is_documented_in_openapi(make: Factory, api: Api) -> None:
    agent = make.user(None, Role.AGENT, password=None)
    schema = api(agent).get("/api/v1/openapi.json").json()
    operation = schema["paths"][FEED]["get"]
    assert "inventory" in operation["description"] and "http_sd" in operation["description"]
    assert "application/json" in operation["responses"]["200"]["content"]
