"""Who sees and changes tickets' SLA clocks: whoever sees the ticket sees its clocks (the
requester sees "svar innen" and "løst innen"); a clock moves with whoever moves its ticket,
and its history is append-only. Nobody deletes either."""

from __future__ import annotations

from typing import Any

from register.access import Principal, register
from servicedesk.tickets.clock_models import TicketClock, TicketClockEvent
from servicedesk.tickets.rules import _child_rule, _ticket_visible


def _moves_with_ticket(_p: Principal, obj: Any, op: str) -> bool:
    return op in ("create", "update") and _ticket_visible(obj)


def _append_only(_p: Principal, obj: Any, op: str) -> bool:
    return op == "create" and _ticket_visible(obj)


def _install() -> None:
    clocks, events = _child_rule(TicketClock, False), _child_rule(TicketClockEvent, False)
    register(TicketClock, clocks, _moves_with_ticket, global_read=clocks)
    register(TicketClockEvent, events, _append_only, global_read=events)


_install()
