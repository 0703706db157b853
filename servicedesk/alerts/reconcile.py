"""The job ``alerts_reconcile``: resolve incidents whose alert vanished from Alertmanager.

Alertmanager sends no resolved notification for an alert that was silenced or inhibited when
it resolved (its notifications are muted), nor when a notification fails for longer than the
alert lives; the incident would then stay open for ever. Every minute the job reads the alerts
Alertmanager knows (``GET /api/v2/alerts``, active, silenced, inhibited and unprocessed alike:
an alert that is only muted still exists) and resolves each open alert incident whose
fingerprint is not among them, with an internal note saying so.

Caution, because a wrong answer here would resolve every incident at once:

* Alertmanager unreachable, or an answer that is not its alert list: nothing is resolved; the
  run counts as failed (``fellesdrift_job_failures_total{job="alerts_reconcile"}`` and
  ``fellesdrift_job_last_failure_timestamp_seconds``) and the log says why;
* Alertmanager started less than ``FELLESDRIFT_ALERT_RECONCILE_GRACE_SECONDS`` (300 s) ago: its
  list is incomplete until Prometheus has sent its alerts again, so the run waits;
* an incident changed within that grace time (just opened, possibly by the other Alertmanager
  of an HA pair that has not gossiped yet) is left for the next run.

``FELLESDRIFT_ALERTMANAGER_URL`` names one Alertmanager of the cluster (each has every alert,
since Prometheus sends to all); empty turns reconciliation off.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.settings import Settings
from fellesdrift.kernel.types import utcnow
from register.access import Principal, bind
from servicedesk.alerts import incidents
from servicedesk.alerts.integration import ensure_user, integration_session
from servicedesk.tickets.choices import OPEN_STATUSES, Status
from servicedesk.tickets.models import Ticket

log = logging.getLogger("fellesdrift.alerts")

TIMEOUT_SECONDS = 10.0
_OPEN = sorted(s.value for s in OPEN_STATUSES)


class AlertmanagerUnreachable(RuntimeError):
    """Alertmanager did not answer with its alert list; nothing was resolved."""


def shown_url(url: str) -> str:
    """The URL without credentials, for logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _get(client: httpx.Client, url: str, path: str, params: dict[str, str] | None = None) -> object:
    try:
        response = client.get(f"{url}{path}", params=params)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise AlertmanagerUnreachable(
            f"{shown_url(url)}{path}: {type(exc).__name__}: {exc}"
        ) from None


def fetch(url: str) -> tuple[set[str], datetime | None]:
    """The fingerprints of every alert Alertmanager holds, and when it started."""
    params = {"active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"}
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        status = _get(client, url, "/api/v2/status")
        alerts = _get(client, url, "/api/v2/alerts", params)
    if not isinstance(alerts, list) or not all(
        isinstance(a, dict) and isinstance(a.get("fingerprint"), str) for a in alerts
    ):
        raise AlertmanagerUnreachable(f"{shown_url(url)}/api/v2/alerts: not a list of alerts")
    uptime = status.get("uptime") if isinstance(status, dict) else None
    started = datetime.fromisoformat(uptime) if isinstance(uptime, str) else None
    return {a["fingerprint"] for a in alerts}, started


def candidates(engine: Engine, settings: Settings, before: datetime) -> list[tuple[int, str]]:
    """(ticket id, fingerprint) of open alert incidents unchanged since ``before``."""
    with bind(Session(engine), Principal.system("alerts:reconcile")) as session:
        rows = session.exec(
            select(Ticket.id, Ticket.alert_fingerprint).where(
                col(Ticket.alert_fingerprint).is_not(None),
                col(Ticket.status).in_(_OPEN),
                col(Ticket.updated_at) < before,
            )
        ).all()
    return [(int(i), str(fp)) for i, fp in rows if i is not None and fp is not None]


def reconcile(settings: Settings, engine: Engine) -> str:
    """The job's run; raises :class:`AlertmanagerUnreachable` (a failed run) when Alertmanager
    cannot be read, having changed nothing."""
    if not settings.alertmanager_url:
        return "off (FELLESDRIFT_ALERTMANAGER_URL is not set)"
    now = utcnow()
    grace = timedelta(seconds=settings.alert_reconcile_grace_seconds)
    try:
        active, started = fetch(settings.alertmanager_url)
    except AlertmanagerUnreachable as exc:
        log.warning("alert reconciliation skipped: Alertmanager unreachable: %s", exc)
        raise
    if started is not None and now - started < grace:
        return f"waiting: Alertmanager started {int((now - started).total_seconds())} s ago"
    vanished = [(i, fp) for i, fp in candidates(engine, settings, now - grace) if fp not in active]
    if not vanished:
        return f"0 resolved; {len(active)} alerts in Alertmanager"
    user_id = ensure_user(engine, settings)
    before = now - grace
    resolved = [i for i, fp in vanished if _resolve_vanished(engine, settings, user_id, fp, before)]
    if resolved:
        log.info("alert reconciliation resolved incidents %s (alert gone)", resolved)
    return f"{len(resolved)} resolved: {', '.join(f'#{i}' for i in resolved)}"


def _resolve_vanished(
    engine: Engine, settings: Settings, user_id: int, fingerprint: str, before: datetime
) -> bool:
    with integration_session(engine, settings, user_id) as session:
        ticket = incidents.ticket_of(session, fingerprint)  # locked: a webhook may race
        if ticket is None or Status(ticket.status) not in OPEN_STATUSES:
            return False
        if ticket.updated_at >= before:  # fired again since Alertmanager was read
            return False
        if incidents.hidden(session, ticket):
            return False
        lang = settings.default_language
        alertname = (ticket.form_data or {}).get("alert", {}).get("alertname", "")
        note = translate("alerts.note.vanished", lang, alertname=alertname)
        incidents.resolve(session, ticket, note, translate("alerts.resolution.vanished", lang))
        session.commit()
    return True
