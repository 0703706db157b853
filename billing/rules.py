"""Who may see and change billing's rows (registered with ``register.access``).

* The billing admin (a drift-unit user with ``billing_admin``) and admins see and change all.
* A kommune's finance users see their own kommune's issued invoices with their lines and
  details, count snapshots and purchases, and the price model (it is the same for everyone).
* Other drift staff (agents) see none of it; everyone else sees nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, select, true
from sqlmodel import SQLModel

from billing.models import (
    CountItem,
    CountSnapshot,
    InhabitantFigure,
    Invoice,
    InvoiceFile,
    InvoiceLine,
    InvoiceLineDetail,
    InvoiceRun,
    NumberSeries,
    PriceElement,
    PriceModelVersion,
    PriceRate,
    Purchase,
    Supplier,
)
from register.access import Principal, register
from register.choices import Role


def is_billing_admin(p: Principal) -> bool:
    return p.is_admin or (p.is_drift and Role.BILLING_ADMIN in p.roles)


def is_finance(p: Principal) -> bool:
    return p.kommune_id is not None and Role.FINANCE in p.roles


def _ids(p: Principal) -> list[int]:
    return sorted(p.kommuner)


def _admin_write(p: Principal, _obj: Any, _op: str) -> bool:
    return is_billing_admin(p)


def _drift_read(p: Principal) -> ColumnElement[bool]:
    return true() if is_billing_admin(p) else false()


def _public_to_finance(p: Principal) -> ColumnElement[bool]:
    return true() if is_finance(p) else false()


def _no_one(_p: Principal) -> ColumnElement[bool]:
    return false()


def _c(model: type[SQLModel]) -> Any:
    return model.__table__.c  # type: ignore[attr-defined]


def _own_kommune(model: type[SQLModel]) -> Any:
    def rule(p: Principal) -> ColumnElement[bool]:
        if not is_finance(p):
            return false()
        return _c(model).kommune_id.in_(_ids(p))

    return rule


def visible_invoice_ids(p: Principal) -> Any:
    """A kommune's issued invoices and credit notes (drafts are internal to the drift unit)."""
    inv = _c(Invoice)
    return select(inv.id).where(and_(inv.kommune_id.in_(_ids(p)), inv.number.is_not(None)))


def _invoice_rule(p: Principal) -> ColumnElement[bool]:
    if not is_finance(p):
        return false()
    inv = _c(Invoice)
    return and_(inv.kommune_id.in_(_ids(p)), inv.number.is_not(None))


def _line_rule(p: Principal) -> ColumnElement[bool]:
    if not is_finance(p):
        return false()
    return _c(InvoiceLine).invoice_id.in_(visible_invoice_ids(p))


def _detail_rule(p: Principal) -> ColumnElement[bool]:
    if not is_finance(p):
        return false()
    lines = select(_c(InvoiceLine).id).where(_c(InvoiceLine).invoice_id.in_(visible_invoice_ids(p)))
    return _c(InvoiceLineDetail).line_id.in_(lines)


def _file_rule(p: Principal) -> ColumnElement[bool]:
    if not is_finance(p):
        return false()
    return _c(InvoiceFile).invoice_id.in_(visible_invoice_ids(p))


def _file_write(p: Principal, _obj: Any, op: str) -> bool:
    """Issued documents are the legal record: written once, never changed or deleted."""
    return op == "create" and is_billing_admin(p)


def _count_item_rule(p: Principal) -> ColumnElement[bool]:
    if not is_finance(p):
        return false()
    snaps = select(_c(CountSnapshot).id).where(_c(CountSnapshot).kommune_id.in_(_ids(p)))
    return _c(CountItem).snapshot_id.in_(snaps)


def install() -> None:
    for model in (Supplier, PriceModelVersion, PriceElement, PriceRate, InhabitantFigure):
        register(model, _public_to_finance, _admin_write, global_read=_drift_read)
    register(InvoiceRun, _public_to_finance, _admin_write, global_read=_drift_read)
    register(NumberSeries, _no_one, _admin_write, global_read=_drift_read)
    register(CountSnapshot, _own_kommune(CountSnapshot), _admin_write, global_read=_drift_read)
    register(CountItem, _count_item_rule, _admin_write, global_read=_drift_read)
    register(Purchase, _own_kommune(Purchase), _admin_write, global_read=_drift_read)
    register(Invoice, _invoice_rule, _admin_write, global_read=_drift_read)
    register(InvoiceLine, _line_rule, _admin_write, global_read=_drift_read)
    register(InvoiceLineDetail, _detail_rule, _admin_write, global_read=_drift_read)
    register(InvoiceFile, _file_rule, _file_write, global_read=_drift_read)


install()

import billing.locks  # noqa: E402,F401  (refuses time entries in invoiced months)
