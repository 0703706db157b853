"""End to end, everything real on loopback: an sshd and an HTTP server are polled by a
collector, a Prometheus scrapes it (honor_labels) and evaluates the alert rules of deploy/, an
Alertmanager (deploy/'s routing and inhibition) posts to the service desk's webhook. Stop the
HTTP server: the alert fires and exactly one incident exists; start it again: the incident is
resolved.

The deploy/ files are used as they are, with the waits shortened for a test: every rule's
``for:`` becomes 1 s, scrapes and evaluations run every second, Alertmanager groups at once.
The host rules (disk filling, failed units) are left out: they judge this machine's own disk
and units, which a test cannot control.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.exposition import new_registry, serve
from collectors.probes.base import ProbeEnv
from collectors.scheduler import CollectorService
from collectors.scheduler import Settings as CollectorSettings
from register.models import ConfigItem
from tests.alerting.conftest import tickets
from tests.collectors.sshd import SSHServer, start_sshd
from tests.rig.base import free_port
from tests.support.alertmanager import Alertmanager, run_alertmanager
from tests.support.factories import Factory
from tests.support.servers import Prometheus, run_prometheus
from tests.support.servers import wait_until as wait_for

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULE_FILES = ("targets.yml", "fellesdrift.yml")


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"Velkommen\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet
        pass


class WebSite:
    """An HTTP server on a fixed loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _Hello)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None


@pytest.fixture
def website() -> Iterator[WebSite]:
    site = WebSite()
    yield site
    site.stop()


@pytest.fixture
def sshd_server(tmp_path: Path) -> Iterator[SSHServer]:
    directory = tmp_path / "sshd"
    directory.mkdir()
    server = start_sshd(directory)
    yield server
    server.stop()


@dataclass
class Collector:
    url: str
    address: str


@pytest.fixture
def collector(tmp_path: Path, website: WebSite, sshd_server: SSHServer) -> Iterator[Collector]:
    labels = {"kommune": "alfa", "kommuner": ",alfa,", "criticality": "high"}
    targets = {
        "defaults": {"interval_seconds": 1, "timeout_seconds": 1, "failures_before_down": 1},
        "targets": [
            {
                "target": website.url,
                "probe": "http",
                "labels": labels | {"ci": "nettsted-alfa", "service": "Nettsted"},
            },
            {
                "target": sshd_server.address,
                "probe": "ssh",
                "labels": labels | {"ci": "server-alfa", "service": "Server"},
            },
        ],
    }
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(targets))
    env = ProbeEnv(
        known_hosts=sshd_server.known_hosts("e2e"),
        ssh_key=sshd_server.keys["client"],
        ssh_user=sshd_server.user,
    )
    settings = CollectorSettings(targets_file=path, concurrency=4, grace=0.3, env=env)
    service = CollectorService(settings)
    service.start()
    server, thread = serve(new_registry(service.store), f"127.0.0.1:{free_port()}")
    address = f"127.0.0.1:{server.server_port}"
    try:
        yield Collector(f"http://{address}/metrics", address)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        service.stop()


def _short_rules(workdir: Path) -> None:
    """deploy/'s rule files with every ``for:`` cut to 1 s."""
    rules = workdir / "rules"
    rules.mkdir(parents=True)
    for name in RULE_FILES:
        text = (DEPLOY / "prometheus" / "rules" / name).read_text()
        (rules / name).write_text(re.sub(r"(?m)^(\s+for:\s*)\S+", r"\g<1>1s", text))


def _prometheus_config(collector: Collector, alertmanager: Alertmanager) -> str:
    deployed = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in deployed["scrape_configs"] if j["job_name"] == "fellesdrift-collectors"]
    assert job["honor_labels"] is True
    job = job | {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "static_configs": [{"targets": [collector.address]}],
    }
    job.pop("file_sd_configs", None)
    manager = alertmanager.url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules/*.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [manager]}]}]},
        "scrape_configs": [job],
    }
    return yaml.safe_dump(config)


def _alertmanager_config(app_url: str, token_file: Path) -> str:
    """deploy/'s Alertmanager config (routing, inhibition) pointed at the test's app, with
    grouping waits of a second."""
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())

    def quick(route: dict[str, Any]) -> None:
        route.update({"group_wait": "0s", "group_interval": "1s", "repeat_interval": "2s"})
        for child in route.get("routes", []):
            quick(child)

    quick(config["route"])
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            assert hook["url"].endswith("/api/v1/alerts/alertmanager")
            hook["url"] = f"{app_url}/api/v1/alerts/alertmanager"
            hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return yaml.safe_dump(config)


def _firing(prometheus: Prometheus) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = prometheus.api("alerts")["alerts"]
    return [a for a in alerts if a["state"] == "firing"]


def test_stop_the_target_one_incident_bring_it_back_resolved(
    make: Factory,
    app_url: str,
    token_file: Path,
    tmp_path: Path,
    website: WebSite,
    collector: Collector,
) -> None:
    alfa = make.kommune("Alfa")
    site: ConfigItem = make.ci(
        "nettsted-alfa", name="Nettsted Alfa", criticality="high", owner_kommune_id=alfa.id
    )
    make.ci("server-alfa", name="Server Alfa", criticality="high", owner_kommune_id=alfa.id)
    am_config = _alertmanager_config(app_url, token_file)
    _short_rules(tmp_path / "prom")
    with (
        run_alertmanager(am_config, tmp_path / "am") as alertmanager,
        run_prometheus(_prometheus_config(collector, alertmanager), tmp_path / "prom") as prom,
    ):
        groups = prom.api("rules")["groups"]
        assert {g["file"].rsplit("/", 1)[-1] for g in groups} == set(RULE_FILES)
        up = 'probe_success{ci="nettsted-alfa"} == 1'
        prom.wait_for(lambda: prom.api("query", query=up)["result"], 20, "the site up")
        ssh_up = 'probe_success{probe="ssh"} == 1'
        prom.wait_for(lambda: prom.api("query", query=ssh_up)["result"], 20, "the sshd polled")
        assert tickets(make) == [] and _firing(prom) == []

        website.stop()
        [incident] = wait_for(lambda: tickets(make), 30, "an incident", alertmanager.log_text)
        # Prometheus and Alertmanager keep sending while it is down; still one incident.
        wait_for(lambda: alertmanager.webhook_deliveries() >= 2, 20, "a repeat")
        assert [a["labels"]["alertname"] for a in _firing(prom)] == ["TargetDown"]
        [incident] = tickets(make)
        assert incident.status == "new" and incident.kommune_id == alfa.id
        assert incident.priority <= 2 and incident.form_data["alert"]["ci"] == site.key

        website.start()
        wait_for(
            lambda: tickets(make)[0].status == "resolved",
            30,
            "the incident resolved",
            alertmanager.log_text,
        )
        [resolved] = tickets(make)
        assert resolved.id == incident.id
        assert alertmanager.failed_deliveries() == 0
