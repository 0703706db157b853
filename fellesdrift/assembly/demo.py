"""The demo: the seven Knutepunkt Sørlandet kommuner with a year of data, and a collector that
polls what runs on this machine (``fellesdrift demo``, ``./scripts/dev run``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from billing import demo as billing_demo
from billing.numbering import today_in_oslo
from fellesdrift.assembly.migrations import upgrade
from fellesdrift.kernel.db import dispose_engines, get_engine, make_engine
from fellesdrift.kernel.settings import Settings
from fellesdrift.kernel.types import utcnow
from register import auth
from register import demo as demo_data
from register.access import Principal, bind
from register.models import ApiToken, User
from servicedesk.changes import demo as change_demo
from servicedesk.tickets import demo as ticket_demo


class DemoError(Exception):
    """The demo cannot start as configured."""


def _session(settings: Settings) -> Session:
    return bind(Session(get_engine(settings), expire_on_commit=False), Principal.system("demo"))


def prepare(settings: Settings, reset: bool) -> dict[str, object] | None:
    """Create or keep the demo database: the register's kommuner and people, then tickets, then
    a year of billing, each domain's demo on top of the one below. Returns the demo sign-ins
    when the data was created now."""
    if not settings.is_sqlite:
        raise DemoError("the demo runs on the embedded SQLite database only")
    path = Path(settings.database_url.split("///", 1)[1])
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    make_engine(settings.database_url).dispose()
    upgrade(settings.database_url)
    with _session(settings) as session:
        if demo_data.is_loaded(session):
            dispose_engines()
            return {"password": demo_data.DEMO_PASSWORD, "users": {"admin": "(demo data kept)"}}
        logins = demo_data.load(session, port=settings.port)
        session.commit()
        ticket_demo.load(session)
        session.commit()
        change_demo.load(session)
        session.commit()
        billing_demo.load_demo(session, today_in_oslo())
        session.commit()
    dispose_engines()
    return logins


def start_collector(settings: Settings, host: str, port: int) -> subprocess.Popen[bytes] | None:
    """The collectors poll the demo's monitored systems (the platform itself, on this machine)
    through the inventory feed, and serve what they see on http://127.0.0.1:9700/metrics."""
    token_file = Path(settings.data_dir) / "inventory.token"
    with _session(settings) as session:
        admin = session.exec(select(User).where(User.username == "admin")).first()
        if admin is None or admin.id is None:
            return None
        for old in session.exec(select(ApiToken).where(ApiToken.name == "demo-collector")):
            old.revoked_at = old.revoked_at or utcnow()
        _, raw = auth.issue_token(session, admin.id, "demo-collector", frozenset({"inventory"}))
        session.commit()
    token_file.write_text(raw, encoding="utf-8")
    token_file.chmod(0o600)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        [
            sys.executable,
            "-m",
            "collectors.cli",
            "--inventory-url",
            f"http://{host}:{port}/api/v1/inventory/targets",
            "--inventory-token-file",
            str(token_file),
            "--inventory-refresh",
            "15",
            "--listen",
            "127.0.0.1:9700",
            "--log-level",
            "WARNING",
        ]
    )
