"""deploy/alertmanager/alertmanager.yml in a real Alertmanager: a host that is down silences the
alerts of the services on it (and only those), and notifications reach the service desk's
webhook path with the bearer token from the credentials file."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.deploy.servers import Recorder, webhook_recorder
from tests.deploy.tools import ALERTMANAGER_CONFIG, load_yaml
from tests.support.alertmanager import run_alertmanager

TOKEN = "webhook-token-for-the-test"
WEBHOOK_PATH = "/api/v1/alerts/alertmanager"


def installed_config(workdir: Path, recorder: Recorder) -> Path:
    """The deploy config with only the service desk's address changed to the recorder's."""
    target = workdir / "alertmanager"
    target.mkdir()
    text = ALERTMANAGER_CONFIG.read_text()
    url = load_yaml(ALERTMANAGER_CONFIG)["receivers"][0]["webhook_configs"][0]["url"]
    assert url.endswith(WEBHOOK_PATH)
    (target / "alertmanager.yml").write_text(text.replace(url, recorder.url + WEBHOOK_PATH))
    (target / "secrets").mkdir()
    (target / "secrets" / "fellesdrift-webhook-token").write_text(TOKEN + "\n")
    shutil.copymode(ALERTMANAGER_CONFIG, target / "alertmanager.yml")
    return target / "alertmanager.yml"


def alert(alertname: str, severity: str, **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": alertname, "severity": severity, **labels},
        "annotations": {"summary": f"{alertname} test"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }


def current_alerts() -> list[dict[str, Any]]:
    """The alerts, starting now. Built when the test runs, not at import: Alertmanager flushes a
    group at once when an alert's startsAt is older than group_wait, and an alert that old
    could then be sent before the inhibitor has seen the HostDown that mutes it."""
    return [
        alert("HostDown", "critical", host="srv1", instance="srv1:22", probe="ssh", ci="srv1"),
        alert("TargetDown", "critical", host="srv1", instance="https://srv1/", ci="web-a"),
        alert(
            "SystemdUnitFailed", "warning", host="srv1", instance="srv1:22", name="nginx.service"
        ),
        alert("TargetDown", "critical", host="srv2", instance="https://srv2/", ci="web-b"),
        alert("CollectorDown", "critical", instance="10.0.0.1:9700", job="fellesdrift-collectors"),
        alert("DiskFillingFast", "critical", host="srv3", instance="srv3:22", mountpoint="/srv"),
        alert("DiskFilling", "warning", host="srv3", instance="srv3:22", mountpoint="/srv"),
        alert("DiskFilling", "warning", host="srv3", instance="srv3:22", mountpoint="/home"),
    ]


def key(labels: dict[str, str]) -> tuple[str, str]:
    return labels["alertname"], labels.get("host", "") + labels.get("mountpoint", "")


def test_host_down_inhibits_services_on_that_host_only(tmp_path: Path) -> None:
    with webhook_recorder() as recorder:
        config = installed_config(tmp_path, recorder)
        with run_alertmanager(config, tmp_path) as manager:
            alerts = current_alerts()
            manager.api("POST", "alerts", json=alerts)

            def settled() -> dict[tuple[str, str], dict[str, Any]] | None:
                found = {key(a["labels"]): a["status"] for a in manager.api("GET", "alerts")}
                return found if len(found) == len(alerts) else None

            status = manager.wait_for(settled, 20, "all alerts received")
            inhibited = {k for k, s in status.items() if s["inhibitedBy"]}
            assert inhibited == {
                ("TargetDown", "srv1"),
                ("SystemdUnitFailed", "srv1"),
                ("DiskFilling", "srv3/srv"),
            }
            assert all(status[k]["state"] == "suppressed" for k in inhibited)
            assert status[("HostDown", "srv1")]["state"] == "active"
            assert status[("TargetDown", "srv2")]["state"] == "active"
            assert status[("CollectorDown", "")]["state"] == "active"

            # The critical route waits 10 s before its first notification.
            def delivered() -> set[tuple[str, str]] | None:
                sent = {key(a["labels"]) for r in recorder.received() for a in r.body["alerts"]}
                wanted = {
                    ("HostDown", "srv1"),
                    ("TargetDown", "srv2"),
                    ("CollectorDown", ""),
                    ("DiskFillingFast", "srv3/srv"),
                }
                return sent if wanted <= sent else None

            sent = manager.wait_for(delivered, 40, "notifications of the active alerts")
    assert not sent & inhibited, f"inhibited alerts were sent: {sent & inhibited}"
    for request in recorder.received():
        assert request.path == WEBHOOK_PATH
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.body["version"] == "4" and request.body["status"] == "firing"
