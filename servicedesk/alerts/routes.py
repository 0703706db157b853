"""``POST /api/v1/alerts/alertmanager``: Alertmanager's webhook receiver.

Alertmanager authenticates with the bearer token of its receiver's ``http_config``
(``authorization: {credentials_file: ...}``), compared in constant time with
``FELLESDRIFT_ALERTMANAGER_WEBHOOK_TOKEN``. It is not an API token of a person: the route has no
cookie sign-in, so no CSRF check applies, and it never resolves the token as an API token.

Each alert of a notification is handled in a transaction of its own. Any failure answers 5xx,
and Alertmanager then sends the whole notification again; the alerts already handled are
repeats by then and change nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from fellesdrift.kernel.problems import FieldError, Problem, from_validation_errors, invalid
from fellesdrift.kernel.settings import Settings
from servicedesk.alerts import incidents
from servicedesk.alerts.integration import ensure_user, integration_session
from servicedesk.alerts.payload import Notification

log = logging.getLogger("fellesdrift.alerts")

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

#: Larger bodies are refused (413): Alertmanager's ``max_alerts`` keeps real ones far smaller.
MAX_BODY = 8 * 1024 * 1024


def check_token(request: Request, settings: Settings) -> None:
    expected = settings.alertmanager_webhook_token.get_secret_value()
    if not expected:
        # 401, not 503: no token can be right, and the caller (not the server) has to act
        raise Problem(
            401,
            "Invalid token",
            "this server has no webhook token: set FELLESDRIFT_ALERTMANAGER_WEBHOOK_TOKEN "
            "(or _FILE) to accept Alertmanager's alerts",
        )
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise Problem(401, "Invalid token", "the webhook needs its bearer token")


def parse(raw: bytes) -> Notification:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid(FieldError("body", f"not JSON: {exc}")) from None
    try:
        return Notification.model_validate(data)
    except ValidationError as exc:
        raise invalid(from_validation_errors(exc.errors())) from None


def _user_id(request: Request) -> int:
    state = request.app.state
    if getattr(state, "alert_user_id", None) is None:
        state.alert_user_id = ensure_user(state.engine, state.settings)
    return int(state.alert_user_id)


def handle(request: Request, notification: Notification) -> list[dict[str, Any]]:
    engine, settings = request.app.state.engine, request.app.state.settings
    user_id = _user_id(request)
    results = []
    for alert in notification.alerts:
        with integration_session(engine, settings, user_id) as session:
            result = incidents.apply(session, alert)
            session.commit()
        if result.action != "unchanged":
            log.info(
                "alert %s %s (%s): %s incident %s",
                alert.name,
                alert.fingerprint,
                alert.status.value,
                result.action,
                result.ticket_id,
            )
        results.append(result.as_dict())
    return results


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with each ``$ref`` to its ``$defs`` replaced by the definition itself."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


_RAW_SCHEMA = Notification.model_json_schema()
SCHEMA = _inline(_RAW_SCHEMA, _RAW_SCHEMA.get("$defs", {}))


@router.post(
    "/alertmanager",
    summary="Alertmanager webhook: alerts open and resolve incidents",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SCHEMA}},
        }
    },
    responses={
        200: {"description": "What was done with each alert"},
        401: {"description": "Missing or wrong bearer token"},
        422: {"description": "Not a webhook payload of version 4 (problem+json, naming the field)"},
    },
)
async def alertmanager_webhook(request: Request) -> JSONResponse:
    """Point an Alertmanager `webhook_configs` receiver here with
    `http_config: {authorization: {credentials_file: <file with the token>}}`.

    For each firing alert: one incident per alert fingerprint, however often it is sent, on
    the CI its labels name (`ci`, else `instance`, else `service`), in the kommune that uses the
    CI, priority from the CI's criticality; a CI used by several kommuner gets one parent
    incident with a child per kommune. A resolved alert adds an internal note and resolves the
    incident (and its children). The answer lists, per alert, `opened`, `reopened`, `resolved`,
    `unchanged` (a repeat) or `ignored` (a resolved alert never seen firing)."""
    settings: Settings = request.app.state.settings
    check_token(request, settings)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise Problem(413, "Payload too large", f"the body is larger than {MAX_BODY} bytes")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Problem(413, "Payload too large", f"the body is larger than {MAX_BODY} bytes")
    notification = parse(raw)
    results = await run_in_threadpool(handle, request, notification)
    return JSONResponse({"receiver": notification.receiver, "alerts": results})
