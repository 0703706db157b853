"""The alert settings: the webhook token from the environment or a file, refused when weak
(without showing it), and the Alertmanager URL checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from fellesdrift.kernel.settings import SettingsError, load_settings
from tests.alerting.conftest import TOKEN
from tests.support.fixtures import SECRET


def test_the_token_comes_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    monkeypatch.setenv("FELLESDRIFT_ALERTMANAGER_WEBHOOK_TOKEN_FILE", str(path))
    settings = load_settings(secret_key=SECRET, data_dir=tmp_path)
    assert settings.alertmanager_webhook_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize("weak", ["changeme", "short-token-123"])
def test_a_weak_token_stops_the_start_without_showing_it(weak: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as failure:
        load_settings(secret_key=SECRET, data_dir=tmp_path, alertmanager_webhook_token=weak)
    message = str(failure.value)
    assert "FELLESDRIFT_ALERTMANAGER_WEBHOOK_TOKEN" in message and weak not in message


def test_the_alertmanager_url_is_an_http_url(tmp_path: Path) -> None:
    ok = load_settings(secret_key=SECRET, data_dir=tmp_path, alertmanager_url="http://am:9093/")
    assert ok.alertmanager_url == "http://am:9093"
    with pytest.raises(SettingsError, match="FELLESDRIFT_ALERTMANAGER_URL"):
        load_settings(secret_key=SECRET, data_dir=tmp_path, alertmanager_url="am:9093")
