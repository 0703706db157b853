"""Operations of the service desk: ``/metrics`` for Prometheus, and the outbox for admins.

``GET /metrics`` needs credentials: an API token of a drift-unit user with the ``inventory``
scope (the token Prometheus already uses for service discovery) or any reading scope, or a
signed-in drift-unit user. Kommune users are refused: the numbers cover every kommune. There
is deliberately no "unauthenticated from loopback" exception: behind a reverse proxy on the same
machine every request comes from loopback, so such an exception would open the endpoint to
anyone who can reach the proxy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field

from fellesdrift.kernel.problems import Problem, forbidden
from fellesdrift.kernel.types import utcnow
from register.access import Principal
from register.deps import ApiDb, AppSettings, resolve_principal
from register.routes.common import CSRF
from servicedesk.tickets.metrics import registry_for
from servicedesk.tickets.service import outbox

router = APIRouter(dependencies=CSRF)

#: Token scopes that may scrape: the monitoring token's ``inventory``, or any reading scope.
METRICS_SCOPES = frozenset({"inventory", "read", "write", "admin"})


def _unauthorized(detail: str) -> Response:
    # Plain 401, not the pages' redirect to the sign-in form: the client is a scraper.
    return PlainTextResponse(
        f"401 Unauthorized: {detail}. Send an API token with the inventory scope: "
        "Authorization: Bearer <token>\n",
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="fellesdrift"'},
    )


def _scraper(request: Request) -> Principal | Response:
    """The caller if they may read the metrics; a 401 response if they did not say who they
    are; 403 (raised) for people outside the drift unit and tokens without a reading scope."""
    try:
        principal = resolve_principal(request)
    except Problem as exc:
        if exc.status != 401:
            raise
        return _unauthorized(exc.detail)
    if principal is None:
        return _unauthorized("sign-in required")
    if principal.scopes is not None and not principal.scopes & METRICS_SCOPES:
        raise Problem(403, "Insufficient scope", f"the token needs one of {sorted(METRICS_SCOPES)}")
    if not principal.global_read:
        raise forbidden("the service desk's metrics are for the drift unit")
    return principal


def _registry(app: FastAPI) -> CollectorRegistry:
    registry: CollectorRegistry | None = getattr(app.state, "servicedesk_metrics", None)
    if registry is None:
        registry = registry_for(app.state.engine, app.state.settings)
        app.state.servicedesk_metrics = registry
    return registry


@router.get(
    "/metrics",
    tags=["metrics"],
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus exposition"},
        401: {"description": "No or an invalid token"},
        403: {"description": "Not drift-unit staff, or a token without a reading scope"},
    },
)
def metrics(request: Request) -> Response:
    """The service desk's metrics in the Prometheus text format (OpenMetrics if asked for):
    open tickets by kommune, priority, status and type; created and resolved counters; the
    outbox; the background jobs' last runs. Counts only, never ticket content. Values are
    read from the database at most every 10 seconds.

    Scrape with a drift-unit user's API token with the `inventory` scope (`authorization:
    {type: Bearer, credentials_file: ...}` in the scrape config)."""
    caller = _scraper(request)
    if isinstance(caller, Response):
        return caller
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(_registry(request.app)), media_type=content_type)


# ---- the outbox, for admins -------------------------------------------------------------------


class FailedNotification(BaseModel):
    """A notification given up on; the subject and body are left out (they may quote a
    ticket an admin may not read)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int | None
    reason: str
    email: str
    attempts: int
    last_error: str
    created_at: datetime


class OutboxOut(BaseModel):
    smtp_configured: bool
    pending: int
    due: int
    failed: int
    oldest_pending_age_seconds: float
    failed_items: list[FailedNotification]


NotificationId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class RequeueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[NotificationId] = Field(min_length=1, max_length=1000)


class RequeueOut(BaseModel):
    requeued: list[int]


def _admin(db: ApiDb) -> None:
    from register.access import principal_of

    if not principal_of(db).is_admin:
        raise forbidden("the outbox is for administrators")


@router.get("/api/v1/outbox", tags=["outbox"], response_model=OutboxOut)
def outbox_status(db: ApiDb, settings: AppSettings) -> OutboxOut:
    """The notification outbox: how many wait, whether SMTP is configured at all, and the
    notifications given up after the last retry (most recent 100)."""
    _admin(db)
    state = outbox.status(db, settings)
    age = (utcnow() - state.oldest_pending_at).total_seconds() if state.oldest_pending_at else 0
    return OutboxOut(
        smtp_configured=state.smtp_configured,
        pending=state.pending,
        due=state.due,
        failed=state.failed,
        oldest_pending_age_seconds=max(0.0, age),
        failed_items=[FailedNotification.model_validate(r) for r in state.failed_rows],
    )


@router.post("/api/v1/outbox/requeue", tags=["outbox"], response_model=RequeueOut)
def outbox_requeue(data: RequeueIn, db: ApiDb) -> RequeueOut:
    """Send failed notifications again, with a fresh count of attempts (e.g. once the
    mailbox that refused them is fixed). Ids that are not failed are left alone."""
    _admin(db)
    return RequeueOut(requeued=outbox.requeue(db, data.ids))
