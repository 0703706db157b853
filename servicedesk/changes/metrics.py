"""Change metrics on the service desk's ``/metrics``: changes by state and type, how many
ended in success or failure (and the success rate), and the share of emergency changes.
Registered with :data:`servicedesk.tickets.metrics.EXTRA_FAMILIES` at import."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func
from sqlmodel import Session, col, select

from servicedesk.changes.choices import ChangeState, ChangeType
from servicedesk.changes.models import ChangeRecord
from servicedesk.tickets.metrics import EXTRA_FAMILIES
from servicedesk.tickets.models import TicketEntry

#: States that say an implementation went wrong (a change may go on to review and close).
_FAILED = frozenset({ChangeState.FAILED.value, ChangeState.BACKED_OUT.value})


def _ended(session: Session) -> tuple[int, int]:
    """Changes whose implementation ended (success, failure): a change failed if it ever
    entered failed or backed out, whatever state it is in now."""
    ended = list(
        session.exec(select(ChangeRecord.ticket_id).where(col(ChangeRecord.actual_end).isnot(None)))
    )
    if not ended:
        return 0, 0
    moves = session.exec(
        select(TicketEntry.ticket_id, TicketEntry.change).where(
            col(TicketEntry.ticket_id).in_(ended)
        )
    )
    failed = {
        ticket_id
        for ticket_id, change in moves
        if change.get("field") == "change_state" and change.get("new") in _FAILED
    }
    return len(ended) - len(failed), len(failed)


def change_families(session: Session) -> Iterator[Metric]:
    rows = session.exec(
        select(ChangeRecord.state, ChangeRecord.change_type, func.count()).group_by(
            col(ChangeRecord.state), col(ChangeRecord.change_type)
        )
    )
    counts = {(state, kind): int(n) for state, kind, n in rows}
    by_state = GaugeMetricFamily(
        "fellesdrift_changes", "Changes by state and type", labels=["state", "type"]
    )
    for state in ChangeState:
        for kind in ChangeType:
            by_state.add_metric([state.value, kind.value], counts.get((state, kind), 0))
    yield by_state
    success, failure = _ended(session)
    ended = CounterMetricFamily(
        "fellesdrift_changes_ended",
        "Changes whose implementation ended, by outcome (failed: failed or backed out)",
        labels=["outcome"],
    )
    ended.add_metric(["success"], success)
    ended.add_metric(["failure"], failure)
    yield ended
    yield GaugeMetricFamily(
        "fellesdrift_changes_success_ratio",
        "Share of ended changes that succeeded (NaN before the first one ends)",
        value=success / (success + failure) if success + failure else float("nan"),
    )
    submitted = {k: n for k, n in counts.items() if k[0] != ChangeState.DRAFT.value}
    total = sum(submitted.values())
    emergencies = sum(n for (_, kind), n in submitted.items() if kind == ChangeType.EMERGENCY)
    yield GaugeMetricFamily(
        "fellesdrift_changes_emergency_ratio",
        "Share of emergency changes among submitted changes (drafts left out)",
        value=emergencies / total if total else 0.0,
    )


EXTRA_FAMILIES.append(change_families)
