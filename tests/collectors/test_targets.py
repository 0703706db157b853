"""Targets from the YAML file and the inventory feed: checked entry by entry, reloaded live."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.samples import Sample

from collectors.probes import PROBES, ProbeEnv, build_probes
from collectors.probes.http import HTTPOptions
from collectors.sources import InventoryClient, SourceError, TargetLoader
from collectors.targets import Builder, FileLayout, TargetSet, load_file_entries, load_http_sd
from tests.collectors.conftest import RunningCollector
from tests.collectors.helpers import wait_for
from tests.collectors.servers import HTTPTarget, InventoryFeed

PROBE_SET = build_probes(ProbeEnv(known_hosts=Path("/dev/null"), ssh_key=Path("/dev/null")))
LABELS = {"kommune": "lillesand", "ci": "CI-0042", "service": "Intranett", "criticality": "high"}


def build(config: dict[str, Any]) -> TargetSet:
    layout = FileLayout.model_validate(config)
    builder = Builder(PROBE_SET, layout)
    result = TargetSet(errors=builder.module_config_errors())
    load_file_entries(builder, layout.targets, result)
    return result


def test_file_entries_modules_and_defaults() -> None:
    result = build(
        {
            "defaults": {"interval_seconds": 30, "timeout_seconds": 5, "labels": {"team": "drift"}},
            "modules": {
                "intranett": {
                    "probe": "http",
                    "options": {"fail_if_body_not_matches_regexp": ["Velkommen"]},
                },
                "http": {"probe": "http", "options": {"valid_status_codes": [200]}},
            },
            "targets": [
                {
                    "target": "https://intranett.lillesand.no/",
                    "module": "intranett",
                    "labels": LABELS,
                },
                {
                    "target": "https://www.lillesand.kommune.no/",
                    "probe": "http",
                    "interval_seconds": 60,
                    "options": {"follow_redirects": False},
                },
                {"target": "db01.lillesand.local:5432", "probe": "tcp"},
            ],
        }
    )
    assert result.errors == []
    by_address = {t.address: t for t in result.targets.values()}
    intranett = by_address["https://intranett.lillesand.no/"]
    assert intranett.module == "intranett" and intranett.interval == 30 and intranett.timeout == 5
    assert isinstance(intranett.options, HTTPOptions)
    assert intranett.options.fail_if_body_not_matches_regexp == ("Velkommen",)
    assert intranett.label_dict == {
        **LABELS,
        "team": "drift",
        "probe": "http",
        "module": "intranett",
    }
    www = by_address["https://www.lillesand.kommune.no/"]
    assert isinstance(www.options, HTTPOptions)
    assert www.interval == 60 and www.options.valid_status_codes == (200,)
    assert www.options.follow_redirects is False
    assert by_address["db01.lillesand.local:5432"].label_dict["probe"] == "tcp"


def test_each_invalid_entry_is_named_and_the_rest_kept() -> None:
    result = build(
        {
            "modules": {"broken": {"probe": "http", "options": {"no_such_option": 1}}},
            "targets": [
                {"target": "https://ok.example/", "probe": "http"},
                {
                    "target": "https://typo.example/",
                    "probe": "http",
                    "options": {"valid_status": [200]},
                },
                {"target": "https://uses-broken.example/", "module": "broken"},
                {"target": "https://unknown.example/", "probe": "gopher"},
                {
                    "target": "ok.example:22",
                    "probe": "tcp",
                    "interval_seconds": 10,
                    "timeout_seconds": 20,
                },
                {"target": "https://label.example/", "probe": "http", "labels": {"instance": "x"}},
                {"target": "https://label2.example/", "probe": "http", "labels": {"bad-name": "x"}},
                {"target": "not a url", "probe": "http"},
                {"target": "host-without-port", "probe": "tcp"},
                {"probe": "http"},
                {"target": "https://ok.example/", "probe": "http"},
            ],
        }
    )
    assert [t.address for t in result.targets.values()] == ["https://ok.example/"]
    errors = {(e.entry, e.message.split(":")[0]) for e in result.errors}
    named = {e.entry for e in result.errors}
    assert named == {
        "module broken",
        "https://typo.example/",
        "https://uses-broken.example/",
        "https://unknown.example/",
        "ok.example:22",
        "https://label.example/",
        "https://label2.example/",
        "not a url",
        "host-without-port",
        "targets[9]",
        "https://ok.example/",
    }, errors
    message = {e.entry: e.message for e in result.errors}
    assert "valid_status" in message["https://typo.example/"]
    assert "gopher" in message["https://unknown.example/"]
    assert "longer than the interval" in message["ok.example:22"]
    assert "used by the metrics" in message["https://label.example/"]
    assert "duplicate" in message["https://ok.example/"]


def test_a_module_may_leave_required_options_to_its_targets() -> None:
    result = build(
        {
            "modules": {"resolver": {"probe": "dns", "options": {"query_type": "MX"}}},
            "targets": [
                {
                    "target": "10.1.0.53",
                    "module": "resolver",
                    "options": {"query_name": "kommune.no"},
                },
                {"target": "10.2.0.53", "module": "resolver"},
            ],
        }
    )
    assert [t.address for t in result.targets.values()] == ["10.1.0.53"]
    assert [(e.entry, "query_name" in e.message) for e in result.errors] == [("10.2.0.53", True)]


def sd_groups(http: HTTPTarget) -> list[dict[str, Any]]:
    """Groups shaped like register.service.inventory.http_sd_groups() makes them."""
    return [
        {
            "targets": [http.url("/")],
            "labels": {
                "kommune": "vennesla",
                "kommuner": ",vennesla,",
                "ci": "CI-0007",
                "ci_kind": "service",
                "service": "Nettside",
                "criticality": "normal",
                "probe": "http",
                "__interval_seconds": "1",
                "__timeout_seconds": "1",
            },
        },
        {
            "targets": [http.address, "no-port-here"],
            "labels": {
                "kommune": "felles",
                "kommuner": ",birkenes,lillesand,",
                "ci": "CI-0001",
                "ci_kind": "server",
                "service": "Felles web",
                "criticality": "high",
                "probe": "tcp",
                "__interval_seconds": "1",
                "__timeout_seconds": "1",
            },
        },
        {"targets": ["ignored"], "labels": "not an object"},
    ]


def test_http_sd_groups(http_target: HTTPTarget) -> None:
    result = TargetSet()
    load_http_sd(Builder(PROBE_SET), sd_groups(http_target), result)
    addresses = sorted(t.address for t in result.targets.values())
    assert addresses == sorted([http_target.url("/"), http_target.address])
    tcp = next(t for t in result.targets.values() if t.probe == "tcp")
    assert tcp.interval == 1 and tcp.timeout == 1 and tcp.source == "inventory"
    assert tcp.label_dict["kommuner"] == ",birkenes,lillesand,"
    assert not any(name.startswith("__") for name in tcp.label_dict)
    assert {e.entry for e in result.errors} == {"no-port-here", "group 2"}
    with pytest.raises(ValueError, match="list"):
        load_http_sd(Builder(PROBE_SET), {"targets": []}, TargetSet())


def test_inventory_client_uses_the_token_file(
    inventory_feed: InventoryFeed, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-inventory-token\n")
    inventory_feed.groups = [{"targets": ["a:1"], "labels": {"probe": "tcp"}}]
    client = InventoryClient(inventory_feed.url, token)
    try:
        assert client.fetch() == inventory_feed.groups
        token.write_text("wrong")
        with pytest.raises(SourceError, match="HTTP 401") as caught:
            client.fetch()
        assert "wrong" not in str(caught.value)  # secrets never reach messages or logs
        token.unlink()
        with pytest.raises(SourceError, match="cannot read token file"):
            client.fetch()
    finally:
        client.close()


def test_loader_keeps_the_last_good_feed(
    inventory_feed: InventoryFeed, tmp_path: Path, http_target: HTTPTarget
) -> None:
    token = tmp_path / "token"
    token.write_text(inventory_feed.token)
    loader = TargetLoader(PROBE_SET, None, InventoryClient(inventory_feed.url, token))
    try:
        inventory_feed.groups = sd_groups(http_target)
        assert loader.refresh_inventory()
        assert len(loader.build().targets) == 2
        inventory_feed.token = "rotated"
        assert not loader.refresh_inventory()
        assert loader.status["inventory"].ok is False
        assert len(loader.build().targets) == 2  # unchanged while the feed refuses us
    finally:
        loader.close()


def test_reload_on_file_change_with_one_invalid_entry(
    collector: Callable[..., RunningCollector], http_target: HTTPTarget
) -> None:
    tcp = {"target": http_target.address, "probe": "tcp"}
    config: dict[str, Any] = {
        "defaults": {"interval_seconds": 1, "timeout_seconds": 1},
        "targets": [
            {"target": http_target.url("/"), "probe": "http", "labels": LABELS},
            tcp,
            {"target": "https://broken.example/", "probe": "http", "options": {"nope": True}},
        ],
    }
    running = collector(config)
    samples = running.samples
    wait_for(
        lambda: (
            len(samples("probe_success")) == 2
            and all(s.value == 1 for s in samples("probe_success"))
        )
    )
    errors = samples("fellesdrift_collector_config_errors")
    assert [(s.labels["source"], s.labels["entry"]) for s in errors] == [
        ("file", "https://broken.example/")
    ]
    assert "nope" in errors[0].labels["message"]

    config["targets"] = [tcp, {"target": http_target.url("/old"), "probe": "http"}]
    running.write(config)
    wait_for(
        lambda: (
            {s.labels["instance"] for s in samples("probe_success")}
            == {http_target.address, http_target.url("/old")}
        )
    )
    assert "fellesdrift_collector_config_errors" not in running.metrics()

    polls_before = len(samples("probe_success"))
    running.write("targets: [this is: not: yaml")
    wait_for(
        lambda: any(
            s.value == 0 for s in samples("fellesdrift_collector_config_last_reload_successful")
        )
    )
    time.sleep(0.3)
    assert len(samples("probe_success")) == polls_before  # the last good targets keep running


def test_inventory_targets_in_the_collector(
    collector: Callable[..., RunningCollector],
    http_target: HTTPTarget,
    inventory_feed: InventoryFeed,
    tmp_path: Path,
) -> None:
    token = tmp_path / "token"
    token.write_text(inventory_feed.token)
    inventory_feed.groups = sd_groups(http_target)
    running = collector(
        {},
        inventory_url=inventory_feed.url,
        inventory_token_file=token,
        inventory_refresh_seconds=0.3,
    )

    def success() -> dict[str, Sample]:
        return {s.labels["instance"]: s for s in running.samples("probe_success")}

    wait_for(lambda: len(success()) == 2)
    tcp = success()[http_target.address]
    assert tcp.labels["kommune"] == "felles" and tcp.labels["ci"] == "CI-0001"
    assert tcp.labels["criticality"] == "high" and tcp.labels["probe"] == "tcp"
    entries = {s.labels["entry"] for s in running.samples("fellesdrift_collector_config_errors")}
    assert entries == {"no-port-here", "group 2"}
    inventory_feed.groups = sd_groups(http_target)[:1]
    wait_for(lambda: set(success()) == {http_target.url("/")})
    assert PROBES  # the registry is what the loader validated against
