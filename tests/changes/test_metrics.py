"""Change metrics on /metrics, read from the demo's changes on SQLite: counts by state and
type, the ended ones by outcome and the success rate, the share of emergencies."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from sqlmodel import Session, select

from fellesdrift.kernel.db import make_engine
from fellesdrift.kernel.settings import load_settings
from register import demo
from register.access import Principal, bind
from register.models import User
from servicedesk.changes import demo as change_demo
from servicedesk.changes.choices import ChangeState
from servicedesk.changes.models import ChangeRecord
from servicedesk.tickets.metrics import registry_for
from servicedesk.tickets.models import Ticket
from tests.tickets.test_metrics import parse, value


def test_changes_by_state_and_type_success_rate_and_emergencies(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = make_engine(sqlite_url)
    settings = load_settings(
        database_url=sqlite_url, data_dir=tmp_path, secret_key="x" * 40, base_url="http://t"
    )
    try:
        with bind(Session(engine), Principal.system("test")) as session:
            demo.load(session)
            change_demo.load(session)
            session.commit()
            # The approved normal change is carried out and fails.
            record = session.exec(
                select(ChangeRecord).where(
                    ChangeRecord.change_type == "normal", ChangeRecord.state == "approved"
                )
            ).one()
            ticket = session.get(Ticket, record.ticket_id)
            assert ticket is not None
            maker = session.get(User, ticket.requester_id)
            assert maker is not None
            change_demo.move(
                session,
                maker,
                record.ticket_id,
                ChangeState.SCHEDULED,
                ChangeState.IN_PROGRESS,
                ChangeState.FAILED,
            )
            session.commit()
        samples = parse(generate_latest(registry_for(engine, settings)).decode())
    finally:
        engine.dispose()
    assert value(samples, "fellesdrift_changes", state="failed", type="normal") == 1
    assert value(samples, "fellesdrift_changes", state="approved", type="standard") == 1
    assert value(samples, "fellesdrift_changes", state="closed", type="emergency") == 1
    assert value(samples, "fellesdrift_changes", state="submitted", type="normal") == 1
    assert value(samples, "fellesdrift_changes", state="draft", type="normal") == 0
    assert value(samples, "fellesdrift_changes_ended_total", outcome="success") == 1
    assert value(samples, "fellesdrift_changes_ended_total", outcome="failure") == 1
    assert value(samples, "fellesdrift_changes_success_ratio") == 0.5
    assert value(samples, "fellesdrift_changes_emergency_ratio") == 0.25
    # The ticket counts know nothing of changes.
    assert not [
        k for k in samples if k[0].startswith("fellesdrift_tickets") and ("type", "change") in k[1]
    ]
