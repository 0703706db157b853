"""STARTTLS, implicit TLS and AUTH against aiosmtpd with a certificate from a test CA.

The sender verifies the server's certificate with the system's trust store; the tests point
OpenSSL's ``SSL_CERT_FILE`` at their CA, which is also how a site trusts a private CA for its
SMTP relay.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr

from servicedesk.tickets.service.outbox import send_due
from tests.tickets.outbox.conftest import SmtpServer, outbox_rows, queue, smtp_settings
from tests.tickets.outbox.tls import ServerTls, make_tls

PASSWORD = "S3cret-smtp-passord-æøå"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"fellesdrift"
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ServerTls:
    made = make_tls(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(made.ca_file))
    return made


def _server_context(tls: ServerTls) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


@pytest.fixture
def starttls_server(tls: ServerTls):
    server = SmtpServer(
        tls_context=_server_context(tls),
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    ).start()
    yield server
    server.stop()


def test_starttls_and_login_deliver(make, sessions, settings, starttls_server) -> None:
    config = smtp_settings(
        settings,
        starttls_server.port,
        smtp_starttls=True,
        smtp_username="fellesdrift",
        smtp_password=SecretStr(PASSWORD),
    )
    queue(make, "anne@alfa.no", body="Løsning: byttet toner.")

    report = send_due(sessions, config)

    assert report.sent == 1, (report, outbox_rows(make))
    [mail] = starttls_server.received
    assert mail.rcpt_tos == ["anne@alfa.no"]
    assert "Løsning: byttet toner." in mail.message.get_content()


def test_a_wrong_password_is_retried_and_never_logged(
    make, sessions, settings, starttls_server, caplog
) -> None:
    wrong = "feil-passord-som-ikke-skal-logges"
    config = smtp_settings(
        settings,
        starttls_server.port,
        smtp_starttls=True,
        smtp_username="fellesdrift",
        smtp_password=SecretStr(wrong),
    )
    [row] = queue(make, "anne@alfa.no")

    with caplog.at_level(logging.DEBUG):
        report = send_due(sessions, config)

    assert report.retried == 1 and report.sent == 0
    stored = outbox_rows(make)[row.id]  # type: ignore[index]
    assert stored.state == "pending" and "SMTPAuthenticationError: 535" in stored.last_error
    assert wrong not in stored.last_error and wrong not in caplog.text
    assert starttls_server.received == []


def test_plain_connection_to_a_server_demanding_starttls_is_refused(
    make, sessions, settings, starttls_server
) -> None:
    """Without STARTTLS the server refuses the login: nothing goes out in the clear."""
    config = smtp_settings(
        settings,
        starttls_server.port,
        smtp_starttls=False,
        smtp_username="fellesdrift",
        smtp_password=SecretStr(PASSWORD),
    )
    [row] = queue(make, "anne@alfa.no")

    assert send_due(sessions, config).retried == 1
    assert outbox_rows(make)[row.id].last_error  # type: ignore[index]
    assert starttls_server.received == []


def test_starttls_required_but_not_offered_is_retried(
    make, sessions, settings, smtp_server
) -> None:
    config = smtp_settings(settings, smtp_server.port, smtp_starttls=True)
    [row] = queue(make, "anne@alfa.no")

    assert send_due(sessions, config).retried == 1
    assert "STARTTLS extension not supported" in outbox_rows(make)[row.id].last_error  # type: ignore[index]
    assert smtp_server.received == []


def test_an_untrusted_certificate_is_refused(
    make, sessions, settings, starttls_server, tmp_path, monkeypatch
) -> None:
    other_ca = make_tls(tmp_path / "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca.ca_file))
    config = smtp_settings(settings, starttls_server.port, smtp_starttls=True)
    [row] = queue(make, "anne@alfa.no")

    assert send_due(sessions, config).retried == 1
    assert "CERTIFICATE_VERIFY_FAILED" in outbox_rows(make)[row.id].last_error  # type: ignore[index]


def _port_465_free() -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", 465))
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                return False
            raise
    return True


def test_port_465_uses_implicit_tls(make, sessions, settings, tls) -> None:
    if os.geteuid() != 0:
        pytest.fail("binding port 465 needs root: run the suite as root, as CI does")
    assert _port_465_free(), "port 465 on 127.0.0.1 is in use"
    server = SmtpServer(port=465, ssl_context=_server_context(tls)).start()
    try:
        config = smtp_settings(settings, 465, smtp_starttls=False)
        queue(make, "anne@alfa.no")

        assert send_due(sessions, config).sent == 1

        assert [r.rcpt_tos for r in server.received] == [["anne@alfa.no"]]
    finally:
        server.stop()
