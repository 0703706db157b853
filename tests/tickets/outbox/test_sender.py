"""The outbox sender against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest

from fellesdrift.kernel.problems import Problem
from fellesdrift.kernel.types import utcnow
from servicedesk.tickets.schemas import ReplyIn, TicketCreate
from servicedesk.tickets.service import core, lifecycle, outbox
from servicedesk.tickets.service.outbox import LEASE, RetryPolicy, send_due
from tests.tickets.outbox.conftest import SENDER, outbox_rows, queue, smtp_settings

LATER = timedelta(hours=5)  # past the longest backoff of one retry


def test_a_reply_reaches_the_requester_with_norwegian_subject_and_headers(
    world, as_user, make, sessions, mail_settings, smtp_server
) -> None:
    anne, agent = as_user(world.user_a), as_user(world.agent)
    title = "Skriveren på rådhuset i Øvre Årdal virker ikke"
    ticket = core.create_ticket(anne, TicketCreate(title=title))
    anne.commit()
    assert ticket.id is not None
    lifecycle.reply(agent, ticket.id, ReplyIn(body="Vi har bestilt ny toner – hilsen Åse"))
    agent.commit()

    report = send_due(sessions, mail_settings)

    assert report.sent == 1 and report.failed == report.retried == 0, report
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["anne@alfa.no"]
    assert mail.mail_from == "drift@knutepunkt.no"
    message = mail.message
    assert message["Subject"] == f"[TLP:AMBER] Nytt svar i sak #{ticket.id}: {title}"
    assert message["To"] == "anne@alfa.no"
    assert message["From"] == SENDER
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["References"] == f"<ticket.{ticket.id}@knutepunkt.no>"
    assert str(message["Message-ID"]).endswith(".notification@knutepunkt.no>")
    assert abs(parsedate_to_datetime(str(message["Date"])) - utcnow()) < timedelta(minutes=1)
    body = message.get_content()
    assert "Vi har bestilt ny toner – hilsen Åse" in body and title in body
    # On the wire the headers are plain ASCII (RFC 2047), whatever the server supports.
    head = mail.data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head
    [row] = [n for n in outbox_rows(make).values() if n.email == "anne@alfa.no"]
    assert row.state == "sent" and row.sent_at is not None and row.attempts == 1


def test_smtp_down_is_retried_later_and_delivered_when_it_is_back(
    make, sessions, settings, smtp_server
) -> None:
    mail_settings = smtp_settings(settings, smtp_server.port)
    rows = queue(make, "a@alfa.no", "b@alfa.no", "c@alfa.no")
    smtp_server.stop()
    now = utcnow()

    down = send_due(sessions, mail_settings, now=now)

    # The first row found the server down; the rest were not even tried (and lost no attempt).
    assert (down.sent, down.retried, down.left_pending) == (0, 1, 2), down
    stored = outbox_rows(make)
    first = stored[rows[0].id]  # type: ignore[index]
    assert first.state == "pending" and first.attempts == 1
    assert "ConnectionRefused" in first.last_error
    assert now + timedelta(seconds=29) <= first.next_attempt_at <= now + timedelta(minutes=1)
    assert all(stored[r.id].attempts == 0 for r in rows[1:])  # type: ignore[index]

    smtp_server.start()
    back = send_due(sessions, mail_settings, now=now + LATER)

    assert back.sent == 3, back
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [
        "a@alfa.no",
        "b@alfa.no",
        "c@alfa.no",
    ]
    assert {n.state for n in outbox_rows(make).values()} == {"sent"}


def test_a_refused_recipient_fails_after_the_retries_and_the_others_go(
    make, sessions, mail_settings, smtp_server, caplog
) -> None:
    smtp_server.recorder.refused.add("sluttet@alfa.no")
    rows = queue(make, "anne@alfa.no", "sluttet@alfa.no", "bjorn@beta.no")
    policy = RetryPolicy(max_attempts=3)
    now = utcnow()

    first = send_due(sessions, mail_settings, now=now, policy=policy)
    assert (first.sent, first.retried, first.failed) == (2, 1, 0), first
    second = send_due(sessions, mail_settings, now=now + LATER, policy=policy)
    assert (second.sent, second.retried, second.failed) == (0, 1, 0), second
    with caplog.at_level(logging.ERROR, "fellesdrift.outbox"):
        third = send_due(sessions, mail_settings, now=now + 2 * LATER, policy=policy)
    assert (third.sent, third.retried, third.failed) == (0, 0, 1), third
    assert send_due(sessions, mail_settings, now=now + 10 * LATER, policy=policy).sent == 0

    bad = outbox_rows(make)[rows[1].id]  # type: ignore[index]
    assert bad.state == "failed" and bad.attempts == 3
    assert bad.last_error.startswith("recipient refused: 550 5.1.1")
    assert f"notification {bad.id} failed after 3 attempts" in caplog.text
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == ["anne@alfa.no", "bjorn@beta.no"]


def test_without_smtp_nothing_is_claimed_and_the_count_says_so(make, sessions, settings) -> None:
    queue(make, "anne@alfa.no", "bjorn@beta.no")

    report = send_due(sessions, settings)

    assert not report.smtp_configured and report.left_pending == 2
    assert "SMTP not configured" in str(report)
    assert {(n.state, n.attempts) for n in outbox_rows(make).values()} == {("pending", 0)}
    with make.session() as admin_view:
        state = outbox.status(admin_view, settings)
    assert (state.smtp_configured, state.pending, state.due) == (False, 2, 2)


def test_a_claimed_row_waits_for_its_lease_and_is_then_sent(
    make, sessions, mail_settings, smtp_server
) -> None:
    """A worker that died after claiming a row (before or after sending it) does not lose it:
    after the lease another run sends it (at least once, never zero times)."""
    [row] = queue(make, "anne@alfa.no")
    now = utcnow()
    with make.session() as dead_worker:
        assert outbox._claim(dead_worker, row.id, now) is not None  # type: ignore[arg-type]

    assert send_due(sessions, mail_settings, now=now + LEASE / 2).sent == 0
    assert send_due(sessions, mail_settings, now=now + LEASE + timedelta(seconds=1)).sent == 1
    assert [r.rcpt_tos for r in smtp_server.received] == [["anne@alfa.no"]]
    assert outbox_rows(make)[row.id].attempts == 2  # type: ignore[index]


def test_a_line_break_in_a_title_cannot_add_headers(make, sessions, mail_settings, smtp_server):
    queue(make, "anne@alfa.no", subject="Sak #1: Hei\r\nBcc: spion@example.com")

    assert send_due(sessions, mail_settings).sent == 1

    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["anne@alfa.no"]
    assert mail.message["Bcc"] is None
    assert mail.message["Subject"] == "Sak #1: Hei Bcc: spion@example.com"


def test_a_malformed_address_fails_at_once_and_the_rest_go(
    make, sessions, mail_settings, smtp_server
) -> None:
    rows = queue(make, "ikke en adresse", "anne@alfa.no")

    report = send_due(sessions, mail_settings)

    assert (report.sent, report.failed, report.retried) == (1, 1, 0)
    bad = outbox_rows(make)[rows[0].id]  # type: ignore[index]
    assert bad.state == "failed" and "invalid e-mail address" in bad.last_error


def test_an_international_domain_is_sent_in_ascii(make, sessions, mail_settings, smtp_server):
    queue(make, "postmottak@bø.kommune.no")

    assert send_due(sessions, mail_settings).sent == 1

    assert smtp_server.received[0].rcpt_tos == ["postmottak@xn--b-5ga.kommune.no"]


def test_admins_see_failed_notifications_and_requeue_them(
    world, make, as_user, sessions, mail_settings, smtp_server
) -> None:
    smtp_server.recorder.refused.add("sluttet@alfa.no")
    [row] = queue(make, "sluttet@alfa.no")
    send_due(sessions, mail_settings, policy=RetryPolicy(max_attempts=1))
    admin = make.user(None, "admin", username="admin1")

    state = outbox.status(as_user(admin), mail_settings)
    assert state.failed == 1 and [r.id for r in state.failed_rows] == [row.id]
    with pytest.raises(Problem) as refused:
        outbox.requeue(as_user(world.agent), [row.id])  # type: ignore[list-item]
    assert refused.value.status == 403

    smtp_server.recorder.refused.clear()
    admin_session = as_user(admin)
    assert outbox.requeue(admin_session, [row.id]) == [row.id]  # type: ignore[list-item]
    admin_session.commit()
    assert send_due(sessions, mail_settings).sent == 1
    assert outbox_rows(make)[row.id].state == "sent"  # type: ignore[index]


def test_the_outbox_api_is_for_admins(
    world, make, api, sessions, mail_settings, smtp_server
) -> None:
    smtp_server.recorder.refused.add("sluttet@alfa.no")
    [failed] = queue(make, "sluttet@alfa.no", subject="[TLP:RED] Hemmelig tittel")
    send_due(sessions, mail_settings, policy=RetryPolicy(max_attempts=1))
    queue(make, "venter@alfa.no")
    admin = make.user(None, "admin", username="admin1")

    response = api(admin).get("/api/v1/outbox")

    assert response.status_code == 200, response.text
    body = response.json()
    # The app under test has no SMTP server configured: the answer says so.
    assert (body["smtp_configured"], body["pending"], body["failed"]) == (False, 1, 1)
    [item] = body["failed_items"]
    assert item["id"] == failed.id and item["email"] == "sluttet@alfa.no"
    assert item["last_error"].startswith("recipient refused: 550")
    assert "Hemmelig" not in response.text
    assert api(world.agent).get("/api/v1/outbox").status_code == 403
    assert api(world.contact_a).get("/api/v1/outbox").status_code == 403
    assert (
        api(world.user_a).post("/api/v1/outbox/requeue", json={"ids": [failed.id]}).status_code
        == 403
    )

    requeued = api(admin).post("/api/v1/outbox/requeue", json={"ids": [failed.id, 999]})

    assert requeued.status_code == 200 and requeued.json() == {"requeued": [failed.id]}
    after = api(admin).get("/api/v1/outbox").json()
    assert (after["pending"], after["failed"]) == (2, 0)


def test_a_bad_sender_setting_fails_the_run_and_keeps_every_row(
    make, sessions, mail_settings, smtp_server
) -> None:
    queue(make, "anne@alfa.no")
    broken = mail_settings.model_copy(update={"smtp_from": "drift-uten-domene"})

    with pytest.raises(ValueError, match="FELLESDRIFT_SMTP_FROM='drift-uten-domene'"):
        send_due(sessions, broken)

    assert {(n.state, n.attempts) for n in outbox_rows(make).values()} == {("pending", 0)}
    assert smtp_server.received == []
