"""Files written together with a transaction: nothing half-written, nothing left behind.

:func:`write` puts the bytes under a temporary name beside the final one (``<name>.partial``)
at once, so a full or read-only disk is found before anything is committed; the file gets its
final name when the session commits, and is removed when the transaction ends otherwise
(a refusal, a failed commit). A write that fails removes what it wrote and raises a
:class:`~fellesdrift.kernel.problems.Problem`: 507 when the disk is full, 503 when it cannot be
written at all; the database transaction is then rolled back by its owner, as for any refusal.

Should the process die between the commit and the rename, the row's file still carries its
temporary name: :func:`open_path` finds it there. Should it die before the commit, the file is
an orphan. :func:`sweep` (run by the ``autoclose`` job) settles both once they are old enough
that no request can still be writing them: renamed where the row exists, removed where not.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from fellesdrift.kernel.problems import FieldError, Problem

log = logging.getLogger("fellesdrift.files")
PARTIAL = ".partial"
_KEY = "fellesdrift.files.pending"
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT})


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL)


def open_path(path: Path) -> Path:
    """Where a committed file is: its final name, or its temporary one if the process died
    before renaming it."""
    partial = partial_of(path)
    return partial if not path.exists() and partial.exists() else path


def storage_problem(exc: OSError, filename: str) -> Problem:
    """The refusal for a file that could not be written: what is wrong, and that nothing of
    the request was stored."""
    if exc.errno in _NO_ROOM:
        status, title, key = 507, "Insufficient storage", "no_room"
        detail = f"there is no room on the server to store {filename}; nothing was saved"
    else:
        status, title, key = 503, "Service unavailable", "cannot_store"
        detail = f"the server cannot store {filename} at the moment; nothing was saved"
    error = FieldError(
        "file", detail, filename, code=f"portal.upload.{key}", params={"name": filename}
    )
    return Problem(status, title, detail, [error])


def write(session: Session, path: Path, data: bytes, filename: str) -> None:
    """Write ``data`` for ``path`` now, under its temporary name; see the module docstring."""
    temp = partial_of(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temp.open("xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())  # a full disk may only say so here
    except OSError as exc:
        _remove(temp)
        log.warning("could not store %s: %s", path.name, exc.strerror or exc)
        raise storage_problem(exc, filename) from exc
    _pending(session).append((temp, path))


def sweep(root: Path, committed: Callable[[str], bool], older_than: float) -> tuple[int, int]:
    """Settle the temporary files under ``root`` older than ``older_than`` (Unix time):
    rename those whose final name ``committed`` knows, remove the rest. (renamed, removed)"""
    renamed = removed = 0
    for temp in root.glob(f"*/*{PARTIAL}"):
        try:
            if temp.stat().st_mtime > older_than:
                continue
            if committed(temp.name.removesuffix(PARTIAL)):
                os.replace(temp, temp.with_name(temp.name.removesuffix(PARTIAL)))
                renamed += 1
            else:
                temp.unlink()
                removed += 1
        except OSError as exc:  # gone meanwhile, or the disk is read-only: next time
            log.warning("could not settle %s: %s", temp.name, exc)
    return renamed, removed


def _pending(session: Session) -> list[tuple[Path, Path]]:
    pending: list[tuple[Path, Path]] | None = session.info.get(_KEY)
    if pending is None:
        pending = session.info[_KEY] = []
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_transaction_end", _ended)
    return pending


def _committed(session: Session) -> None:
    pending = session.info.get(_KEY) or []
    for temp, path in pending:
        try:
            os.replace(temp, path)
        except OSError as exc:  # open_path still finds it under its temporary name
            log.error("could not rename %s to its final name: %s", temp.name, exc)
    pending.clear()


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint: the outer transaction decides
    pending = session.info.get(_KEY) or []
    for temp, _path in pending:
        _remove(temp)
    pending.clear()


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only disk keeps what it has
        path.unlink(missing_ok=True)
