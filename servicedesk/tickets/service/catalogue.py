"""The service catalogue (tjenestekatalog) and orders of its items.

A catalogue item is an orderable service (a new user account, access to a fagsystem, a new PC)
with its own form (:mod:`.catalogue_forms`). Ordering an item (:func:`order`, or a service
request filed with ``catalogue_item_id``: :func:`order_ticket`) checks the posted values against
that form and files a service request (``Ticket.type == "request"``) whose ``form_data`` holds
the checked values; the item decides the request's group, system and category. An item that
needs approval puts the request on hold until an approver decides (:mod:`.approvals`). An item
whose approver is not registered cannot be ordered (the requester is told to contact the
service desk) rather than waiting for someone who does not exist.

The form's rules live in :mod:`.catalogue_forms` and the decisions in :mod:`.approvals`; their
names are re-exported here, where the pages have always found them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlmodel import Session, col, select

from fellesdrift.kernel.problems import FieldError, Problem, conflict, forbidden, invalid
from register.access import elevated, principal_of
from register.models import ConfigItem
from register.schemas import Patch
from register.service import audit, get_visible
from servicedesk.tickets.choices import ApprovalKind, TicketType, Tlp
from servicedesk.tickets.models import CatalogueItem, Group, Ticket, TicketCI
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core
from servicedesk.tickets.service.approvals import (
    DecisionIn,
    approvals_of,
    approvers_for,
    ask,
    awaiting_approval,
    decide,
    pending_for_me,
)
from servicedesk.tickets.service.catalogue_forms import (
    NAME,
    TEXT_MAX,
    FieldOption,
    FieldType,
    FormField,
    answers,
    fields_of,
    known_date,
    validate_form_data,
)

__all__ = [
    "NAME",
    "TEXT_MAX",
    "CatalogueItemIn",
    "CatalogueItemUpdate",
    "DecisionIn",
    "FieldOption",
    "FieldType",
    "FormField",
    "RequestIn",
    "active_items",
    "answers",
    "approvals_of",
    "approvers_for",
    "awaiting_approval",
    "create_item",
    "decide",
    "fields_of",
    "get_item",
    "known_date",
    "listing",
    "order",
    "order_ticket",
    "pending_for_me",
    "read_item",
    "request_title",
    "update_item",
    "validate_form_data",
]


class CatalogueItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")
    name: str = Field(min_length=2, max_length=160)
    name_en: str = Field(default="", max_length=160)
    description: str = Field(default="", max_length=4000)
    category: str = Field(default="", max_length=80)
    fields: list[FormField] = Field(default_factory=list, max_length=20)
    approval: ApprovalKind = ApprovalKind.NONE
    ci_id: int | None = None
    group_id: int | None = None
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> CatalogueItemIn:
        if len({f.name for f in self.fields}) != len(self.fields):
            raise ValueError("fields: field names must be unique")
        if self.approval == ApprovalKind.SYSTEMEIER and self.ci_id is None:
            raise ValueError("ci_id: approval by the systemeier needs the system")
        return self


class CatalogueItemUpdate(Patch):
    """A change of an item: fields left out keep their value; ``null`` empties the system or
    the group. The result is checked as a whole (e.g. systemeier approval needs a system)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"ci_id", "group_id"})

    key: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")
    name: str | None = Field(default=None, min_length=2, max_length=160)
    name_en: str | None = Field(default=None, max_length=160)
    description: str | None = Field(default=None, max_length=4000)
    category: str | None = Field(default=None, max_length=80)
    fields: list[FormField] | None = Field(default=None, max_length=20)
    approval: ApprovalKind | None = None
    ci_id: int | None = None
    group_id: int | None = None
    active: bool | None = None


class RequestIn(BaseModel):
    """An order of a catalogue item: its form's values and an optional note."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    form_data: dict[str, Any] = Field(default_factory=dict)
    description: str = Field(default="", max_length=20000)
    tlp: Tlp = Tlp.AMBER
    urgency: int = Field(default=3, ge=1, le=4)


# ---- items ---------------------------------------------------------------------------------------


def _require_keeper(session: Session) -> None:
    if not core.is_agent(principal_of(session)):
        raise forbidden("the service catalogue is kept by the drift unit")


def _check_refs(session: Session, data: CatalogueItemIn, item_id: int | None = None) -> None:
    taken = select(CatalogueItem.id).where(CatalogueItem.key == data.key)
    if item_id is not None:
        taken = taken.where(col(CatalogueItem.id) != item_id)
    if session.exec(taken).first():
        raise conflict(f"catalogue item key '{data.key}' is taken")
    if data.ci_id is not None:
        get_visible(session, ConfigItem, data.ci_id)
    if data.group_id is not None:
        get_visible(session, Group, data.group_id)


def _stored(data: CatalogueItemIn) -> dict[str, Any]:
    """The item's columns as stored (the form as plain JSON)."""
    values = data.model_dump(exclude={"fields", "approval"})
    values["approval"] = data.approval.value
    values["fields"] = [f.model_dump(exclude_defaults=True) for f in data.fields]
    return values


def create_item(session: Session, data: CatalogueItemIn) -> CatalogueItem:
    """Add an item to the catalogue (the drift unit's agents and admins)."""
    _require_keeper(session)
    _check_refs(session, data)
    item = CatalogueItem(**_stored(data))
    session.add(item)
    session.flush()
    audit.record(session, "create", "catalogue_item", item.id, summary=f"{item.key}: {item.name}")
    return item


def as_input(item: CatalogueItem) -> CatalogueItemIn:
    return CatalogueItemIn.model_validate(
        {name: getattr(item, name) for name in CatalogueItemIn.model_fields}
    )


def update_item(session: Session, item_id: int, data: CatalogueItemUpdate) -> CatalogueItem:
    """Change an item. Requests already filed keep the form values they were filed with;
    withdrawing an item (``active: false``) takes it out of the catalogue, not out of them."""
    _require_keeper(session)
    item = get_visible(session, CatalogueItem, item_id)
    merged = as_input(item).model_dump() | data.model_dump(exclude_unset=True)
    try:
        wanted = CatalogueItemIn.model_validate(merged)
    except ValidationError as exc:
        from fellesdrift.kernel.problems import from_validation_errors

        raise invalid(from_validation_errors(exc.errors())) from None
    _check_refs(session, wanted, item_id)
    changed = [name for name, value in _stored(wanted).items() if getattr(item, name) != value]
    for name in changed:
        setattr(item, name, _stored(wanted)[name])
    if changed:
        session.flush()
        audit.record(session, "update", "catalogue_item", item_id, summary=", ".join(changed))
    return item


def active_items(session: Session) -> list[CatalogueItem]:
    stmt = (
        select(CatalogueItem)
        .where(col(CatalogueItem.active).is_(True))
        .order_by(col(CatalogueItem.category), col(CatalogueItem.name))
    )
    return list(session.exec(stmt))


def listing(session: Session, include_withdrawn: bool = False, category: str | None = None) -> Any:
    """The SELECT of the catalogue as the principal may list it: the items on offer, and for
    the drift unit, who keeps it, on request also the withdrawn ones."""
    stmt = select(CatalogueItem)
    if include_withdrawn:
        _require_keeper(session)
    else:
        stmt = stmt.where(col(CatalogueItem.active).is_(True))
    if category is not None:
        stmt = stmt.where(CatalogueItem.category == category)
    return stmt


def read_item(session: Session, item_id: int) -> CatalogueItem:
    """An item as the principal may read it: withdrawn ones only for the drift unit."""
    if core.is_agent(principal_of(session)):
        return get_visible(session, CatalogueItem, item_id)
    return get_item(session, item_id)


def get_item(session: Session, item_id: int) -> CatalogueItem:
    """An item that can be ordered (404 for an unknown or withdrawn one)."""
    item = get_visible(session, CatalogueItem, item_id)
    if not item.active:
        raise Problem(404, "Not found", f"catalogue item {item_id} is no longer offered")
    return item


# ---- ordering ------------------------------------------------------------------------------------


def request_title(item: CatalogueItem, form_data: Mapping[str, Any]) -> str:
    """The item's name and, for the queue, the first short text the requester gave."""
    texts = [f.name for f in fields_of(item) if f.type == "text" and f.name in form_data]
    first = str(form_data[texts[0]]) if texts else ""
    if first:
        return f"{item.name}: {first}"[:200]
    # A ticket's title has at least 3 characters and an item's name only 2: "VM (vm-bestilling)"
    return item.name[:200] if len(item.name) >= 3 else f"{item.name} ({item.key})"


def order(session: Session, item_id: int, data: RequestIn) -> Ticket:
    """File a service request for the signed-in person; it waits for approval if the item
    needs one. Nothing is stored when the form is wrong or nobody can approve."""
    item = get_item(session, item_id)
    form_data = validate_form_data(item, data.form_data)
    request = TicketCreate(
        type=TicketType.REQUEST,
        title=request_title(item, form_data),
        description=data.description,
        tlp=data.tlp,
        urgency=data.urgency,
        catalogue_item_id=item.id,
        form_data=form_data,
    )
    return order_ticket(session, request)


#: What the catalogue item decides for every order of it; not the requester's to set.
_ITEM_DECIDES = ("major", "assignment_group_id", "parent_id")


def _check_order(data: TicketCreate) -> None:
    errors = [
        FieldError(name, "is set by the catalogue item, not by the order", getattr(data, name))
        for name in _ITEM_DECIDES
        if name in data.model_fields_set and getattr(data, name) not in (None, False)
    ]
    if data.type != TicketType.REQUEST:
        errors.insert(
            0,
            FieldError("type", "an order of a catalogue item is a service request", data.type),
        )
    if errors:
        raise invalid(errors)


def order_ticket(session: Session, data: TicketCreate) -> Ticket:
    """File ``data`` (with ``catalogue_item_id``) as an order of that item, for whoever
    ``core.create_ticket`` would file it for: the form is checked against the item, the item
    sets group, system and category, and approval is asked for where the item says so."""
    assert data.catalogue_item_id is not None
    _check_order(data)
    item = get_item(session, data.catalogue_item_id)
    form_data = validate_form_data(item, data.form_data)
    requester = core.requester_for(session, principal_of(session), data)
    # Nobody approves their own order, nor one they file for a colleague.
    me = principal_of(session).user_id
    approvers = [a for a in approvers_for(session, item, requester) if a != me]
    if item.approval != ApprovalKind.NONE.value and not approvers:
        raise invalid(
            FieldError(
                "catalogue_item_id",
                "nobody is registered to approve this order; contact the service desk",
                item.id,
            )
        )
    plain = data.model_copy(
        update={
            "catalogue_item_id": None,
            "form_data": form_data,
            "category": item.category,
            "requester_id": requester.id,
        }
    )
    ticket = core.create_ticket(session, plain, item=item)
    with elevated(session, "catalogue"):
        ticket.catalogue_item_id = item.id
        ticket.assignment_group_id = item.group_id
        if item.ci_id is not None and item.ci_id not in data.ci_ids:
            session.add(TicketCI(ticket_id=ticket.id, ci_id=item.ci_id))  # type: ignore[arg-type]
    if approvers:
        ask(session, ticket, item, approvers)
    return ticket


def file_ticket(session: Session, data: TicketCreate) -> Ticket:
    """File a ticket. One that names a catalogue item is an order of that item, wherever it
    comes from: its form is checked and approval asked for as the item says."""
    if data.catalogue_item_id is not None:
        return order_ticket(session, data)
    return core.create_ticket(session, data)
