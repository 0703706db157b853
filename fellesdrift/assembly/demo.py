"""The demo: the seven Knutepunkt Sørlandet kommuner with a year of data, and a collector that
polls what runs on this machine (``fellesdrift demo``, ``./scripts/dev run``)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
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
from sla import demo as sla_demo


class DemoError(Exception):
    """The demo cannot start as configured."""


def _session(settings: Settings) -> Session:
    return bind(Session(get_engine(settings), expire_on_commit=False), Principal.system("demo"))


def prepare(settings: Settings, reset: bool) -> dict[str, object] | None:
    """Create or keep the demo database: the register's kommuner and people, then tickets, then
    a year of billing, each domain's demo on top of the one below. Returns the demo sign-ins
    (also when the data was kept from an earlier start)."""
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
            return demo_data.sign_ins()
        logins = demo_data.load(session, port=settings.port)
        session.commit()
        sla_demo.load(session)
        session.commit()
        ticket_demo.load(session)
        session.commit()
        change_demo.load(session)
        session.commit()
        billing_demo.load_demo(session, today_in_oslo())
        session.commit()
    dispose_engines()
    return logins


#: Where the demo's collector serves /metrics unless that port is taken or another is asked for.
COLLECTOR_PORT = 9700


def collector_port(wanted: int | None = None) -> int:
    """``wanted`` if given (0: any free port); else 9700 when it is free, otherwise a free
    port picked by the system, so a second demo or another exporter on 9700 is no failure."""
    candidates = [wanted] if wanted is not None else [COLLECTOR_PORT, 0]
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise DemoError(f"port {wanted} for the collector is taken; choose another or 0 for any")


def _collector_token(settings: Settings, token_file: Path) -> str | None:
    """The inventory token of the demo's collector: the one in ``token_file`` while it is still
    live, else a new one (and the old ones revoked), so restarts do not pile tokens up."""
    with _session(settings) as session:
        admin = session.exec(select(User).where(User.username == "admin")).first()
        if admin is None or admin.id is None:
            return None
        if token_file.exists():
            raw = token_file.read_text(encoding="utf-8").strip()
            if auth.token_lookup(session, raw) is not None:
                return raw
        for old in session.exec(select(ApiToken).where(ApiToken.name == "demo-collector")):
            old.revoked_at = old.revoked_at or utcnow()
        _, raw = auth.issue_token(session, admin.id, "demo-collector", frozenset({"inventory"}))
        session.commit()
    token_file.write_text(raw, encoding="utf-8")
    token_file.chmod(0o600)
    return raw


def wait_for_web(host: str, port: int, timeout: float = 60.0) -> bool:
    """Whether the web server accepts connections within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return True
        time.sleep(0.2)
    return False


def start_collector(
    settings: Settings, host: str, port: int, listen_port: int
) -> subprocess.Popen[bytes] | None:
    """The collectors poll the demo's monitored systems (the platform itself, on this machine)
    through the inventory feed, and serve what they see on ``listen_port``. Call it once the
    web server answers: the collector reads the feed at once and would log a failure."""
    token_file = Path(settings.data_dir) / "inventory.token"
    if _collector_token(settings, token_file) is None:
        return None
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
            f"127.0.0.1:{listen_port}",
            "--log-level",
            "WARNING",
        ]
    )
