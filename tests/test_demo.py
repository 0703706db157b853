"""The demo: the README's run command on the embedded SQLite default."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlmodel import Session, func, select

from fellesdrift.kernel.db import make_engine
from register import demo
from register.access import Principal, bind
from register.choices import Classification, Role
from register.models import ConfigItem, Kommune, RoleGrant, Site, User
from register.service.cmdb import warnings_for
from tests.rig.base import free_port


def test_demo_data_covers_the_seven_kommuner_roles_and_register(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with bind(Session(engine), Principal.system("test")) as session:
            demo.load(session)
            session.commit()
            names = set(session.exec(select(Kommune.name)))
            assert names == {f"{k[1]} kommune" for k in demo.KOMMUNER}
            assert len(names) == 7
            assert session.exec(select(func.count()).select_from(User)).one() >= 250
            assert session.exec(select(func.count()).select_from(Site)).one() >= 7 * 3
            roles = set(session.exec(select(RoleGrant.role)))
            assert roles == {r.value for r in Role}
            cis = list(session.exec(select(ConfigItem)))
            assert 25 <= len(cis) <= 40
            assert {c.classification for c in cis} >= {c.value for c in Classification}
            assert any(c.life_and_health for c in cis) and any(c.finance_payroll for c in cis)
            # The register shows where fewer than two administrators are named.
            assert any(warnings_for(session, c) for c in cis)
            kristiansand = session.exec(select(Kommune).where(Kommune.slug == "kristiansand")).one()
            assert kristiansand.inhabitants and kristiansand.inhabitants > 50_000
    finally:
        engine.dispose()


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"demo exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} not served within {timeout}s")


def test_demo_command_serves_the_portal_in_norwegian(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FELLESDRIFT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "fellesdrift.assembly.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/logg-inn", process)
        with httpx.Client(base_url=base, follow_redirects=True) as client:
            page = client.get("/logg-inn")
            assert '<html lang="nb">' in page.text and "Logg inn" in page.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            response = client.post(
                "/logg-inn",
                data={"username": "ansatt", "password": demo.DEMO_PASSWORD, "csrf_token": token},
            )
            assert response.status_code == 200
            assert "Kari Ansatt" in response.text
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0].decode()
    assert "http://127.0.0.1:" in output and "fellesdrift-demo" in output
    assert (tmp_path / "var" / "fellesdrift.kernel.db").exists()
