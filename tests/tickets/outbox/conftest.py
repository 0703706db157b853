"""A real SMTP server on loopback (aiosmtpd) that records what it is given, and outbox helpers."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from fellesdrift.kernel.settings import Settings
from servicedesk.tickets.models import Notification
from tests.rig.base import free_port
from tests.support.factories import Factory

SENDER = "Fellesdrift Knutepunkt <drift@knutepunkt.no>"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def notification_id(self) -> int:
        # Message-ID: <YYYYmmddHHMMSS.<id>.notification@domain>
        return int(str(self.message["Message-ID"]).split(".")[1])


@dataclass
class Recorder:
    """The aiosmtpd handler: refuses the addresses in ``refused`` with 550, keeps the rest."""

    received: list[Received] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
        return "250 2.0.0 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


class SmtpServer:
    """aiosmtpd on 127.0.0.1; ``stop()`` and ``start()`` again on the same port (SMTP down and
    back)."""

    def __init__(self, port: int | None = None, **smtp_parameters: Any) -> None:
        self.port = port or free_port()
        self.recorder = Recorder()
        self.smtp_parameters = smtp_parameters
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, **self.smtp_parameters
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def smtp_settings(settings: Settings, port: int, **kw: Any) -> Settings:
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_from": SENDER,
    }
    return settings.model_copy(update=values | kw)


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    return smtp_settings(settings, smtp_server.port)


@pytest.fixture
def sessions(engine: Engine) -> Callable[[], Session]:
    """The session factory the sender is given: plain sessions on the test database."""
    return lambda: Session(engine, expire_on_commit=False)


def queue(make: Factory, *addresses: str, **kw: Any) -> list[Notification]:
    """Outbox rows as ``notify`` writes them, one per address."""
    with make.session() as s:
        rows = [
            Notification(
                email=address,
                subject=kw.get("subject", f"Melding til {address}"),
                body=kw.get("body", "Hei!\n\nDette er en test."),
                reason=kw.get("reason", "reply"),
                ticket_id=kw.get("ticket_id"),
            )
            for address in addresses
        ]
        s.add_all(rows)
        s.commit()
        return rows


def outbox_rows(make: Factory) -> dict[int, Notification]:
    with make.session() as s:
        return {n.id: n for n in s.exec(select(Notification)) if n.id is not None}
