"""A real Alertmanager (Debian's prometheus-alertmanager) on loopback, for the alerting and
deploy tests: no clustering, its own storage in a temporary directory, stopped by the context
manager that started it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.rig.base import free_port, missing
from tests.support.servers import Daemon, run_daemon


def alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(name)
        if path:
            return path
    missing("Alertmanager (prometheus-alertmanager)", "prometheus-alertmanager")


class Alertmanager(Daemon):
    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/api/v2/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

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


@contextmanager
def run_alertmanager(config: str | Path, workdir: Path) -> Iterator[Alertmanager]:
    """Start Alertmanager on ``config`` (YAML text, or a file whose relative paths such as
    ``credentials_file`` are resolved beside it) in ``workdir``; stops it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(config, str):
        path = workdir / "alertmanager.yml"
        path.write_text(config)
        config = path
    port = free_port()
    log = workdir / "alertmanager.log"
    argv = [
        alertmanager_binary(),
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=debug",
    ]
    with run_daemon(argv, port, log) as process:
        yield Alertmanager(f"http://127.0.0.1:{port}", process, log)
