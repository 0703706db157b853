"""Attachments: checked types and sizes, generated names inside the storage folder, and who may
read them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from fellesdrift.kernel.problems import Problem
from fellesdrift.kernel.settings import Settings
from servicedesk.tickets.models import Attachment
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import attachments, core

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
DOCX = b"PK\x03\x04" + b"\x14\x00" * 20


@pytest.fixture
def session_as(as_user: Any, settings: Settings) -> Any:
    """A user's session carrying the test settings (data folder, upload limit)."""

    def open_session(user: Any, **overrides: Any) -> Session:
        session = as_user(user)
        session.info["settings"] = settings.model_copy(update=overrides)
        return session

    return open_session


@pytest.fixture
def ticket_id(world: Any, session_as: Any) -> int:
    anne = session_as(world.user_a)
    ticket = core.create_ticket(anne, TicketCreate(title="Skjermen flimrer"))
    anne.commit()
    return int(ticket.id)  # type: ignore[arg-type]


def _store(session: Session, ticket_id: int, name: str, data: bytes, **kw: Any) -> Attachment:
    row = attachments.store(session, ticket_id, name, data, **kw)
    session.commit()
    return row


def _problem(session: Session, ticket_id: int, name: str, data: bytes, **kw: Any) -> Problem:
    with pytest.raises(Problem) as err:
        attachments.store(session, ticket_id, name, data, **kw)
    session.rollback()
    return err.value


ALLOWED_FILES = [
    ("skjerm.png", PNG, "image/png"),
    ("faktura.PDF", PDF, "application/pdf"),
    ("rutine.docx", DOCX, attachments.ALLOWED[".docx"]),
    ("logg fra Åmli.txt", "feil på linje 3\n".encode(), "text/plain"),
]
REFUSED_FILES = [
    ("virus.exe", b"MZ\x90\x00", "file type not allowed; allowed: .csv, .docx"),
    ("skript.html", b"<script>alert(1)</script>", "file type not allowed"),
    ("faktura.pdf", b"MZ\x90\x00 not a pdf", "does not match the file type"),
    ("bilde.png", PDF, "does not match the file type"),
    ("rapport.docx", PDF, "does not match the file type"),
    ("notat.txt", b"MZ\x00\x00\x00binary", "does not match the file type"),
    ("melding.eml", b"\x7fELF\x02\x01\x01\x00", "does not match the file type"),
    ("tom.txt", b"", "the file is empty"),
]


def test_allowed_types_are_stored(world, session_as, ticket_id) -> None:
    for name, data, content_type in ALLOWED_FILES:
        row = _store(session_as(world.user_a), ticket_id, name, data)
        assert (row.filename, row.content_type, row.size) == (name, content_type, len(data))
        assert attachments.read(session_as(world.user_a), row.id)[1] == data  # type: ignore[arg-type]


def test_disallowed_or_disguised_files_are_refused(world, session_as, ticket_id) -> None:
    for name, data, message in REFUSED_FILES:
        problem = _problem(session_as(world.user_a), ticket_id, name, data)
        assert problem.status == 422, name
        assert message in problem.errors[0].message, (name, problem.errors)
    assert attachments.of_ticket(session_as(world.agent), ticket_id) == []


def test_too_large_is_413_and_names_the_limit(world, session_as, ticket_id, settings) -> None:
    anne = session_as(world.user_a, upload_max_bytes=1000)

    problem = _problem(anne, ticket_id, "stor.pdf", PDF + b"0" * 1000)

    assert problem.status == 413 and "the limit is 1000 bytes" in problem.detail
    storage = Path(settings.data_dir) / "attachments"
    assert not [p for p in storage.rglob("*") if p.is_file()]
    assert _store(session_as(world.user_a, upload_max_bytes=1000), ticket_id, "ok.pdf", PDF)


TRAVERSALS = [
    ("../../../../etc/cron.d/evil.txt", "evil.txt"),
    ("..\\..\\Windows\\System32\\evil.txt", "evil.txt"),
    ("/absolute/path/rapport.txt", "rapport.txt"),
    ("rapport\x00.txt", "rapport_.txt"),
    ("<img src=x onerror=alert(1)>.txt", "_img src_x onerror_alert(1)_.txt"),
]


def test_path_parts_never_leave_the_storage_folder(
    world, session_as, ticket_id, settings, tmp_path
) -> None:
    storage = (Path(settings.data_dir) / "attachments").resolve()
    for number, (given, shown) in enumerate(TRAVERSALS):
        data = f"innhold {number}".encode()
        row = _store(session_as(world.user_a), ticket_id, given, data)

        assert row.filename == shown
        assert len(row.stored_name) == 32 and int(row.stored_name, 16) >= 0
        written = [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == data]
        assert [p.name for p in written] == [row.stored_name], given
        assert written[0].resolve().is_relative_to(storage)
    # A name that is nothing but dots and a path keeps no usable type: refused, not stored.
    assert _problem(session_as(world.user_a), ticket_id, "../....txt", b"x").status == 422


def test_a_long_name_keeps_its_extension(world, session_as, ticket_id) -> None:
    name = "Referat fra møtet om " + "veldig " * 40 + "lange filnavn.pdf"

    row = _store(session_as(world.user_a), ticket_id, name, PDF)

    assert row.filename.endswith(".pdf") and len(row.filename) <= attachments.MAX_NAME


def test_internal_attachments_are_hidden_from_the_requester(world, session_as, ticket_id) -> None:
    agent = session_as(world.agent)
    internal = _store(agent, ticket_id, "intern-logg.txt", b"passord i klartekst", public=False)
    public = _store(agent, ticket_id, "veiledning.pdf", PDF)

    anne = session_as(world.user_a)
    assert [a.id for a in attachments.of_ticket(anne, ticket_id)] == [public.id]
    with pytest.raises(Problem) as err:
        attachments.read(anne, internal.id)  # type: ignore[arg-type]
    assert err.value.status == 404
    assert {a.id for a in attachments.of_ticket(session_as(world.agent2), ticket_id)} == {
        internal.id,
        public.id,
    }


def test_a_requester_cannot_add_internal_attachments(world, session_as, ticket_id) -> None:
    problem = _problem(session_as(world.user_a), ticket_id, "x.txt", b"x", public=False)
    assert problem.status == 403


def test_another_kommunes_user_cannot_read_or_add(world, session_as, ticket_id) -> None:
    row = _store(session_as(world.user_a), ticket_id, "skjerm.png", PNG)
    bjorn = session_as(world.user_b)

    assert attachments.of_ticket(bjorn, ticket_id) == []
    with pytest.raises(Problem) as err:
        attachments.read(bjorn, row.id)  # type: ignore[arg-type]
    assert err.value.status == 404
    assert _problem(bjorn, ticket_id, "mitt.png", PNG).status == 404
    # Her own kommune contact can read it, the other kommune's contact cannot.
    assert attachments.read(session_as(world.contact_a), row.id)[1] == PNG  # type: ignore[arg-type]


def test_files_a_dying_process_left_half_stored_are_settled_by_the_autoclose_job(
    world, session_as, ticket_id, settings, engine, make
) -> None:
    from fellesdrift.assembly.jobs import JOBS
    from register.jobs import Outcome, run_job
    from register.models import JobRun

    row = _store(session_as(world.user_a), ticket_id, "skjerm.png", PNG)
    name = row.stored_name
    final = attachments.storage_dir(session_as(world.user_a)) / name[:2] / name
    # Died between the commit and the rename: the committed file keeps its temporary name.
    committed = final.with_name(final.name + ".partial")
    final.rename(committed)
    assert attachments.read(session_as(world.user_a), row.id)[1] == PNG  # type: ignore[arg-type]
    # Died before the commit: an orphan; and one a request may still be writing.
    orphan = final.with_name("00" + "0" * 30 + ".partial")
    orphan.write_bytes(b"half")
    fresh = final.with_name("11" + "1" * 30 + ".partial")
    fresh.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    for path in (committed, orphan):
        os.utime(path, (two_hours_ago, two_hours_ago))

    assert run_job(JOBS["autoclose"], settings, engine) is Outcome.OK
    assert final.read_bytes() == PNG and not committed.exists()
    assert not orphan.exists() and fresh.exists()
    with make.session() as s:
        run = s.get(JobRun, "autoclose")
        assert run is not None and "files settled 1, removed 1" in run.last_result
    assert run_job(JOBS["autoclose"], settings, engine) is Outcome.OK  # nothing left to do
    assert final.read_bytes() == PNG and fresh.exists()
