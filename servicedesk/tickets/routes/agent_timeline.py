"""A ticket's timeline as the agent page shows it: replies, internal notes, status and field
changes from the append-only history, and attachments, each with who and when, every value
in words (names instead of ids, labels instead of codes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from fellesdrift.kernel.i18n import translate
from servicedesk.tickets.choices import EntryKind
from servicedesk.tickets.models import TicketEntry
from servicedesk.tickets.routes.agent_common import (
    ci_names,
    group_names,
    kommune_names,
    level_label,
    priority_label,
    user_names,
)
from servicedesk.tickets.service import attachments

#: Long texts are shown shortened in a change line; the full text is on the ticket.
SHORT = 300


@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class Item:
    #: The entry's row: id, kind, public, author_id, body, change and created_at.
    entry: Any
    author: str
    #: "reply", "note", "status", "field" or "system" (CSS class and heading).
    kind: str
    internal: bool
    changes: list[Change] = field(default_factory=list)
    event: str = ""
    #: Rows of the entry's files: id, entry_id, filename, size and public.
    files: list[Any] = field(default_factory=list)


@dataclass
class _Lookup:
    lang: str
    users: dict[int, str]
    groups: dict[int, str]
    kommuner: dict[int, str]
    cis: dict[int, str]

    def yes_no(self, value: Any) -> str:
        return translate("agent.yes" if value else "agent.no", self.lang)

    def show(self, name: str, value: Any) -> str:
        """One stored value as words."""
        if value is None or value == "" or value == []:
            return translate("agent.none", self.lang)
        lang = self.lang
        shown: dict[str, Any] = {
            "status": lambda v: translate(f"choice.Status.{v}", lang),
            "priority": lambda v: priority_label(v, lang),
            "impact": lambda v: level_label("impact", v, lang),
            "urgency": lambda v: level_label("urgency", v, lang),
            "tlp": lambda v: translate(f"choice.Tlp.{v}", lang),
            "major": self.yes_no,
            "known_error": self.yes_no,
            "assignee_id": lambda v: self.users.get(v, f"#{v}"),
            "assignment_group_id": lambda v: self.groups.get(v, f"#{v}"),
            "kommune_id": lambda v: self.kommuner.get(v, f"#{v}"),
            "ci_ids": lambda v: ", ".join(self.cis.get(c, f"#{c}") for c in v),
            "duplicate_of": lambda v: f"#{v}",
            "caused_by": lambda v: f"#{v}",
            "parent": lambda v: f"#{v}",
        }
        if name in shown:
            return str(shown[name](value))
        text = str(value)
        return text if len(text) <= SHORT else text[:SHORT] + " …"


def _field_label(name: str, lang: str) -> str:
    key = f"agent.field.{name}"
    text = translate(key, lang)
    return name if text == key else text


#: Event parameters that are choices: their label instead of their code.
_EVENT_CHOICES = {"state": "ApprovalState", "kind": "ApprovalKind"}


def _event(change: dict[str, Any], lang: str) -> str:
    event = str(change.get("event", ""))
    params = {k: v for k, v in change.items() if k != "event"}
    for name, enum in _EVENT_CHOICES.items():
        if name in params:
            key = f"choice.{enum}.{params[name]}"
            label = translate(key, lang)
            params[name] = params[name] if label == key else label
    key = f"agent.event.{event}"
    text = translate(key, lang, **params)
    return event if text == key else text


def _item(entry: Any, look: _Lookup, files: list[Any]) -> Item:
    author = look.users.get(entry.author_id, "") if entry.author_id else ""
    item = Item(
        entry,
        author or translate("agent.system", look.lang),
        entry.kind,
        not entry.public,
        files=files,
    )
    change = entry.change or {}
    if entry.kind in (EntryKind.STATUS.value, EntryKind.FIELD.value) and "field" in change:
        name = str(change["field"])
        item.changes.append(
            Change(
                _field_label(name, look.lang),
                look.show(name, change.get("old")) if "old" in change else "",
                look.show(name, change.get("new")),
            )
        )
        if change.get("pending_reason"):
            reason = translate(f"choice.PendingReason.{change['pending_reason']}", look.lang)
            item.changes.append(Change(_field_label("pending_reason", look.lang), "", reason))
    elif entry.kind == EntryKind.SYSTEM.value:
        item.event = _event(change, look.lang)
    return item


def _referenced(entries: Iterable[Any]) -> tuple[set[int], set[int]]:
    """User and CI ids that change lines name."""
    users: set[int] = set()
    cis: set[int] = set()
    for e in entries:
        change = e.change or {}
        if e.author_id:
            users.add(e.author_id)
        if change.get("field") == "assignee_id":
            users |= {v for v in (change.get("old"), change.get("new")) if isinstance(v, int)}
        if change.get("field") == "ci_ids":
            cis |= {v for v in change.get("new") or [] if isinstance(v, int)}
    return users, cis


#: What the timeline shows of an entry (plain rows: no ORM instances to build).
_ENTRY_COLUMNS = (
    col(TicketEntry.id),
    col(TicketEntry.kind),
    col(TicketEntry.public),
    col(TicketEntry.author_id),
    col(TicketEntry.body),
    col(TicketEntry.change),
    col(TicketEntry.created_at),
)


@dataclass
class Loaded:
    """A ticket's entries and files as read, with the user and CI ids whose names the change
    lines need (so that the page reads all names it shows at once)."""

    entries: list[Any]
    files: list[Any]
    users: set[int]
    cis: set[int]


def load(db: Session, ticket_id: int) -> Loaded:
    """The ticket's entries, oldest first, and all its files, as far as the principal may see
    them (the access layer filters these ORM columns as it filters the entities)."""
    stmt = (
        sa.select(*_ENTRY_COLUMNS)
        .where(col(TicketEntry.ticket_id) == ticket_id)
        .order_by(col(TicketEntry.id))
    )
    entries: list[Any] = list(db.execute(stmt).all())
    users, cis = _referenced(entries)
    return Loaded(entries, attachments.listing(db, ticket_id), users, cis)


def items(
    loaded: Loaded,
    lang: str,
    users: dict[int, str],
    groups: dict[int, str],
    kommuner: dict[int, str],
    cis: dict[int, str],
) -> list[Item]:
    """The timeline's items, each value in words, from names read by the caller."""
    files: dict[int | None, list[Any]] = {}
    for a in loaded.files:
        files.setdefault(a.entry_id, []).append(a)
    look = _Lookup(lang, users, groups, kommuner, cis)
    return [_item(e, look, files.get(e.id, [])) for e in loaded.entries]


def timeline(db: Session, ticket_id: int, lang: str) -> tuple[list[Item], list[Any]]:
    """The ticket's timeline, oldest first, and all its files, as far as the principal may
    see them (each file also appears on the entry it came with)."""
    loaded = load(db, ticket_id)
    shown = items(
        loaded,
        lang,
        user_names(db, loaded.users),
        group_names(db),
        kommune_names(db),
        ci_names(db, loaded.cis),
    )
    return shown, loaded.files
