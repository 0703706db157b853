"""HTTP hardening (issue 14, item 14): authenticated answers are never cached, and
X-Forwarded-* headers count only from configured proxies (FELLESDRIFT_TRUSTED_PROXIES)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from tests.rig.base import free_port
from tests.support.factories import Factory
from tests.support.fixtures import SECRET, Browser

ROOT = Path(__file__).resolve().parent.parent


def test_authenticated_pages_and_api_answers_are_not_stored(
    make: Factory, browser: Callable[..., Browser], api: Callable[..., TestClient]
) -> None:
    user = make.user(make.kommune())
    signed_in = browser(user)
    for path in ("/profil", "/saker", "/"):
        response = signed_in.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert "no-store" in response.headers.get("cache-control", ""), path
    me = api(user).get("/api/v1/me")
    assert me.status_code == 200 and "no-store" in me.headers.get("cache-control", "")
    anonymous = browser().get("/logg-inn")
    assert "no-store" not in anonymous.headers.get("cache-control", "")


@contextmanager
def _served(pg_url: str, trusted: str | None) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FELLESDRIFT_", "FORWARDED_"))}
    env |= {
        "FELLESDRIFT_DATABASE_URL": pg_url,
        "FELLESDRIFT_SECRET_KEY": SECRET,
        "FELLESDRIFT_PORT": str(port),
    }
    if trusted is not None:
        env["FELLESDRIFT_TRUSTED_PROXIES"] = trusted
    command = [sys.executable, "-c", "from fellesdrift.assembly.cli import main; main()", "serve"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0].decode()
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


def _redirect_scheme(base: str) -> str:
    """The scheme the app believes the request came in on: a trailing-slash redirect is an
    absolute URL built from it."""
    response = httpx.get(f"{base}/saker/", headers=FORWARDED, follow_redirects=False)
    assert response.status_code in (307, 308), response.text
    return response.headers["location"].split(":", 1)[0]


def test_forwarded_headers_are_ignored_unless_from_a_trusted_proxy(pg_url: str) -> None:
    with _served(pg_url, None) as base:
        assert _redirect_scheme(base) == "http", "by default no proxy is trusted"
    with _served(pg_url, "192.0.2.1") as base:
        assert _redirect_scheme(base) == "http", "loopback is not the configured proxy"
    with _served(pg_url, "127.0.0.1") as base:
        assert _redirect_scheme(base) == "https", "the configured proxy is believed"
