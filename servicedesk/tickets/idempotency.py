"""Idempotency keys: a create retried with the same ``Idempotency-Key`` creates nothing new.

A client that sends ``Idempotency-Key: <its own unique value>`` with a create (a ticket, a
reply, an order, a time entry) and gets no answer, or a 503 (the database went away during the
commit: did it commit?), sends the same request again with the same key. The key, a
fingerprint of the request (method, path, body) and the response are stored in the same
transaction as what the request created, so:

* the create committed: the retry finds the key and gets the first response again (with
  ``Idempotency-Replayed: true``), and nothing new is created;
* it did not: the key is not stored either, and the retry creates it as if for the first time;
* a request still running with that key: the retry waits for it (the key's unique index) and
  then answers as above;
* the same key with a different request: 422, nothing is done.

Keys are scoped per user (two users may use the same value) and kept for :data:`KEEP`; the
``autoclose`` job removes older ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint, delete
from sqlmodel import Field, Session, SQLModel, col, select

from fellesdrift.kernel.types import UTCDateTime, utcnow
from register.access import Principal, elevated, register

#: How long a key is remembered (a retry comes within minutes; clients are told 24 hours).
KEEP = timedelta(hours=24)
HEADER = "Idempotency-Key"
MAX_KEY = 255


class IdempotencyKey(SQLModel, table=True):
    """A create done with an ``Idempotency-Key``: who, which key, which request, the answer."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    key: str = Field(max_length=MAX_KEY)
    #: sha256 (hex) of the method, path and body of the request that used the key first.
    fingerprint: str = Field(max_length=64)
    status: int = 0
    location: str = Field(default="", max_length=300)
    #: The JSON body of the first response.
    response: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )


def find(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    stmt = select(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
    )
    return session.exec(stmt.execution_options(populate_existing=True)).first()


def prune(session: Session, now: datetime | None = None) -> int:
    """Forget keys older than :data:`KEEP` (as the system); the number removed."""
    before = (now or utcnow()) - KEEP
    with elevated(session, "idempotency: prune"):
        result: Any = session.execute(
            delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < before)
        )
    return int(result.rowcount or 0)


def _own(p: Principal, obj: Any, _op: str) -> bool:
    return bool(obj.user_id == p.user_id)


# A user's keys are theirs alone, drift staff included (the system sees all of them).
_k = IdempotencyKey.__table__.c  # type: ignore[attr-defined]
register(
    IdempotencyKey,
    lambda p: _k.user_id == p.user_id,
    _own,
    global_read=lambda p: _k.user_id == p.user_id,
)
