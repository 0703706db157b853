"""/metrics: cached results with node_exporter and blackbox names, target labels on every series,
parsed back with prometheus_client's own parser."""

from __future__ import annotations

import gzip
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collectors.exposition import new_registry
from collectors.probes import ProbeEnv
from tests.collectors.conftest import RunningCollector
from tests.collectors.helpers import wait_for
from tests.collectors.pki import PKI
from tests.collectors.servers import DNSResponder, HTTPTarget
from tests.collectors.sshd import SSHServer, keygen

TARGET_LABELS = ("instance", "kommune", "ci", "service", "criticality", "probe")
# The names community dashboards ("Node Exporter Full", blackbox dashboards) and alert rules use.
NODE_EXPORTER = {
    "node_load1": "gauge",
    "node_load5": "gauge",
    "node_load15": "gauge",
    "node_memory_MemTotal_bytes": "gauge",
    "node_memory_MemAvailable_bytes": "gauge",
    "node_memory_MemFree_bytes": "gauge",
    "node_cpu_seconds": "counter",
    "node_filesystem_size_bytes": "gauge",
    "node_filesystem_avail_bytes": "gauge",
    "node_filesystem_free_bytes": "gauge",
    "node_filesystem_readonly": "gauge",
    "node_boot_time_seconds": "gauge",
    "node_time_seconds": "gauge",
    "node_uname_info": "gauge",
    "node_os_info": "gauge",
    "node_context_switches": "counter",
    "node_scrape_collector_success": "gauge",
}
BLACKBOX = {
    "probe_success": "gauge",
    "probe_duration_seconds": "gauge",
    "probe_http_status_code": "gauge",
    "probe_http_duration_seconds": "gauge",
    "probe_http_content_length": "gauge",
    "probe_http_version": "gauge",
    "probe_http_ssl": "gauge",
    "probe_http_redirects": "gauge",
    "probe_ssl_earliest_cert_expiry": "gauge",
    "probe_tls_version_info": "gauge",
    "probe_ssl_last_chain_info": "gauge",
    "probe_dns_lookup_time_seconds": "gauge",
    "probe_dns_answer_rrs": "gauge",
    "probe_icmp_duration_seconds": "gauge",
    "probe_ip_protocol": "gauge",
    "probe_failed_due_to_regex": "gauge",
}
OWN = {
    "fellesdrift_collector_last_success_timestamp_seconds": "gauge",
    "fellesdrift_collector_poll_duration_seconds": "histogram",
    "fellesdrift_collector_poll_errors": "counter",
    "fellesdrift_collector_scheduler_lag_seconds": "histogram",
    "fellesdrift_collector_target_state": "gauge",
    "fellesdrift_collector_polls": "counter",
    "fellesdrift_collector_targets": "gauge",
    "fellesdrift_collector_config_last_reload_successful": "gauge",
}


def labels(kommune: str, ci: str) -> dict[str, str]:
    return {"kommune": kommune, "ci": ci, "service": f"Tjeneste {ci}", "criticality": "high"}


@pytest.fixture
def full_collector(
    collector: Callable[..., RunningCollector],
    https_target: Callable[[str], HTTPTarget],
    pki: PKI,
    sshd: SSHServer,
    dns_server: DNSResponder,
    tmp_path: Path,
) -> RunningCollector:
    https = https_target("good")
    mismatch = sshd.known_hosts("other", keygen(tmp_path / "other", "other host"))
    config = {
        "defaults": {"interval_seconds": 1, "timeout_seconds": 1},
        "modules": {
            "web": {"probe": "http", "options": {"tls": {"ca_file": pki.ca_file}}},
            "dns": {"probe": "dns", "options": {"query_name": "www.kommune.test"}},
        },
        "targets": [
            {
                "target": https.url("/", host="localhost"),
                "module": "web",
                "labels": labels("lillesand", "CI-0001"),
            },
            # A login and the commands take more than a second on a loaded machine.
            {
                "target": sshd.address,
                "probe": "ssh",
                "interval_seconds": 4,
                "timeout_seconds": 4,
                "labels": labels("felles", "CI-0002"),
            },
            {
                "target": f"{sshd.user}@{sshd.address}",
                "probe": "ssh",
                "options": {"known_hosts": str(mismatch)},
                "labels": labels("felles", "CI-0003"),
            },
            {"target": dns_server.address, "module": "dns", "labels": labels("iveland", "CI-0004")},
            {"target": "127.0.0.1", "probe": "icmp", "labels": labels("songdalen", "CI-0005")},
        ],
    }
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("good"), ssh_key=sshd.keys["client"], ssh_user=sshd.user
    )
    running = collector(config, env=env)
    wait_for(
        lambda: len(running.samples("probe_success")) == 5 and bool(running.samples("node_load1")),
        timeout=20,
    )
    return running


def test_names_types_and_labels(full_collector: RunningCollector, sshd: SSHServer) -> None:
    families = full_collector.metrics()
    for expected in (NODE_EXPORTER, BLACKBOX, OWN):
        for name, kind in expected.items():
            assert name in families, name
            assert families[name].type == kind, (name, families[name].type)
    for name, family in families.items():
        if not name.startswith(("node_", "probe_")):
            continue
        assert "Cached from the last poll" in family.documentation, name
        for sample in family.samples:
            assert all(label in sample.labels for label in TARGET_LABELS), sample
    loads = families["node_load1"].samples
    assert [(s.labels["instance"], s.labels["kommune"], s.labels["probe"]) for s in loads] == [
        (sshd.address, "felles", "ssh")
    ]
    # A host's values carry the time they were read (a scrape never re-dates a cached counter);
    # the collector's own series are the scrape's.
    read_at = loads[0].timestamp
    assert read_at is not None and time.time() - 10 < float(read_at) <= time.time()
    for sample in families["node_cpu_seconds"].samples + families["probe_success"].samples:
        if sample.labels["ci"] == "CI-0002":
            assert sample.timestamp == read_at, sample
    assert {s.timestamp for s in families["fellesdrift_collector_polls"].samples} == {None}
    success = {s.labels["ci"]: s.value for s in families["probe_success"].samples}
    assert success == {"CI-0001": 1, "CI-0002": 1, "CI-0003": 0, "CI-0004": 1, "CI-0005": 1}
    health = families["fellesdrift_collector_last_success_timestamp_seconds"]
    assert "Cached from the last poll" in health.documentation
    assert {s.labels["ci"] for s in health.samples} == {"CI-0001", "CI-0002", "CI-0004", "CI-0005"}


def test_host_key_mismatch_is_visible_in_metrics(full_collector: RunningCollector) -> None:
    errors = [
        s
        for s in full_collector.samples("fellesdrift_collector_poll_errors_total")
        if s.labels["ci"] == "CI-0003"
    ]
    assert [s.labels["reason"] for s in errors] == ["host_key_mismatch"]
    state = {
        s.labels["state"]: s.value
        for s in full_collector.samples("fellesdrift_collector_target_state")
        if s.labels["ci"] == "CI-0003"
    }
    assert state["up"] == 0 and state["soft_down"] + state["hard_down"] == 1


def test_scraping_serves_the_cache_and_never_polls(
    full_collector: RunningCollector, sshd: SSHServer
) -> None:
    full_collector.service.pause()
    time.sleep(1.2)  # let polls already running finish
    polls = sum(s.value for s in full_collector.samples("fellesdrift_collector_polls_total"))
    connections = sshd.connections()
    for _ in range(5):
        full_collector.metrics()
    assert (
        sum(s.value for s in full_collector.samples("fellesdrift_collector_polls_total")) == polls
    )
    assert sshd.connections() == connections


def test_removed_target_disappears(full_collector: RunningCollector) -> None:
    full_collector.service.loader.targets_file.write_text("targets: []\n")  # type: ignore[union-attr]
    full_collector.service.check_file()
    assert full_collector.samples("probe_success") == []
    assert full_collector.samples("node_load1") == []


def test_served_text_equals_prometheus_client_rendering(
    collector: Callable[..., RunningCollector], http_target: HTTPTarget
) -> None:
    """/metrics is rendered by our own fast path; it must say exactly what prometheus-client's
    generic rendering of the same registry says, label values needing escapes included, and be
    gzip-compressed only for a scraper that accepts it."""
    tricky = {"kommune": 'lille"sand', "ci": "CI\\0042", "service": "Tjeneste\nto", "x": "æøå"}
    running = collector(
        {
            "defaults": {"interval_seconds": 1, "timeout_seconds": 1},
            "targets": [
                {"target": http_target.url("/"), "probe": "http", "labels": tricky},
                {"target": http_target.url("/status/503"), "probe": "http"},
            ],
        }
    )
    wait_for(lambda: len(running.samples("probe_success")) == 2, timeout=10)
    running.service.pause()
    time.sleep(1.2)  # let polls already running finish, so both renderings see one state

    def parsed(text: str) -> list[tuple[str, str, str, list[tuple[str, Any, float]]]]:
        return sorted(
            (
                f.name,
                f.type,
                f.documentation,
                sorted((s.name, sorted(s.labels.items()), s.value) for s in f.samples),
            )
            for f in text_string_to_metric_families(text)
        )

    with urllib.request.urlopen(running.url, timeout=5) as response:  # noqa: S310 - loopback
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert response.headers.get("Content-Encoding") is None
        served = response.read().decode()
    generic = generate_latest(new_registry(running.service.store)).decode()
    assert parsed(served) == parsed(generic)
    assert 'kommune="lille\\"sand"' in served and 'service="Tjeneste\\nto"' in served
    request = urllib.request.Request(running.url, headers={"Accept-Encoding": "gzip"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        assert response.headers["Content-Encoding"] == "gzip"
        assert parsed(gzip.decompress(response.read()).decode()) == parsed(served)


def test_two_modules_on_one_address_are_both_visible(
    collector: Callable[..., RunningCollector], http_target: HTTPTarget
) -> None:
    """Two modules probing one URL, one passing and one failing, export distinct series, each
    named by its module (issue 17: one result used to hide the other)."""
    url = http_target.url("/")
    running = collector(
        {
            "defaults": {"interval_seconds": 1},
            "modules": {
                "front": {"probe": "http"},
                "strict": {
                    "probe": "http",
                    "options": {"fail_if_body_not_matches_regexp": ["never there"]},
                },
            },
            "targets": [{"target": url, "module": "front"}, {"target": url, "module": "strict"}],
        }
    )
    wait_for(lambda: len(running.samples("probe_success")) == 2, timeout=5)
    found = {
        s.labels["module"]: (s.value, tuple(sorted(s.labels.items())))
        for s in running.samples("probe_success")
        if s.labels["instance"] == url
    }
    assert {m: v for m, (v, _) in found.items()} == {"front": 1, "strict": 0}
    assert found["front"][1] != found["strict"][1]
    errors = [s for s in running.samples("fellesdrift_collector_poll_errors_total")]
    assert {(s.labels["module"], s.labels["reason"]) for s in errors} == {("strict", "regex")}
