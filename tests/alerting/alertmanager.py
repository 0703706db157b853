"""Alertmanager for the alerting tests: a configuration that sends every alert straight to the
app's webhook (timings short so that tests stay quick), and alerts as Prometheus posts them.
The server itself is ``tests.support.alertmanager``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

WEBHOOK_PATH = "/api/v1/alerts/alertmanager"


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
