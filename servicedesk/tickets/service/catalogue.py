"""The service catalogue (tjenestekatalog) and service requests with approvals.

A catalogue item is an orderable service (a new user account, access to a fagsystem, a new PC)
with its own form: ``CatalogueItem.fields`` holds a list of :class:`FormField`. Ordering an item
(:func:`order`) checks the posted values against those fields and files a service request
(``Ticket.type == "request"``) whose ``form_data`` holds the checked values.

Approvals. An item's ``approval`` names who must approve before work starts:

* ``systemeier``: the systemeier of the item's system (``CatalogueItem.ci_id``), as named in
  the systems register (``CIResponsibility`` of kind ``systemeier``);
* ``leader``: the requester's leader. fellesdrift knows no line managers, so the rule is: the
  requester's kommune's contact persons, i.e. every active user of the requester's kommune
  holding the ``kommune_contact`` role (the kommune's IT contact or super-user, who answers for
  what the kommune orders). Nobody approves their own request.

While approvals are open the request is ``pending`` with ``pending_reason`` ``approval``; each
approver has one ``Approval`` row and sees the request. Any one approver decides: approving puts
the request in the drift unit's queue (``new``), rejecting cancels it with the approver's
reason. The other approvers' open rows are then removed; the timeline keeps who was asked and
who decided. An item whose approver is not registered cannot be ordered (the requester is told
to contact the service desk) rather than waiting for someone who does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, true
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from fellesdrift.problems import FieldError, Problem, conflict, forbidden, invalid
from fellesdrift.types import utcnow
from servicedesk.access import elevated, principal_of
from servicedesk.choices import Responsibility, Role
from servicedesk.models import CIResponsibility, ConfigItem, RoleGrant, User
from servicedesk.service import get_visible
from servicedesk.tickets.choices import (
    ApprovalKind,
    ApprovalState,
    EntryKind,
    PendingReason,
    Status,
    TicketType,
    Tlp,
)
from servicedesk.tickets.models import (
    Approval,
    CatalogueItem,
    Group,
    Ticket,
    TicketCI,
    TicketWatcher,
)
from servicedesk.tickets.schemas import TicketCreate
from servicedesk.tickets.service import core, notify

FieldType = Literal["text", "textarea", "select", "date", "number"]
#: Longest text a field takes when the item does not say (``max``).
TEXT_MAX = {"text": 200, "textarea": 4000}
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


# ---- the shape of an item's form -----------------------------------------------------------------


class FieldOption(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    value: str = Field(min_length=1, max_length=80)
    label: str = Field(min_length=1, max_length=120)
    label_en: str = Field(default="", max_length=120)


class FormField(BaseModel):
    """One input of an item's form. ``min``/``max`` bound a number, ``max`` a text's length."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(pattern=NAME.pattern)
    label: str = Field(min_length=1, max_length=120)
    label_en: str = Field(default="", max_length=120)
    type: FieldType = "text"
    required: bool = False
    hint: str = Field(default="", max_length=300)
    hint_en: str = Field(default="", max_length=300)
    options: list[FieldOption] = Field(default_factory=list, max_length=50)
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.type == "select" and not self.options:
            raise ValueError("options: a choice needs options")
        if len({o.value for o in self.options}) != len(self.options):
            raise ValueError("options: option values must be unique")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("max: must not be below min")
        return self

    def text_for(self, lang: str) -> tuple[str, str]:
        """The label and hint in ``lang`` (English falls back to bokmål)."""
        if lang == "en":
            return self.label_en or self.label, self.hint_en or self.hint
        return self.label, self.hint

    def option_label(self, value: str, lang: str) -> str:
        for o in self.options:
            if o.value == value:
                return (o.label_en or o.label) if lang == "en" else o.label
        return value


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


class RequestIn(BaseModel):
    """An order of a catalogue item: its form's values and an optional note."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    form_data: dict[str, Any] = Field(default_factory=dict)
    description: str = Field(default="", max_length=20000)
    tlp: Tlp = Tlp.AMBER
    urgency: int = Field(default=3, ge=1, le=4)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    approve: bool
    comment: str = Field(default="", max_length=4000)
    #: The ticket version the approver saw; a changed request is a conflict, not a surprise.
    version: int | None = None


# ---- items ---------------------------------------------------------------------------------------


def fields_of(item: CatalogueItem) -> list[FormField]:
    return [FormField.model_validate(f) for f in item.fields]


def create_item(session: Session, data: CatalogueItemIn) -> CatalogueItem:
    """Add an item to the catalogue (the drift unit's agents and admins)."""
    if not core.is_agent(principal_of(session)):
        raise forbidden("the service catalogue is kept by the drift unit")
    if session.exec(select(CatalogueItem.id).where(CatalogueItem.key == data.key)).first():
        raise conflict(f"catalogue item key '{data.key}' is taken")
    if data.ci_id is not None:
        get_visible(session, ConfigItem, data.ci_id)
    if data.group_id is not None:
        get_visible(session, Group, data.group_id)
    values = data.model_dump(exclude={"fields", "approval"})
    item = CatalogueItem(
        **values,
        approval=data.approval.value,
        fields=[f.model_dump(exclude_defaults=True) for f in data.fields],
    )
    session.add(item)
    session.flush()
    return item


def active_items(session: Session) -> list[CatalogueItem]:
    stmt = (
        select(CatalogueItem)
        .where(col(CatalogueItem.active).is_(True))
        .order_by(col(CatalogueItem.category), col(CatalogueItem.name))
    )
    return list(session.exec(stmt))


def get_item(session: Session, item_id: int) -> CatalogueItem:
    """An item that can be ordered (404 for an unknown or withdrawn one)."""
    item = get_visible(session, CatalogueItem, item_id)
    if not item.active:
        raise Problem(404, "Not found", f"catalogue item {item_id} is no longer offered")
    return item


# ---- checking an order against the item's form ---------------------------------------------------


def _error(spec: FormField, raw: Any, code: str, message: str, **params: Any) -> FieldError:
    return FieldError(f"form_data.{spec.name}", message, raw, code=code, params=params)


def _one(spec: FormField, raw: Any) -> tuple[Any, FieldError | None]:
    """The checked value of one field (None when left empty), or the error."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        if spec.required:
            return None, _error(spec, raw, "missing", "Field required")
        return None, None
    if spec.type in TEXT_MAX:
        limit = spec.max or TEXT_MAX[spec.type]
        if len(text) > limit:
            msg = f"String should have at most {limit} characters"
            return None, _error(spec, raw, "string_too_long", msg, max_length=limit)
        return text, None
    if spec.type == "select":
        if text not in {o.value for o in spec.options}:
            return None, _error(spec, raw, "literal_error", "is not one of the choices")
        return text, None
    if spec.type == "date":
        return _date(spec, raw, text)
    return _number(spec, raw, text)


def _date(spec: FormField, raw: Any, text: str) -> tuple[Any, FieldError | None]:
    """ISO dates as a date input sends them; 24.12.2026 as people in Norway type them."""
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat(), None
        except ValueError:
            continue
    return None, _error(spec, raw, "date_parsing", "Input should be a valid date")


def _number(spec: FormField, raw: Any, text: str) -> tuple[Any, FieldError | None]:
    if not re.fullmatch(r"[-+]?\d{1,12}", text):
        return None, _error(spec, raw, "int_parsing", "Input should be a valid integer")
    number = int(text)
    if spec.min is not None and number < spec.min:
        msg = f"Input should be greater than or equal to {spec.min}"
        return None, _error(spec, raw, "greater_than_equal", msg, ge=spec.min)
    if spec.max is not None and number > spec.max:
        msg = f"Input should be less than or equal to {spec.max}"
        return None, _error(spec, raw, "less_than_equal", msg, le=spec.max)
    return number, None


def validate_form_data(item: CatalogueItem, posted: Mapping[str, Any]) -> dict[str, Any]:
    """The item's form values, checked and normalised (dates ISO, numbers int); raises a 422
    naming every wrong field as ``form_data.<name>``. Values for unknown fields are refused."""
    specs = fields_of(item)
    errors = [
        FieldError(f"form_data.{name}", "Extra inputs are not permitted", code="extra_forbidden")
        for name in posted
        if name not in {s.name for s in specs}
    ]
    data: dict[str, Any] = {}
    for spec in specs:
        value, error = _one(spec, posted.get(spec.name))
        if error is not None:
            errors.append(error)
        elif value is not None:
            data[spec.name] = value
    if errors:
        raise invalid(errors)
    return data


# ---- ordering ------------------------------------------------------------------------------------


def approvers_for(session: Session, item: CatalogueItem, requester: User) -> list[int]:
    """Who may approve ``requester``'s order of ``item`` (see the module's docstring). Read
    as the system: a requester cannot list their kommune's contacts or a system's owner."""
    if item.approval == ApprovalKind.NONE.value:
        return []
    if item.approval == ApprovalKind.SYSTEMEIER.value:
        asked = select(CIResponsibility.user_id).where(
            CIResponsibility.ci_id == item.ci_id,
            CIResponsibility.kind == Responsibility.SYSTEMEIER.value,
        )
        same_kommune: ColumnElement[bool] = true()
    else:
        asked = select(RoleGrant.user_id).where(RoleGrant.role == Role.KOMMUNE_CONTACT.value)
        same_kommune = col(User.kommune_id) == requester.kommune_id
        if requester.kommune_id is None:
            return []
    with elevated(session, "approvers"):
        stmt = select(User.id).where(
            col(User.id).in_(asked),
            same_kommune,
            col(User.active).is_(True),
            User.id != requester.id,
        )
        found = session.exec(stmt.order_by(col(User.id))).all()
    return [i for i in found if i is not None]


def request_title(item: CatalogueItem, form_data: Mapping[str, Any]) -> str:
    """The item's name and, for the queue, the first short text the requester gave."""
    texts = [f.name for f in fields_of(item) if f.type == "text" and f.name in form_data]
    first = str(form_data[texts[0]]) if texts else ""
    return f"{item.name}: {first}"[:200] if first else item.name[:200]


def _requester(session: Session) -> User:
    p = principal_of(session)
    with elevated(session, "requester"):
        user = session.get(User, p.user_id) if p.user_id is not None else None
    if user is None:
        raise forbidden("a service request is ordered by a person")
    return user


def order(session: Session, item_id: int, data: RequestIn) -> Ticket:
    """File a service request for the signed-in person; it waits for approval if the item
    needs one. Nothing is stored when the form is wrong or nobody can approve."""
    item = get_item(session, item_id)
    form_data = validate_form_data(item, data.form_data)
    requester = _requester(session)
    approvers = approvers_for(session, item, requester)
    if item.approval != ApprovalKind.NONE.value and not approvers:
        raise invalid(
            FieldError(
                "catalogue_item_id",
                "nobody is registered to approve this order; contact the service desk",
                item.id,
            )
        )
    ticket = core.create_ticket(
        session,
        TicketCreate(
            type=TicketType.REQUEST,
            title=request_title(item, form_data),
            description=data.description,
            category=item.category,
            tlp=data.tlp,
            urgency=data.urgency,
            form_data=form_data,
        ),
    )
    # What the catalogue decides for every order of the item (not the requester's to set).
    with elevated(session, "catalogue"):
        ticket.catalogue_item_id = item.id
        ticket.assignment_group_id = item.group_id
        if item.ci_id is not None:
            session.add(TicketCI(ticket_id=ticket.id, ci_id=item.ci_id))  # type: ignore[arg-type]
    if approvers:
        _ask(session, ticket, item, approvers)
    return ticket


def _ask(session: Session, ticket: Ticket, item: CatalogueItem, approvers: list[int]) -> None:
    from servicedesk.tickets.service.lifecycle import _move

    for user_id in approvers:
        session.add(Approval(ticket_id=ticket.id, approver_id=user_id, kind=item.approval))  # type: ignore[arg-type]
    if ticket.tlp == Tlp.RED.value:
        # Under TLP:RED only named participants see the request: the approvers must be named.
        with elevated(session, "approvers"):
            for user_id in approvers:
                session.add(TicketWatcher(ticket_id=ticket.id, user_id=user_id))  # type: ignore[arg-type]
    change = {"event": "approval_requested", "kind": item.approval, "approvers": approvers}
    core.add_entry(session, ticket, EntryKind.SYSTEM, change=change)
    _move(session, ticket, Status.PENDING, PendingReason.APPROVAL)
    session.flush()
    notify._queue(session, ticket, "approval_requested", approvers)


# ---- deciding ------------------------------------------------------------------------------------


def awaiting_approval(ticket: Ticket) -> bool:
    return (
        ticket.status == Status.PENDING.value
        and ticket.pending_reason == PendingReason.APPROVAL.value
    )


def pending_for_me(session: Session) -> list[tuple[Approval, Ticket]]:
    """The signed-in person's open approvals, oldest first."""
    p = principal_of(session)
    stmt = (
        select(Approval, Ticket)
        .join(Ticket, col(Ticket.id) == col(Approval.ticket_id))
        .where(
            Approval.approver_id == p.user_id,
            Approval.state == ApprovalState.PENDING.value,
            Ticket.status == Status.PENDING.value,
            Ticket.pending_reason == PendingReason.APPROVAL.value,
        )
        .order_by(col(Approval.id))
    )
    return [(a, t) for a, t in session.exec(stmt)]


def approvals_of(session: Session, ticket_id: int) -> list[Approval]:
    stmt = select(Approval).where(Approval.ticket_id == ticket_id).order_by(col(Approval.id))
    return list(session.exec(stmt))


def decide(session: Session, approval_id: int, data: DecisionIn) -> Ticket:
    """Approve (work can start) or reject (the request is cancelled with the reason)."""
    p = principal_of(session)
    approval = get_visible(session, Approval, approval_id)
    if approval.approver_id != p.user_id:
        raise forbidden("only the person asked to approve decides")
    ticket = core.get_ticket(session, approval.ticket_id, lock=True)
    if data.version is not None:
        core.check_version(ticket, data.version)
    if approval.state != ApprovalState.PENDING.value or not awaiting_approval(ticket):
        raise conflict(f"request {ticket.id} is no longer waiting for approval")
    if not data.approve and not data.comment:
        raise invalid(FieldError("comment", "give the reason for the rejection"))
    state = ApprovalState.APPROVED if data.approve else ApprovalState.REJECTED
    approval.state = state.value
    approval.comment = data.comment
    approval.decided_at = utcnow()
    try:
        _settle(session, ticket, approval, state, data.comment)
    except StaleDataError:
        raise conflict(f"request {ticket.id} was changed by someone else; reload it") from None
    reason = "approval_approved" if data.approve else "approval_rejected"
    notify._queue(session, ticket, reason, [ticket.requester_id], {"comment": data.comment})
    return ticket


def _settle(
    session: Session, ticket: Ticket, approval: Approval, state: ApprovalState, comment: str
) -> None:
    """The consequences of one decision; the approver may not edit the ticket itself, so the
    system carries them out in the approver's name."""
    from servicedesk.tickets.service.lifecycle import _move

    me = approval.approver_id
    with elevated(session, "approval"):
        others = select(Approval).where(
            Approval.ticket_id == ticket.id,
            Approval.id != approval.id,
            Approval.state == ApprovalState.PENDING.value,
        )
        for other in session.exec(others):
            session.delete(other)
        change = {"event": "approval", "state": state.value, "kind": approval.kind}
        core.add_entry(session, ticket, EntryKind.SYSTEM, comment, change=change, author_id=me)
        if state == ApprovalState.APPROVED:
            target = Status.ASSIGNED if ticket.assignee_id else Status.NEW
            _move(session, ticket, target, author_id=me)
        else:
            _move(session, ticket, Status.CANCELLED, author_id=me)


# ---- demo content --------------------------------------------------------------------------------


def _opt(*pairs: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"value": v, "label": nb, "label_en": en} for v, nb, en in pairs]


def _f(
    name: str, nb: str, en: str, type: str = "text", req: bool = False, **kw: Any
) -> dict[str, Any]:
    return {"name": name, "label": nb, "label_en": en, "type": type, "required": req} | kw


_WHO = _f("for_whom", "Hvem gjelder det (fullt navn)", "Who is it for (full name)", req=True)
_WHY = _f("reason", "Hvorfor trengs det", "Why is it needed", "textarea", True)
_NEEDED = _f("needed_by", "Når trengs det", "When is it needed", "date")
_ACCESS = _opt(("read", "Lesetilgang", "Read access"), ("write", "Skrivetilgang", "Write access"))

#: (key, name, name_en, category, group key, approval, system key, description, fields)
DEMO_ITEMS: list[tuple[str, str, str, str, str, str, str, str, list[dict[str, Any]]]] = [
    ("ny-brukerkonto", "Ny brukerkonto", "New user account", "Brukere og tilgang",
     "brukerstotte", "none", "",
     "Brukerkonto, e-post og hjemmeområde for en ny ansatt. Bestill minst tre dager før start.",
     [_WHO, _f("start_date", "Første arbeidsdag", "First working day", "date", True),
      _f("position", "Stilling", "Position", req=True),
      _f("unit", "Enhet eller arbeidssted", "Unit or workplace", req=True)]),
    ("tilgang-pleie", "Tilgang til Pleie og omsorg (EPJ)", "Access to Pleie og omsorg (EPJ)",
     "Brukere og tilgang", "fagsystemer", "systemeier", "pleie",
     "Tilgang til det elektroniske pasientjournalsystemet.",
     [_WHO, _f("level", "Tilgangsnivå", "Access level", "select", True, options=_ACCESS), _WHY]),
    ("tilgang-sakarkiv", "Tilgang til Sak og arkiv", "Access to Sak og arkiv",
     "Brukere og tilgang", "fagsystemer", "systemeier", "sakarkiv",
     "Tilgang til sak- og arkivsystemet.",
     [_WHO, _f("level", "Tilgangsnivå", "Access level", "select", True, options=_ACCESS), _WHY]),
    ("passordhjelp", "Hjelp med passordbytte", "Help changing a password", "Brukere og tilgang",
     "brukerstotte", "none", "",
     "Vi ringer deg og hjelper deg å bytte passord. Vi spør aldri om passordet ditt.",
     [_f("phone", "Telefonnummer vi kan ringe", "Phone number we can call", req=True)]),
    ("ny-pc", "Ny PC eller klient", "New PC or client", "Utstyr", "brukerstotte", "leader", "",
     "Bærbar eller stasjonær PC med kommunens standardoppsett.",
     [_WHO, _f("model", "Type", "Type", "select", True, options=_opt(
         ("laptop", "Bærbar", "Laptop"), ("desktop", "Stasjonær", "Desktop"))), _NEEDED, _WHY]),
    ("mobiltelefon", "Mobiltelefon", "Mobile phone", "Utstyr", "brukerstotte", "none", "",
     "Mobiltelefon med kommunens avtale og oppsett for e-post.",
     [_WHO, _f("number", "Nummer", "Number", "select", True, options=_opt(
         ("new", "Nytt nummer", "New number"), ("keep", "Behold nummeret", "Keep number")))]),
    ("programvare", "Programvareinstallasjon", "Software installation", "Programvare",
     "brukerstotte", "none", "",
     "Installasjon av et program på PC-en din. Programmet må ha lisens.",
     [_f("program", "Program", "Software", req=True),
      _f("pc_name", "PC-navn (står på klistremerket)", "PC name (on the sticker)"),
      _f("licence", "Lisens", "Licence", "select", True, options=_opt(
          ("have", "Kommunen har lisens", "The kommune has a licence"),
          ("buy", "Må kjøpes", "Must be bought"), ("free", "Gratis", "Free")))]),
    ("epostliste", "Endring av e-postliste", "Change a mailing list", "E-post", "brukerstotte",
     "none", "", "Legg til eller fjern medlemmer i en e-postliste eller fellespostkasse.",
     [_f("list", "E-postliste", "Mailing list", req=True, hint="F.eks. post@kommune.no",
         hint_en="E.g. post@kommune.no"),
      _f("change", "Endring", "Change", "select", True, options=_opt(
          ("add", "Legg til", "Add"), ("remove", "Fjern", "Remove"))),
      _f("members", "Hvem (én per linje)", "Who (one per line)", "textarea", True)]),
    ("vpn", "VPN-tilgang", "VPN access", "Brukere og tilgang", "nettverk", "none", "",
     "Tilgang til kommunens nett hjemmefra eller på reise.",
     [_WHO, _f("until", "Til og med", "Until", "date"), _WHY]),
]  # fmt: skip


def load_demo_catalogue(session: Session) -> list[CatalogueItem]:
    """Create the demo catalogue (``session`` acts as the system). Items whose key exists are
    left alone, and an item whose system is missing from the register is skipped."""
    with elevated(session, "demo-catalogue"):
        groups = {g.key: g.id for g in session.exec(select(Group))}
        systems = {c.key: c.id for c in session.exec(select(ConfigItem))}
        existing = set(session.exec(select(CatalogueItem.key)))
        created = []
        for key, name, en, category, group, approval, system, text, fields in DEMO_ITEMS:
            if key in existing or (system and system not in systems):
                continue
            data = CatalogueItemIn(
                key=key,
                name=name,
                name_en=en,
                category=category,
                description=text,
                approval=ApprovalKind(approval),
                ci_id=systems.get(system),
                group_id=groups.get(group),
                fields=[FormField.model_validate(f) for f in fields],
            )
            created.append(create_item(session, data))
    return created


def known_date(value: Any) -> date | None:
    """A stored date value of a form (ISO text) as a date, for showing it."""
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None
