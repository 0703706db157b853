"""The ``Idempotency-Key`` header of the API's creates (see ``servicedesk.tickets.idempotency``).

A create route takes ``once: Once`` and does::

    if (replay := once.replay(db)) is not None:
        return replay
    ... create ...
    return once.remember(db, result, OutModel, location)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from fellesdrift.kernel.problems import FieldError, conflict, invalid
from register.deps import ApiPrincipal
from servicedesk.tickets.idempotency import HEADER, MAX_KEY, IdempotencyKey, find

T = TypeVar("T")

DESCRIPTION = (
    "Optional. A value of your own, unique per create (e.g. a UUID), of 1-255 printable ASCII "
    "characters. Sending the same request again with the same key (after a timeout, a lost "
    "connection or a 503) creates nothing new: the answer is the first response, with "
    "`Idempotency-Replayed: true`. The same key with a different request is a 422. Keys are "
    "per user and remembered for 24 hours."
)


@dataclass
class Once:
    """The request's idempotency key (None: the header was not sent)."""

    key: str | None
    fingerprint: str
    user_id: int | None
    row: IdempotencyKey | None = None

    def replay(self, db: Session) -> JSONResponse | None:
        """The first response for this key, or None after claiming the key for this request
        (in the request's transaction: it commits, or goes, with what the request creates)."""
        if self.key is None or self.user_id is None:
            return None
        found = find(db, self.user_id, self.key)
        if found is None:
            claim = IdempotencyKey(user_id=self.user_id, key=self.key, fingerprint=self.fingerprint)
            db.add(claim)
            try:
                db.flush()  # a request running with this key: waits for its end
            except IntegrityError:
                db.rollback()
                found = find(db, self.user_id, self.key)
                if found is None:
                    raise conflict("a request with this Idempotency-Key is still running") from None
            else:
                self.row = claim
                return None
        if found.fingerprint != self.fingerprint:
            raise invalid(
                FieldError(HEADER, "was used before for a different request", self.key),
                "the Idempotency-Key was used before for a different request; nothing was done",
            )
        headers = {"Idempotency-Replayed": "true"}
        if found.location:
            headers["Location"] = found.location
        return JSONResponse(json.loads(found.response), found.status, headers)

    def remember(
        self, db: Session, result: T, model: type[BaseModel], location: str = "", status: int = 201
    ) -> T:
        """Store the response with the key (same transaction); returns ``result``."""
        if self.row is not None:
            body = model.model_validate(result).model_dump(mode="json")
            self.row.status, self.row.location = status, location
            self.row.response = json.dumps(body, ensure_ascii=False)
            db.add(self.row)
            db.flush()
        return result


async def idempotency(
    request: Request,
    principal: ApiPrincipal,
    key: Annotated[str | None, Header(alias=HEADER, description=DESCRIPTION)] = None,
) -> Once:
    if key is not None and not (0 < len(key) <= MAX_KEY and key.isascii() and key.isprintable()):
        raise invalid(FieldError(HEADER, f"must be 1-{MAX_KEY} printable ASCII characters"))
    body = await request.body()
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + body)
    return Once(key, digest.hexdigest(), principal.user_id)


OnceKey = Annotated[Once, Depends(idempotency)]
