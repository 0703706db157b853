"""``--web-config-file`` (issue 14, item 14): the collector's /metrics over TLS, with basic or
bearer auth, as exporters do with the exporter toolkit's web configuration file."""

from __future__ import annotations

import os
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
import yaml

from collectors.cli import main
from tests.collectors.helpers import wait_for
from tests.collectors.pki import PKI, make_pki
from tests.rig.base import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "skrapepassord-for-prometheus"


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    return make_pki(tmp_path)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _start(tmp_path: Path, web: dict[str, object], started: list[subprocess.Popen[bytes]]) -> int:
    targets, config = tmp_path / "targets.yaml", tmp_path / "web.yml"
    targets.write_text(yaml.safe_dump({"targets": []}))
    config.write_text(yaml.safe_dump(web))
    port = free_port()
    command = [sys.executable, "-m", "collectors.cli", "--targets-file", str(targets)]
    command += ["--listen", f"127.0.0.1:{port}", "--web-config-file", str(config)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    started.append(process)
    return port


def test_tls_and_basic_auth(tmp_path: Path, pki: PKI, collector: list) -> None:  # type: ignore[type-arg]
    cert, key = pki.server_files("collector", pki.leaf, pki.intermediate)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = {
        "tls_server_config": {"cert_file": cert, "key_file": key},
        "basic_auth_users": {"prometheus": hashed},
    }
    url = f"https://localhost:{_start(tmp_path, web, collector)}/metrics"
    with httpx.Client(verify=ssl.create_default_context(cafile=pki.ca_file), timeout=5) as client:

        def up() -> bool:
            try:
                return client.get(url).status_code == 401
            except httpx.TransportError:
                return False

        wait_for(up, timeout=20)
        refused = client.get(url)
        assert refused.headers["www-authenticate"].startswith("Basic")
        assert "probe_success" not in refused.text
        assert client.get(url, auth=("prometheus", "feil-passord")).status_code == 401
        scraped = client.get(url, auth=("prometheus", PASSWORD))
        assert scraped.status_code == 200 and "fellesdrift_collector" in scraped.text
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("https:", "http:"), timeout=5)  # no plain HTTP beside TLS


def test_bearer_token(tmp_path: Path, collector: list) -> None:  # type: ignore[type-arg]
    token = secrets.token_urlsafe(32)
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    url = f"http://127.0.0.1:{_start(tmp_path, {'bearer_token_file': str(token_file)}, collector)}/"

    def up() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 401
        except httpx.TransportError:
            return False

    wait_for(up, timeout=20)
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and "fellesdrift_collector" in ok.text


def test_a_bad_web_config_stops_the_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "web.yml"
    args = ["--targets-file", "x", "--web-config-file", str(config)]
    for content in (
        {"basic_auth_users": {"prometheus": "klartekst"}},
        {"tls_server_config": {"cert_file": str(tmp_path / "missing.pem")}},
        {"tls_server_config": {"cert_file": "a", "key_file": "b"}},
        {"unknown_key": 1},
    ):
        config.write_text(yaml.safe_dump(content))
        assert main(args) == 2, content
        assert "--web-config-file" in capsys.readouterr().err
