"""One incident per alert: opened on the first firing notification, resolved on the resolved one.

Alertmanager repeats a firing alert every ``repeat_interval``, sends it again after a restart,
and an HA pair sends it twice; the alert's fingerprint (a hash of its labels) is the same each
time. The fingerprint is unique on ``ticket.alert_fingerprint``, so whichever delivery inserts
first wins; a concurrent delivery of the same alert fails on the constraint inside a savepoint
and then finds the winner's ticket. The incident's row is locked while a delivery decides, so
two deliveries never both reopen or both resolve it.

An *episode* is one stretch of firing: Prometheus gives each a new ``startsAt``, which is kept
in ``ticket.form_data["alert"]``. A firing notification for a ticket that is already done:

* the same episode (``startsAt`` not later than the recorded one): nothing happens. It is a
  repeat of an alert someone resolved by hand while it still fired, or a late delivery;
* a new episode, and the incident is resolved within the reopen window
  (``FELLESDRIFT_TICKET_REOPEN_WORKING_DAYS``): the incident is reopened with a note, its
  mass-outage children with it. Like ServiceNow's event management, a recurrence of the same
  fault continues the record people are already looking at, keeps the timeline in one place and
  counts as a reopen (``reopen_count``);
* a new episode of a closed incident (or one resolved longer ago): a new incident, as
  PagerDuty, Opsgenie and Grafana OnCall open a new one once the old is closed. The old ticket
  hands over the fingerprint and both point at each other.

A resolved notification resolves the incident with an internal note (and so its children),
unless the alert ended before the incident's current episode began (a late delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.types import utcnow
from register.access import elevated
from register.models import ConfigItem
from servicedesk.alerts.matching import Match, match
from servicedesk.alerts.payload import Alert, AlertStatus
from servicedesk.tickets.choices import OPEN_STATUSES, EntryKind, Status, TicketType
from servicedesk.tickets.models import Ticket
from servicedesk.tickets.schemas import ReplyIn, TicketCreate, Transition
from servicedesk.tickets.service import core, lifecycle, links

ATTEMPTS = 3


@dataclass(frozen=True)
class Result:
    fingerprint: str
    #: opened, reopened, resolved, unchanged (a repeat) or ignored (nothing to act on)
    action: str
    ticket_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "action": self.action, "ticket": self.ticket_id}


def apply(session: Session, alert: Alert) -> Result:
    """Act on one alert of a notification; the caller commits."""
    if alert.status == AlertStatus.FIRING:
        return fire(session, alert)
    return resolved(session, alert)


def _lang(session: Session) -> str:
    return core.settings_of(session).default_language


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment is not None else "–"


def ticket_of(session: Session, fingerprint: str) -> Ticket | None:
    """The incident tracking this alert, locked for the rest of the transaction. Looked up as
    the system: an incident someone made TLP:RED is hidden from the integration, but it still
    holds the fingerprint (see :func:`hidden`)."""
    stmt = select(Ticket).where(Ticket.alert_fingerprint == fingerprint).with_for_update()
    with elevated(session, "alerts:fingerprint"):
        return session.exec(stmt.execution_options(populate_existing=True)).first()


def hidden(session: Session, ticket: Ticket) -> bool:
    """Whether the integration may not see the incident (TLP:RED without it as participant):
    it then leaves the incident to the people named on it."""
    return session.exec(select(Ticket.id).where(Ticket.id == ticket.id)).first() is None


def episode_start(ticket: Ticket) -> datetime | None:
    raw = (ticket.form_data or {}).get("alert", {}).get("starts_at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


# ---- firing --------------------------------------------------------------------------------


def fire(session: Session, alert: Alert) -> Result:
    fp = alert.fingerprint
    for _attempt in range(ATTEMPTS):
        ticket = ticket_of(session, fp)
        if ticket is None:
            opened = _try_open(session, alert, previous=None)
            if opened is not None:
                return Result(fp, "opened", opened)
            continue  # another delivery opened it just now: act on theirs
        assert ticket.id is not None
        if Status(ticket.status) in OPEN_STATUSES or hidden(session, ticket):
            return Result(fp, "unchanged", ticket.id)
        start = episode_start(ticket)
        if start is not None and alert.startsAt <= start:
            return Result(fp, "unchanged", ticket.id)
        if _may_reopen(session, ticket):
            _reopen(session, ticket, alert)
            return Result(fp, "reopened", ticket.id)
        ticket.alert_fingerprint = None  # handed over to the new incident
        session.flush()
        opened = _try_open(session, alert, previous=ticket)
        if opened is not None:
            return Result(fp, "opened", opened)
    raise RuntimeError(f"alert {fp}: no stable incident after {ATTEMPTS} attempts")


def _try_open(session: Session, alert: Alert, previous: Ticket | None) -> int | None:
    """Open the incident in a savepoint; None if another delivery holds the fingerprint."""
    try:
        with session.begin_nested():
            ticket = open_incident(session, alert, previous)
    except IntegrityError:
        return None
    return ticket.id


def open_incident(session: Session, alert: Alert, previous: Ticket | None = None) -> Ticket:
    found = match(session, alert.labels)
    lang = _lang(session)
    title = _title(alert, found, lang)
    ticket = core.create_ticket(
        session,
        TicketCreate(
            type=TicketType.INCIDENT,
            title=title,
            description=_description(alert, found, lang, previous),
            kommune_id=found.kommune_ids[0] if len(found.kommune_ids) == 1 else None,
            impact=found.impact,
            urgency=found.urgency,
            category=translate("alerts.category", lang),
            ci_ids=[found.ci.id] if found.ci is not None and found.ci.id else [],
        ),
    )
    ticket.alert_fingerprint = alert.fingerprint
    ticket.form_data = {"alert": _record(alert, found)}
    session.flush()  # the unique fingerprint: a concurrent delivery fails here
    _fired_entry(session, ticket, alert)
    if previous is not None:
        change = {"event": "alert_refired_elsewhere", "ticket": ticket.id}
        core.add_entry(session, previous, EntryKind.SYSTEM, public=False, change=change)
    if found.shared:
        _open_children(session, ticket, found, title, lang)
    return ticket


def _open_children(
    session: Session, parent: Ticket, found: Match, title: str, lang: str
) -> list[Ticket]:
    """One child per affected kommune, so each kommune sees the outage among its own tickets."""
    children = []
    for kommune_id in found.kommune_ids:
        children.append(
            core.create_ticket(
                session,
                TicketCreate(
                    title=title,
                    description=translate("alerts.child.description", lang, parent=parent.id),
                    kommune_id=kommune_id,
                    impact=found.impact,
                    urgency=found.urgency,
                    category=parent.category,
                    ci_ids=[found.ci.id] if found.ci is not None and found.ci.id else [],
                    parent_id=parent.id,
                ),
            )
        )
    return children


def _fired_entry(session: Session, ticket: Ticket, alert: Alert) -> None:
    change = {"event": "alert_fired", "alertname": alert.name, "starts_at": _when(alert.startsAt)}
    core.add_entry(session, ticket, EntryKind.SYSTEM, public=False, change=change)


def _title(alert: Alert, found: Match, lang: str) -> str:
    subject = (
        alert.annotations.get("summary")
        or (found.ci.name if found.ci is not None else "")
        or alert.labels.get("instance", "")
        or alert.labels.get("job", "")
    )
    name = alert.name or translate("alerts.unnamed", lang)
    title = translate("alerts.title", lang, alertname=name, subject=subject) if subject else name
    title = " ".join(title.split())
    return title if len(title) <= 200 else title[:199] + "…"


def _description(alert: Alert, found: Match, lang: str, previous: Ticket | None) -> str:
    parts = [translate("alerts.description.intro", lang, alertname=alert.name or "?")]
    parts.append(translate("alerts.description.started", lang, starts_at=_when(alert.startsAt)))
    if text := alert.annotations.get("description"):
        parts.append(text)
    parts.append(_ci_line(found, lang))
    if found.shared:
        parts.append(translate("alerts.description.shared", lang, count=len(found.kommune_ids)))
    if previous is not None:
        parts.append(translate("alerts.description.previous", lang, ticket=previous.id))
    labels = "\n".join(f"  {k}={v}" for k, v in sorted(alert.labels.items()))
    parts.append(translate("alerts.description.labels", lang) + "\n" + labels)
    if alert.generatorURL:
        parts.append(translate("alerts.description.source", lang, url=alert.generatorURL))
    text = "\n\n".join(parts)
    return text if len(text) <= 20000 else text[:19999] + "…"


def _ci_line(found: Match, lang: str) -> str:
    ci: ConfigItem | None = found.ci
    if ci is None:
        return translate("alerts.description.no_ci", lang)
    return translate(
        "alerts.description.ci",
        lang,
        name=ci.name,
        ci_key=ci.key,
        criticality=translate(f"choice.Criticality.{ci.criticality}", lang),
        matched_by=found.matched_by,
    )


def _record(alert: Alert, found: Match) -> dict[str, Any]:
    """What the API shows of the alert, and the start of the episode the incident tracks."""
    return {
        "fingerprint": alert.fingerprint,
        "alertname": alert.name,
        "starts_at": alert.startsAt.isoformat(),
        "labels": alert.labels,
        "generator_url": alert.generatorURL,
        "ci": found.ci.key if found.ci is not None else None,
        "matched_by": found.matched_by,
    }


def _may_reopen(session: Session, ticket: Ticket) -> bool:
    if ticket.status != Status.RESOLVED.value:
        return False
    deadline = lifecycle.reopen_deadline(session, ticket)
    return deadline is None or utcnow() <= deadline


def _reopen(session: Session, ticket: Ticket, alert: Alert) -> None:
    assert ticket.id is not None
    _to_in_progress(session, ticket)
    for child in links.children_of(session, ticket.id):
        if child.status == Status.RESOLVED.value:
            _to_in_progress(session, child)
    record = dict((ticket.form_data or {}).get("alert", {}))
    record["starts_at"] = alert.startsAt.isoformat()
    ticket.form_data = {**(ticket.form_data or {}), "alert": record}
    session.flush()
    _fired_entry(session, ticket, alert)
    note = translate(
        "alerts.note.refired", _lang(session), alertname=alert.name, starts_at=_when(alert.startsAt)
    )
    lifecycle.reply(session, ticket.id, ReplyIn(body=note, public=False))


def _to_in_progress(session: Session, ticket: Ticket) -> None:
    assert ticket.id is not None
    move = Transition(version=ticket.version, status=Status.IN_PROGRESS)
    lifecycle.transition(session, ticket.id, move)


# ---- resolved ------------------------------------------------------------------------------


def resolved(session: Session, alert: Alert) -> Result:
    fp = alert.fingerprint
    ticket = ticket_of(session, fp)
    if ticket is None:
        return Result(fp, "ignored")  # never seen firing: nothing to resolve
    assert ticket.id is not None
    if Status(ticket.status) not in OPEN_STATUSES or hidden(session, ticket):
        return Result(fp, "unchanged", ticket.id)
    start, ended = episode_start(ticket), alert.ended_at
    if start is not None and ended is not None and ended < start:
        return Result(fp, "unchanged", ticket.id)  # the end of an earlier episode, late
    lang = _lang(session)
    note = translate(
        "alerts.note.resolved", lang, alertname=alert.name, ends_at=_when(ended or utcnow())
    )
    resolve(session, ticket, note, translate("alerts.resolution.resolved", lang))
    return Result(fp, "resolved", ticket.id)


def resolve(session: Session, ticket: Ticket, note: str, resolution: str) -> None:
    """Resolve an open alert incident (and its children) with an internal note."""
    assert ticket.id is not None
    lifecycle.reply(session, ticket.id, ReplyIn(body=note, public=False))
    done = Transition(version=ticket.version, status=Status.RESOLVED, resolution=resolution)
    lifecycle.transition(session, ticket.id, done)
