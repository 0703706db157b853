"""Settings: environment, *_FILE secrets, refusal of placeholders, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fellesdrift.kernel.settings import SettingsError, load_settings

GOOD = "s3cr3t-" + "x" * 40


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("FELLESDRIFT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_environment_with_prefix_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FELLESDRIFT_SECRET_KEY", GOOD)
    monkeypatch.setenv("FELLESDRIFT_DATABASE_URL", "postgresql://fd:pw@db.example/fd")
    settings = load_settings()
    assert settings.secret_key.get_secret_value() == GOOD
    # A plain postgresql:// URL is given the psycopg 3 driver.
    assert settings.database_url == "postgresql+psycopg://fd:pw@db.example/fd"
    assert not settings.is_sqlite


def test_secret_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(GOOD + "\n")
    monkeypatch.setenv("FELLESDRIFT_SECRET_KEY_FILE", str(secret))
    assert load_settings().secret_key.get_secret_value() == GOOD


def test_unreadable_secret_file_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FELLESDRIFT_SECRET_KEY_FILE", "/nonexistent/secret")
    with pytest.raises(SettingsError, match="FELLESDRIFT_SECRET_KEY_FILE"):
        load_settings()


@pytest.mark.parametrize("value", ["", "changeme", "secret", "short-but-real"])
def test_placeholder_secret_refused_outside_demo(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FELLESDRIFT_SECRET_KEY", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "FELLESDRIFT_SECRET_KEY" in str(info.value)
    assert repr(value) not in str(info.value)  # the rejected secret is not echoed


def test_demo_mode_generates_and_keeps_a_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FELLESDRIFT_DEMO_MODE", "true")
    monkeypatch.setenv("FELLESDRIFT_DATA_DIR", str(tmp_path / "var"))
    first = load_settings().secret_key.get_secret_value()
    assert len(first) >= 32
    assert load_settings().secret_key.get_secret_value() == first
    assert (tmp_path / "var" / ".demo-secret").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FELLESDRIFT_PORT", "eighty"),
        ("FELLESDRIFT_PORT", "70000"),
        ("FELLESDRIFT_DATABASE_URL", "mysql://x/y"),
        ("FELLESDRIFT_DEFAULT_LANGUAGE", "sv"),
        ("FELLESDRIFT_LOGIN_MAX_FAILURES", "0"),
    ],
)
def test_malformed_value_names_variable_and_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("FELLESDRIFT_SECRET_KEY", GOOD)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert variable in str(info.value)


def test_secret_never_in_error_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FELLESDRIFT_SECRET_KEY", GOOD)
    settings = load_settings()
    assert GOOD not in repr(settings) and GOOD not in str(settings.model_dump())
    monkeypatch.setenv("FELLESDRIFT_PORT", "nope")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert GOOD not in str(info.value)
