"""Attachments: size- and type-checked, stored outside the web root under generated names.

The client's file name is kept for display only (reduced to its last path part and a safe
character set); the bytes live in ``<data_dir>/attachments/<2 hex>/<random hex>``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import unicodedata
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, Problem, forbidden, invalid
from register.access import principal_of
from servicedesk.tickets.choices import EntryKind
from servicedesk.tickets.models import Attachment, TicketEntry
from servicedesk.tickets.rules import sees_internal
from servicedesk.tickets.service import filestore
from servicedesk.tickets.service.core import (
    add_entry,
    get_ticket,
    is_agent,
    raise_if_closed,
    settings_of,
)

#: Extension -> the content types accepted for it (sniffed types must agree, see _sniff).
ALLOWED = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".zip": "application/zip",
    ".eml": "message/rfc822",
}
_MAGIC = {
    "application/pdf": (b"%PDF",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/zip": (b"PK\x03\x04",),
}
_ZIP_BASED = {".docx", ".xlsx", ".odt", ".ods", ".zip"}
#: Types without a magic number that must at least not be binary.
_TEXT_LIKE = {"text/plain", "text/csv", "message/rfc822"}
MAX_NAME = 150


def safe_filename(name: str) -> str:
    """The last path part of ``name``, normalised, with only safe characters, never empty."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFC", base).strip().lstrip(".")
    base = re.sub(r"[^\w.\- ()æøåÆØÅ]", "_", base)
    if len(base) > MAX_NAME:
        # Shorten the stem, not the extension: the type check reads the extension.
        suffix = Path(base).suffix[:20]
        base = base[: MAX_NAME - len(suffix)] + suffix
    return base or "vedlegg"


def _extension(name: str) -> str:
    return Path(name).suffix.lower()


def _check(filename: str, data: bytes, max_bytes: int) -> str:
    ext = _extension(filename)
    if ext not in ALLOWED:
        raise invalid(
            FieldError(
                "file", f"file type not allowed; allowed: {', '.join(sorted(ALLOWED))}", filename
            )
        )
    if len(data) > max_bytes:
        raise Problem(
            413,
            "File too large",
            f"{filename} is {len(data)} bytes; the limit is {max_bytes} bytes",
        )
    if not data:
        raise invalid(FieldError("file", "the file is empty", filename))
    magic_type = "application/zip" if ext in _ZIP_BASED else ALLOWED[ext]
    prefixes = _MAGIC.get(magic_type)
    if prefixes and not data.startswith(prefixes):
        raise invalid(FieldError("file", "the content does not match the file type", filename))
    if ALLOWED[ext] in _TEXT_LIKE and b"\x00" in data[:4096]:
        raise invalid(FieldError("file", "the content does not match the file type", filename))
    return ALLOWED[ext]


def storage_dir(session: Session) -> Path:
    return Path(settings_of(session).data_dir) / "attachments"


def store(
    session: Session,
    ticket_id: int,
    filename: str,
    data: bytes,
    public: bool = True,
    entry: TicketEntry | None = None,
) -> Attachment:
    """Check and store a file on a ticket; the row and the timeline entry are added to the
    session, the bytes written at once under a temporary name that becomes the file's own when
    the session commits (removed if it does not; see ``filestore``). A full or unwritable disk
    is a 507 or 503 refusal that leaves no file."""
    p = principal_of(session)
    ticket = get_ticket(session, ticket_id)
    raise_if_closed(ticket)
    if not public and not (is_agent(p) or sees_internal(session, p, ticket.id)):
        raise forbidden("internal attachments are for the drift unit")
    display = safe_filename(filename)
    content_type = _check(display, data, settings_of(session).upload_max_bytes)
    stored = secrets.token_hex(16)
    filestore.write(session, storage_dir(session) / stored[:2] / stored, data, display)
    if entry is None:
        entry = add_entry(
            session,
            ticket,
            EntryKind.REPLY if public else EntryKind.NOTE,
            public=public,
            change={"attachment": display},
        )
        session.flush()
    row = Attachment(
        ticket_id=ticket.id,  # type: ignore[arg-type]
        entry_id=entry.id,
        filename=display,
        stored_name=stored,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        public=public,
        uploaded_by_id=p.user_id,
    )
    session.add(row)
    session.flush()
    return row


def sweep_files(session: Session, older_than: timedelta = timedelta(hours=1)) -> tuple[int, int]:
    """Settle attachment files a dying process left under their temporary name (see
    ``filestore.sweep``); (renamed, removed)."""

    def committed(stored_name: str) -> bool:
        stmt = select(Attachment.id).where(Attachment.stored_name == stored_name)
        return session.exec(stmt).first() is not None

    cutoff = time.time() - older_than.total_seconds()
    return filestore.sweep(storage_dir(session), committed, cutoff)


def of_ticket(session: Session, ticket_id: int) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(col(Attachment.id))
    return list(session.exec(stmt))


def listing(session: Session, ticket_id: int) -> list[Any]:
    """As :func:`of_ticket`, as rows of what a list of files shows (id, entry_id, filename,
    size, public): no ORM instances to build. The access layer filters these ORM columns as
    it filters the entities."""
    stmt = (
        sa.select(
            col(Attachment.id),
            col(Attachment.entry_id),
            col(Attachment.filename),
            col(Attachment.size),
            col(Attachment.public),
        )
        .where(col(Attachment.ticket_id) == ticket_id)
        .order_by(col(Attachment.id))
    )
    return list(session.execute(stmt).all())


def read(session: Session, attachment_id: int) -> tuple[Attachment, bytes]:
    """The attachment (if the principal may see it) and its bytes."""
    from register.service import get_visible

    row = get_visible(session, Attachment, attachment_id)
    path = storage_dir(session) / row.stored_name[:2] / row.stored_name
    return row, filestore.open_path(path).read_bytes()
