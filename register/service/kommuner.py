"""Kommuner, their contacts and sites, and mergers of kommuner."""

from __future__ import annotations

from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, conflict, invalid
from fellesdrift.kernel.types import utcnow
from register.models import Kommune, KommuneContact, Site
from register.schemas import (
    ContactIn,
    KommuneCreate,
    KommuneEnd,
    KommuneUpdate,
    SiteIn,
    SiteUpdate,
)
from register.service import apply_changes, get_visible
from register.service.audit import record


def _unique(session: Session, kommune_id: int | None, **fields: str) -> None:
    for name, value in fields.items():
        clash = session.exec(
            select(Kommune.id).where(getattr(Kommune, name) == value, Kommune.id != kommune_id)
        ).first()
        if clash is not None:
            raise conflict(f"{name} {value!r} is already used by another kommune")


def create_kommune(session: Session, data: KommuneCreate) -> Kommune:
    _unique(session, None, slug=data.slug, kommunenummer=data.kommunenummer, orgnr=data.orgnr)
    if data.valid_to and data.valid_to < data.valid_from:
        raise invalid(FieldError("valid_to", "is before valid_from", data.valid_to))
    kommune = Kommune(**data.model_dump())
    session.add(kommune)
    session.flush()
    record(session, "create", "kommune", kommune.id, kommune.id, f"{kommune.name}")
    return kommune


def update_kommune(session: Session, kommune_id: int, data: KommuneUpdate) -> Kommune:
    kommune = get_visible(session, Kommune, kommune_id)
    changes = data.model_dump(exclude_unset=True)
    inhabitants = changes.get("inhabitants", kommune.inhabitants)
    day = changes.get("inhabitants_date", kommune.inhabitants_date)
    if inhabitants is not None and day is None:
        raise invalid(
            FieldError("inhabitants_date", "a reference date is required with inhabitants")
        )
    lines = apply_changes(kommune, changes)
    if lines:
        kommune.updated_at = utcnow()
        record(session, "update", "kommune", kommune.id, kommune.id, lines)
    return kommune


def end_kommune(session: Session, kommune_id: int, data: KommuneEnd) -> Kommune:
    """End a kommune, optionally naming its successor (a merger). Nothing is deleted: the
    ended kommune keeps its sites, users, tickets and invoices, and the successor's people
    see that history."""
    kommune = get_visible(session, Kommune, kommune_id)
    if data.valid_to < kommune.valid_from:
        raise invalid(FieldError("valid_to", "is before the kommune's valid_from", data.valid_to))
    if data.successor_id is not None:
        successor = get_visible(session, Kommune, data.successor_id)
        if successor.id == kommune.id or _succeeds(session, successor, kommune):
            raise invalid(
                FieldError("successor_id", "would make a kommune succeed itself", data.successor_id)
            )
        if successor.valid_to is not None and successor.valid_to <= data.valid_to:
            raise invalid(
                FieldError("successor_id", "the successor has itself ended", data.successor_id)
            )
    kommune.valid_to = data.valid_to
    kommune.successor_id = data.successor_id
    kommune.updated_at = utcnow()
    record(
        session,
        "end",
        "kommune",
        kommune.id,
        kommune.id,
        f"ended {data.valid_to}, successor {data.successor_id}",
    )
    return kommune


def _succeeds(session: Session, candidate: Kommune, kommune: Kommune) -> bool:
    """True if ``candidate`` is already (transitively) succeeded by ``kommune``."""
    seen: set[int] = set()
    current: Kommune | None = candidate
    while current is not None and current.successor_id is not None:
        if current.successor_id == kommune.id:
            return True
        if current.successor_id in seen:
            return False
        seen.add(current.successor_id)
        current = session.get(Kommune, current.successor_id)
    return False


def list_kommuner(session: Session, include_ended: bool = True) -> list[Kommune]:
    stmt = select(Kommune).order_by(Kommune.name)
    if not include_ended:
        stmt = stmt.where(col(Kommune.valid_to).is_(None))
    return list(session.exec(stmt).all())


# ---- contacts ----------------------------------------------------------------------------------


def add_contact(session: Session, kommune_id: int, data: ContactIn) -> KommuneContact:
    kommune = get_visible(session, Kommune, kommune_id)
    contact = KommuneContact(kommune_id=kommune.id, **data.model_dump())  # type: ignore[arg-type]
    session.add(contact)
    session.flush()
    record(session, "create", "contact", contact.id, kommune.id, f"{data.kind}: {data.name}")
    return contact


def remove_contact(session: Session, contact_id: int) -> None:
    contact = get_visible(session, KommuneContact, contact_id)
    session.delete(contact)
    record(session, "delete", "contact", contact_id, contact.kommune_id, contact.name)


def contacts_of(session: Session, kommune_id: int, kind: str | None = None) -> list[KommuneContact]:
    stmt = select(KommuneContact).where(KommuneContact.kommune_id == kommune_id)
    if kind:
        stmt = stmt.where(KommuneContact.kind == kind)
    return list(session.exec(stmt.order_by(KommuneContact.kind, KommuneContact.name)).all())


# ---- sites -------------------------------------------------------------------------------------


def _check_parent(
    session: Session, site_kommune: int, parent_id: int | None, own: int | None
) -> None:
    if parent_id is None:
        return
    parent = get_visible(session, Site, parent_id)
    if parent.kommune_id != site_kommune:
        raise invalid(FieldError("parent_id", "belongs to another kommune", parent_id))
    seen = {own}
    current: Site | None = parent
    while current is not None:
        if current.id in seen:
            raise invalid(FieldError("parent_id", "would create a cycle", parent_id))
        seen.add(current.id)
        current = session.get(Site, current.parent_id) if current.parent_id else None


def create_site(session: Session, data: SiteIn) -> Site:
    kommune = get_visible(session, Kommune, data.kommune_id)
    clash = session.exec(
        select(Site.id).where(Site.kommune_id == kommune.id, Site.code == data.code)
    ).first()
    if clash is not None:
        raise conflict(f"site code {data.code!r} already exists in {kommune.name}")
    _check_parent(session, data.kommune_id, data.parent_id, None)
    site = Site(**data.model_dump())
    session.add(site)
    session.flush()
    record(session, "create", "site", site.id, site.kommune_id, f"{site.code} {site.name}")
    return site


def update_site(session: Session, site_id: int, data: SiteUpdate) -> Site:
    site = get_visible(session, Site, site_id)
    changes = data.model_dump(exclude_unset=True)
    if "parent_id" in changes:
        _check_parent(session, site.kommune_id, changes["parent_id"], site.id)
    lines = apply_changes(site, changes)
    if lines:
        record(session, "update", "site", site.id, site.kommune_id, lines)
    return site


def delete_site(session: Session, site_id: int) -> None:
    from register.models import User

    site = get_visible(session, Site, site_id)
    in_use = session.exec(select(Site.id).where(Site.parent_id == site.id)).first()
    # Counted on the system level: people the principal cannot see still hold the site.
    users = session.connection().execute(select(User.id).where(User.site_id == site.id).limit(1))
    if in_use is not None or users.first() is not None:
        raise conflict(f"site {site.code!r} still has sub-units or people; move them first")
    session.delete(site)
    record(session, "delete", "site", site_id, site.kommune_id, site.code)
