"""Uploads on a full or read-only disk: a clear 507/503 (problem+json on the API; the portal
keeps the reply the user typed), no file left behind, nothing stored. The data folder is a
small tmpfs mounted for the test (the suite runs as root)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fellesdrift.kernel.settings import Settings, load_settings
from servicedesk.tickets.models import Attachment, Ticket, TicketEntry
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core
from tests.rig.base import is_root
from tests.support.factories import Factory
from tests.support.fixtures import SECRET
from tests.tickets.conftest import World

DISK = 256 * 1024
PDF = b"%PDF-1.7\n" + b"0" * (120 * 1024)  # larger than the room left: a write breaks off
TYPED = "Skjermen blinker når jeg åpner Visma – se vedlagt logg"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 kB tmpfs: ``fill`` it, or remount it read-only."""
    assert is_root(), "mounting the small disk needs root (as the suite runs in CI)"
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", mount], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", mount], check=True)


def fill(disk: Path, leave: int = 32 * 1024) -> None:
    """Take all the room but ``leave`` bytes (tmpfs counts whole pages)."""
    (disk / "attachments").mkdir(exist_ok=True)
    free = subprocess.run(["df", "-B1", "--output=avail", disk], capture_output=True, text=True)
    room = int(free.stdout.split()[-1])
    (disk / "filler").write_bytes(b"\0" * (room - leave))


@pytest.fixture
def settings(pg_url: str, disk: Path) -> Settings:
    return load_settings(
        database_url=pg_url, data_dir=disk, secret_key=SECRET, base_url="http://testserver"
    )


def files_in(disk: Path) -> list[Path]:
    return sorted(p for p in (disk / "attachments").rglob("*") if p.is_file())


def _ticket(as_user: Any, world: World) -> Ticket:
    session = as_user(world.user_a)
    ticket = core.create_ticket(session, TicketCreate(title="Skjermen blinker"))
    session.commit()
    return ticket


def _stored(make: Factory, ticket_id: int) -> tuple[list[Attachment], list[str]]:
    with make.session() as s:
        rows = list(s.exec(select(Attachment)))
        entries = s.exec(select(TicketEntry.body).where(TicketEntry.ticket_id == ticket_id))
        return rows, [b for b in entries if b]


def test_api_upload_on_a_full_disk_is_507_and_leaves_no_file(
    world: World, api: Any, as_user: Any, make: Factory, disk: Path
) -> None:
    ticket = _ticket(as_user, world)
    fill(disk)
    response = api(world.user_a).post(
        f"/api/v1/tickets/{ticket.id}/attachments",
        files={"file": ("logg.pdf", PDF, "application/pdf")},
    )
    assert response.status_code == 507, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "no room" in body["detail"] and "logg.pdf" in body["detail"], body
    assert body["errors"][0]["field"] == "file"
    assert files_in(disk) == []  # neither a truncated nor an empty file
    assert _stored(make, ticket.id) == ([], [])  # type: ignore[arg-type]


def test_portal_reply_on_a_full_disk_keeps_the_typed_text_and_leaves_no_file(
    world: World, browser: Any, as_user: Any, make: Factory, disk: Path
) -> None:
    ticket = _ticket(as_user, world)
    anne = browser(world.user_a)
    fill(disk)
    response = anne.submit(
        f"/saker/{ticket.id}/svar",
        {"body": TYPED, "version": str(ticket.version)},
        files=[("files", ("logg.pdf", PDF, "application/pdf"))],
    )
    assert response.status_code == 507, response.text[:2000]
    html = unescape(response.text)
    assert f">{TYPED}</textarea>" in html  # the reply is still in the form
    assert "Det er ikke plass på tjeneren til å lagre «logg.pdf»" in html
    assert files_in(disk) == []
    assert _stored(make, ticket.id) == ([], [])  # type: ignore[arg-type]
    # Room again: the same reply goes through, and its file is stored under its own name.
    (disk / "filler").unlink()
    again = anne.submit(
        f"/saker/{ticket.id}/svar",
        {"body": TYPED, "version": str(ticket.version)},
        files=[("files", ("logg.pdf", PDF, "application/pdf"))],
        follow_redirects=False,
    )
    assert again.status_code == 303, again.text[:2000]
    [row], bodies = _stored(make, ticket.id)  # type: ignore[arg-type]
    assert bodies == [TYPED]
    [stored] = files_in(disk)
    assert stored.name == row.stored_name and stored.read_bytes() == PDF


def test_upload_on_a_read_only_disk_is_503_and_the_portal_keeps_the_text(
    world: World, api: Any, browser: Any, as_user: Any, make: Factory, disk: Path
) -> None:
    ticket = _ticket(as_user, world)
    (disk / "attachments").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
    response = api(world.user_a).post(
        f"/api/v1/tickets/{ticket.id}/attachments",
        files={"file": ("logg.pdf", PDF, "application/pdf")},
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "cannot store logg.pdf" in response.json()["detail"]
    page = browser(world.user_a).submit(
        f"/saker/{ticket.id}/svar",
        {"body": TYPED, "version": str(ticket.version)},
        files=[("files", ("logg.pdf", PDF, "application/pdf"))],
    )
    assert page.status_code == 503, page.text[:2000]
    html = unescape(page.text)
    assert f">{TYPED}</textarea>" in html
    assert "Tjeneren kan ikke lagre «logg.pdf» akkurat nå" in html
    assert files_in(disk) == []
    assert _stored(make, ticket.id) == ([], [])  # type: ignore[arg-type]
