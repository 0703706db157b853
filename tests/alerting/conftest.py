"""Fixtures of the alerting tests: the app with a webhook token, served on loopback; a real
Alertmanager that posts to it; and a register with a kommune's own system and a shared one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from fellesdrift.kernel.settings import Settings, load_settings
from register.models import ConfigItem, Kommune
from register.schemas import TargetIn, UsageIn
from register.service import cmdb
from servicedesk.tickets.models import Ticket, TicketEntry
from tests.alerting.alertmanager import webhook_config
from tests.support.alertmanager import Alertmanager, run_alertmanager
from tests.support.factories import Factory
from tests.support.fixtures import SECRET
from tests.support.servers import serve_app

TOKEN = "webhook-token-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def settings(pg_url: str, tmp_path: Path) -> Settings:
    """The suite's settings plus the webhook token (overrides tests/support's fixture, so
    ``engine``, ``app`` and ``make`` use it)."""
    return load_settings(
        database_url=pg_url,
        data_dir=tmp_path / "var",
        secret_key=SECRET,
        base_url="http://testserver",
        alertmanager_webhook_token=TOKEN,
        alert_reconcile_grace_seconds=0,
    )


@pytest.fixture
def app_url(app: FastAPI) -> Iterator[str]:
    with serve_app(app) as url:
        yield url


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "webhook-token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def alertmanager(app_url: str, token_file: Path, tmp_path: Path) -> Iterator[Alertmanager]:
    with run_alertmanager(webhook_config(app_url, token_file), tmp_path / "am") as manager:
        yield manager


@dataclass
class World:
    a: Kommune
    b: Kommune
    c: Kommune
    #: Lønnssystem of kommune A only, criticality high, monitored at https://lonn.a.test/
    own: ConfigItem
    #: Sak/arkiv used by A, B and C, criticality critical
    shared: ConfigItem


@pytest.fixture
def world(make: Factory) -> World:
    a, b, c = make.kommune("Alfa"), make.kommune("Bravo"), make.kommune("Charlie")
    own = make.ci("lonn-alfa", name="Lønn Alfa", criticality="high", owner_kommune_id=a.id)
    shared = make.ci("sak-felles", name="Sak og arkiv", criticality="critical", service="Sak")
    for kommune in (a, b, c):
        make.run(cmdb.set_usage, shared.id, UsageIn(kommune_id=kommune.id, users_count=50))
    make.run(cmdb.add_target, own.id, TargetIn(probe="http", target="https://lonn.a.test/"))
    return World(a, b, c, own, shared)


def tickets(make: Factory, **where: Any) -> list[Ticket]:
    with make.session() as s:
        stmt = select(Ticket).order_by(col(Ticket.id))
        for name, value in where.items():
            stmt = stmt.where(getattr(Ticket, name) == value)
        return list(s.exec(stmt))


def entries(make: Factory, ticket_id: int | None) -> list[TicketEntry]:
    with make.session() as s:
        stmt = select(TicketEntry).where(TicketEntry.ticket_id == ticket_id)
        return list(s.exec(stmt.order_by(col(TicketEntry.id))))


Ticketing = Callable[..., list[Ticket]]
