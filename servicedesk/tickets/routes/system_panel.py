"""The open tickets on a system, as a panel on the register's system page (``/systemer/{id}``):
the register may not import the service desk, so the service desk adds the panel to it
(``register.panels``). What the panel lists is what the viewer may see: the page's session is
bound to them, so the access layer leaves out other kommuner' tickets of a contact and TLP:RED
tickets they are not named on."""

from __future__ import annotations

from fastapi import Request
from markupsafe import Markup
from sqlmodel import Session, col, func, select

from fellesdrift.kernel.web import render_fragment
from register.access import principal_of
from register.models import ConfigItem
from register.panels import add_ci_panel
from servicedesk.tickets.choices import OPEN_STATUSES
from servicedesk.tickets.models import Ticket, TicketCI
from servicedesk.tickets.routes.portal_common import kommune_names

#: Tickets shown at most; the count says how many more there are.
SHOWN = 25


@add_ci_panel
def open_tickets_on_system(request: Request, db: Session, ci: ConfigItem) -> Markup | None:
    on_ci = select(TicketCI.ticket_id).where(TicketCI.ci_id == ci.id)
    where = (col(Ticket.id).in_(on_ci), col(Ticket.status).in_([s.value for s in OPEN_STATUSES]))
    total = db.exec(select(func.count(col(Ticket.id))).where(*where)).one()
    rows = list(
        db.exec(
            select(Ticket)
            .where(*where)
            .order_by(col(Ticket.priority), col(Ticket.id).desc())
            .limit(SHOWN)
        )
    )
    drift = principal_of(db).is_drift
    return render_fragment(
        request,
        "tickets/system_panel.html",
        ci=ci,
        tickets=rows,
        total=total,
        kommuner=kommune_names(db, (t.kommune_id for t in rows)),
        base="/arbeid/saker/" if drift else "/saker/",
    )
