"""The embedded default (SQLite): the webhook opens, deduplicates and resolves there too."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from fellesdrift.assembly.app import create_app
from fellesdrift.kernel.db import dispose_engines, get_engine
from fellesdrift.kernel.settings import load_settings
from register.schemas import UsageIn
from register.service import cmdb
from tests.alerting.alertmanager import WEBHOOK_PATH
from tests.alerting.conftest import TOKEN, tickets
from tests.alerting.test_webhook import am_alert, notification
from tests.support.factories import Factory
from tests.support.fixtures import SECRET


def test_alerts_on_sqlite(sqlite_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        database_url=sqlite_url,
        data_dir=tmp_path,
        secret_key=SECRET,
        alertmanager_webhook_token=TOKEN,
    )
    make = Factory(get_engine(settings))
    try:
        kommuner = [make.kommune("Alfa"), make.kommune("Bravo")]
        shared = make.ci("sak-felles", name="Sak og arkiv", criticality="critical")
        for kommune in kommuner:
            make.run(cmdb.set_usage, shared.id, UsageIn(kommune_id=kommune.id, users_count=5))
        with TestClient(create_app(settings)) as client:
            client.headers["Authorization"] = f"Bearer {TOKEN}"
            firing = notification(am_alert("5a4e0001", {"ci": "sak-felles"}))
            for _repeat in range(3):
                assert client.post(WEBHOOK_PATH, json=firing).status_code == 200
            assert len(tickets(make)) == 3  # parent and two children, once
            resolved = am_alert("5a4e0001", {"ci": "sak-felles"}, status="resolved")
            assert client.post(WEBHOOK_PATH, json=notification(resolved)).status_code == 200
        assert {t.status for t in tickets(make)} == {"resolved"}
    finally:
        dispose_engines()
