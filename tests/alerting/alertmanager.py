"""A real Alertmanager (Debian's prometheus-alertmanager) on loopback, for the alerting tests.

It runs without clustering, with its own storage in a temporary directory, and is stopped by
the context manager that started it. Timings are short so that tests stay quick.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.rig.base import free_port, missing

WEBHOOK_PATH = "/api/v1/alerts/alertmanager"


def alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(name)
        if path:
            return path
    missing("Alertmanager (prometheus-alertmanager)", "prometheus-alertmanager")


def webhook_config(app_url: str, token_file: Path, repeat: str = "2s") -> str:
    """Route every alert, each in a group of its own, to the app's webhook with the token."""
    return f"""
route:
  receiver: fellesdrift
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: {repeat}
receivers:
  - name: fellesdrift
    webhook_configs:
      - url: {app_url}{WEBHOOK_PATH}
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
"""


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def post_alerts(self, *alerts: dict[str, Any]) -> None:
        """Send alerts as Prometheus would (``POST /api/v2/alerts``)."""
        response = httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=10)
        assert response.status_code == 200, response.text

    def alerts(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def silence(self, labels: dict[str, str], minutes: int = 30) -> str:
        now = datetime.now(UTC)
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in labels.items()
            ],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=minutes)).isoformat(),
            "createdBy": "tests",
            "comment": "test silence",
        }
        response = httpx.post(f"{self.url}/api/v2/silences", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["silenceID"])

    def webhook_deliveries(self) -> float:
        """Notifications sent to the webhook so far (Alertmanager's own counter)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if (
                line.startswith("alertmanager_notifications_total{")
                and 'integration="webhook"' in line
            ):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def failed_deliveries(self) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("alertmanager_notifications_failed_total{")
            and 'integration="webhook"' in line
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def alert(
    name: str, labels: dict[str, str], ends: datetime | None = None, **annotations: str
) -> dict[str, Any]:
    """An alert as Prometheus posts it; ``ends`` in the past resolves it."""
    body: dict[str, Any] = {
        "labels": {"alertname": name, **labels},
        "annotations": annotations,
        "generatorURL": "http://prometheus.test/graph?g0.expr=up",
    }
    if ends is not None:
        body["endsAt"] = ends.isoformat()
    return body


def wait_for(
    check: Callable[[], Any], timeout: float, what: str, log: Callable[[], str] = lambda: ""
) -> Any:
    """Poll ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout} s\n{log()}")
        time.sleep(0.2)


@contextmanager
def run_alertmanager(config_yaml: str, workdir: Path) -> Iterator[Alertmanager]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(config_yaml)
    port = free_port()
    log = workdir / "alertmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                alertmanager_binary(),
                f"--config.file={config}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    manager = Alertmanager(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for(
            lambda: _ready(manager.url) or process.poll() is not None,
            30,
            "Alertmanager ready",
            manager.log_text,
        )
        if process.poll() is not None:
            raise AssertionError(f"Alertmanager exited:\n{manager.log_text()}")
        yield manager
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
