"""Who is told what: notifications go to the outbox (``Notification``) in the same
transaction as the change that causes them, so none is lost; ``outbox.send_due`` sends them.

TLP applies: a TLP:RED ticket's content goes only to its named participants; the leadership
of an affected kommune then learns that a major incident concerns them, without details.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from fellesdrift.kernel.i18n import translate
from register.access import elevated, principal_of
from register.choices import ContactKind, Responsibility
from register.models import CIResponsibility, CIUsage, KommuneContact, User
from servicedesk.tickets.choices import Status, Tlp
from servicedesk.tickets.models import Notification, Ticket, TicketCI, TicketEntry, TicketWatcher


def _users(session: Session, ids: Iterable[int | None]) -> list[User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return []
    return list(
        session.exec(select(User).where(col(User.id).in_(wanted), col(User.active).is_(True)))
    )


def _participants(session: Session, ticket: Ticket) -> set[int | None]:
    watchers = session.exec(
        select(TicketWatcher.user_id).where(TicketWatcher.ticket_id == ticket.id)
    )
    return {ticket.requester_id, ticket.assignee_id, *watchers}


def _queue(
    session: Session,
    ticket: Ticket,
    reason: str,
    user_ids: Iterable[int | None],
    values: dict[str, Any] | None = None,
) -> None:
    """Queue one message per recipient in their language, never to the one who acted."""
    actor = principal_of(session).user_id
    with elevated(session, "notify"):
        for user in _users(session, (u for u in user_ids if u != actor)):
            if user.email:
                _add(session, ticket, reason, user.email, user.language, user.id, values)


def _add(
    session: Session,
    ticket: Ticket,
    reason: str,
    email: str,
    lang: str,
    user_id: int | None,
    values: dict[str, Any] | None,
) -> None:
    fields = {
        "id": ticket.id,
        "title": ticket.title,
        "status": translate(f"choice.Status.{ticket.status}", lang),
        "tlp": Tlp(ticket.tlp).name,
    } | (values or {})
    session.add(
        Notification(
            user_id=user_id,
            email=email,
            subject=translate(f"notify.{reason}.subject", lang, **fields),
            body=translate(f"notify.{reason}.body", lang, **fields),
            ticket_id=ticket.id,
            reason=reason,
        )
    )


def ticket_created(
    session: Session, ticket: Ticket, watchers: Iterable[int | None] | None = None
) -> None:
    """``watchers``: the new ticket's, where the caller just added them (saves a read)."""
    if watchers is None:
        recipients = _participants(session, ticket)
    else:
        recipients = {ticket.requester_id, ticket.assignee_id, *watchers}
    _queue(session, ticket, "created", recipients)
    if ticket.major:
        major_incident(session, ticket)


def replied(session: Session, ticket: Ticket, entry: TicketEntry) -> None:
    recipients = _participants(session, ticket) if entry.public else {ticket.assignee_id}
    _queue(session, ticket, "reply" if entry.public else "note", recipients, {"body": entry.body})


def status_changed(session: Session, ticket: Ticket, previous: Status) -> None:
    reason = "resolved" if ticket.status == Status.RESOLVED.value else "status"
    values = {"resolution": ticket.resolution, "previous": previous.value}
    _queue(session, ticket, reason, _participants(session, ticket), values)


def ticket_changed(session: Session, ticket: Ticket, changes: dict[str, Any]) -> None:
    if changes.get("assignee_id"):
        _queue(session, ticket, "assigned", [changes["assignee_id"]])
    if changes.get("major"):
        major_incident(session, ticket)


def affected_kommuner(session: Session, ticket: Ticket) -> set[int]:
    """The ticket's kommune, its children's, and every kommune using an affected system."""
    with elevated(session, "notify"):
        children = select(Ticket.kommune_id).where(Ticket.parent_id == ticket.id)
        kommuner = {ticket.kommune_id, *session.exec(children)}
        ci_ids = list(session.exec(select(TicketCI.ci_id).where(TicketCI.ticket_id == ticket.id)))
        if ci_ids:
            users = select(CIUsage.kommune_id).where(col(CIUsage.ci_id).in_(ci_ids))
            kommuner |= {*session.exec(users)}
    return {k for k in kommuner if k is not None}


def major_incident(session: Session, ticket: Ticket) -> None:
    """At once: the leadership contacts of every affected kommune and the systemeiere of the
    affected systems."""
    red = ticket.tlp == Tlp.RED.value
    with elevated(session, "notify"):
        contacts = session.exec(
            select(KommuneContact).where(
                col(KommuneContact.kommune_id).in_(affected_kommuner(session, ticket)),
                KommuneContact.kind == ContactKind.LEADERSHIP.value,
            )
        ).all()
        for contact in contacts:
            if contact.email:
                _add(
                    session,
                    ticket,
                    "major_restricted" if red else "major",
                    contact.email,
                    "nb",
                    None,
                    None,
                )
        ci_ids = session.exec(select(TicketCI.ci_id).where(TicketCI.ticket_id == ticket.id)).all()
        owners = session.exec(
            select(CIResponsibility.user_id).where(
                col(CIResponsibility.ci_id).in_(list(ci_ids)),
                CIResponsibility.kind == Responsibility.SYSTEMEIER.value,
            )
        ).all()
    participants = _participants(session, ticket)
    for user_id in set(owners):
        restricted = red and user_id not in participants
        _queue(session, ticket, "major_restricted" if restricted else "major", [user_id])


def sla_alert(
    session: Session,
    ticket: Ticket,
    reason: str,
    user_ids: Iterable[int | None],
    emails: Iterable[str],
    values: dict[str, Any],
) -> int:
    """An SLA warning or breach (``sla.escalation``) to drift staff by user id and to
    leadership by address; under TLP:RED whoever is no named participant gets the restricted
    text. Returns the number of messages queued."""
    participants = {ticket.requester_id, ticket.assignee_id}
    red = ticket.tlp == Tlp.RED.value
    queued = 0
    with elevated(session, "notify"):
        users = _users(session, user_ids)
        for user in users:
            if user.email:
                restricted = red and user.id not in participants
                why = f"{reason}_restricted" if restricted else reason
                _add(session, ticket, why, user.email, user.language, user.id, values)
                queued += 1
        known = {u.email.lower() for u in users}
        for email in dict.fromkeys(e.strip() for e in emails):
            if email and email.lower() not in known:
                why = f"{reason}_restricted" if red else reason
                _add(session, ticket, why, email, "nb", None, values)
                queued += 1
    return queued
