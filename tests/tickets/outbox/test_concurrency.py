"""Several senders at once on real PostgreSQL: no notification is sent twice or left out."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from fellesdrift.kernel.types import utcnow
from register.access import Principal, bind
from servicedesk.tickets.service import outbox
from servicedesk.tickets.service.outbox import SendReport, send_due
from tests.tickets.outbox.conftest import outbox_rows, queue

ROWS = 60


def test_two_senders_never_send_one_row_twice(make, sessions, mail_settings, smtp_server) -> None:
    # A slow server keeps both senders busy at the same time for the whole batch.
    smtp_server.recorder.delay = 0.02
    rows = queue(make, *(f"person{i}@alfa.no" for i in range(ROWS)))
    start = threading.Barrier(2)

    def worker() -> SendReport:
        start.wait(10)
        return send_due(sessions, mail_settings, batch=ROWS)

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: worker(), range(2))

    sent = Counter(r.notification_id for r in smtp_server.received)
    assert sorted(sent) == sorted(r.id or 0 for r in rows)
    assert set(sent.values()) == {1}, [i for i, n in sent.items() if n > 1]
    assert a.sent + b.sent == ROWS
    assert a.sent > 0 and b.sent > 0, "the two senders did not overlap"
    assert a.taken_elsewhere + b.taken_elsewhere > 0  # they did compete for rows
    assert {n.state for n in outbox_rows(make).values()} == {"sent"}


def test_one_row_claimed_by_many_at_once_goes_to_exactly_one(make, sessions) -> None:
    """The claim itself, raced by eight sessions per row: one UPDATE wins, the others see that
    the row is no longer due."""
    rows = queue(make, *(f"person{i}@alfa.no" for i in range(10)))
    now = utcnow()

    def claim(row_id: int, start: threading.Barrier) -> bool:
        with bind(sessions(), Principal.system("race")) as session:
            start.wait(10)
            return outbox._claim(session, row_id, now) is not None

    for row in rows:
        start = threading.Barrier(8)
        with ThreadPoolExecutor(8) as pool:
            winners = sum(pool.map(lambda _: claim(row.id, start), range(8)))  # type: ignore[arg-type]  # noqa: B023
        assert winners == 1, f"row {row.id}: {winners} workers claimed it"
    assert {n.attempts for n in outbox_rows(make).values()} == {1}
