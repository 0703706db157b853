"""Saved views of the agent workspace: a person's own named queue filters, and running one
as a queue page."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, forbidden, invalid
from register.access import principal_of
from register.service import get_visible
from servicedesk.tickets.models import SavedView
from servicedesk.tickets.service import core
from servicedesk.tickets.service.queues import PAGE_SIZE, QueueFilter, QueuePage, queue_page

NAME_MAX = 80
QUERY_MAX = 2000


def saved_views(session: Session) -> list[SavedView]:
    """The principal's own saved views, by name."""
    p = principal_of(session)
    stmt = select(SavedView).where(SavedView.user_id == p.user_id).order_by(col(SavedView.name))
    return list(session.exec(stmt).all())


def saved_view_rows(session: Session) -> list[Any]:
    """As :func:`saved_views`, as plain rows of ``id``, ``name`` and ``query`` (the sidebar's
    links, without an ORM instance per view)."""
    p = principal_of(session)
    stmt = (
        select(SavedView.id, SavedView.name, SavedView.query)
        .where(SavedView.user_id == p.user_id)
        .order_by(col(SavedView.name))
    )
    return list(session.exec(stmt).all())


def mine(session: Session) -> Any:
    """The SELECT of the principal's own views (for pages of them)."""
    return select(SavedView).where(SavedView.user_id == principal_of(session).user_id)


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise invalid(FieldError("name", "must not be empty"))
    if len(name) > NAME_MAX:
        raise invalid(
            FieldError("name", "too long", code="string_too_long", params={"max_length": NAME_MAX})
        )
    return name


def _canonical(query: str) -> str:
    """The filter as the workspace writes it; what it does not know is dropped."""
    canonical = QueueFilter.from_query(query).query()
    if len(canonical) > QUERY_MAX:
        raise invalid(
            FieldError(
                "query", "too long", code="string_too_long", params={"max_length": QUERY_MAX}
            )
        )
    return canonical


def _name_free(session: Session, user_id: int, name: str, view_id: int | None = None) -> None:
    taken = select(SavedView.id).where(SavedView.user_id == user_id, SavedView.name == name)
    if view_id is not None:
        taken = taken.where(col(SavedView.id) != view_id)
    if session.exec(taken).first() is not None:
        raise invalid(FieldError("name", "you already have a view with this name", name))


def _owner(session: Session) -> int:
    p = principal_of(session)
    if p.user_id is None or not core.is_agent(p):
        raise forbidden("saved views belong to the drift unit's agents")
    return p.user_id


def save_view(session: Session, name: str, query: str) -> SavedView:
    """Save the queue ``query`` under ``name`` (the principal's own list; names are unique)."""
    user_id = _owner(session)
    name = _name(name)
    canonical = _canonical(query)
    _name_free(session, user_id, name)
    view = SavedView(user_id=user_id, name=name, query=canonical)
    session.add(view)
    session.flush()
    return view


def get_view(session: Session, view_id: int) -> SavedView:
    """One of the principal's own views (anyone else's is not found, admins' included)."""
    return get_visible(session, SavedView, view_id)


def update_view(
    session: Session, view_id: int, name: str | None = None, query: str | None = None
) -> SavedView:
    """Rename a view or change its filter (None leaves it as it is)."""
    user_id = _owner(session)
    view = get_view(session, view_id)
    if name is not None:
        name = _name(name)
        _name_free(session, user_id, name, view_id)
        view.name = name
    if query is not None:
        view.query = _canonical(query)
    session.flush()
    return view


def delete_view(session: Session, view_id: int) -> None:
    session.delete(get_view(session, view_id))
    session.flush()


def run_view(
    session: Session, view_id: int, limit: int = PAGE_SIZE, after: str | None = None
) -> QueuePage:
    """A page of the view's queue, as the principal may see it today."""
    return queue_page(
        session, QueueFilter.from_query(get_view(session, view_id).query), limit, after
    )
