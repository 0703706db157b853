"""The SMTP side of the outbox: one message per notification, and the connection it goes on.

* :func:`build_message`: From, To, Subject (RFC 2047, so Norwegian letters pass any server),
  Date, a stable Message-ID, ``Auto-Submitted: auto-generated``; a text body in
  quoted-printable; header values on one line (a title cannot add headers).
* :class:`Mailer`: STARTTLS when ``smtp_starttls`` (certificate and host name verified against
  the system's trust store; ``SSL_CERT_FILE`` points it at a private CA), implicit TLS on port
  465, ``AUTH`` when ``smtp_username`` is set. The password is used for ``AUTH`` only.
* :class:`PermanentError` (the row cannot become a message: no retry helps) and
  :class:`ConnectionTrouble` (the server could not be reached or used: the batch waits).
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr

from fellesdrift.kernel.settings import Settings
from servicedesk.tickets.models import Notification

SMTP_TIMEOUT = 30.0
IMPLICIT_TLS_PORT = 465


class PermanentError(Exception):
    """The row itself cannot become a message (e.g. a malformed address): no retry helps."""


class ConnectionTrouble(Exception):
    """The SMTP server could not be reached or used; the rest of the batch waits."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def describe_error(exc: BaseException, settings: Settings) -> str:
    """A one-line error for ``last_error`` and the log, without secrets."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        text = f"recipient refused: {code} {_text(reply)}"
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    password = settings.smtp_password.get_secret_value()
    if password:
        text = text.replace(password, "***")
    return " ".join(text.split())[:1000]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# ---- the message ------------------------------------------------------------------------------


def envelope_sender(settings: Settings) -> str:
    """The envelope sender from ``smtp_from``; ValueError naming the setting if it is no
    address."""
    address = parseaddr(settings.smtp_from)[1]
    local, at, domain = address.rpartition("@")
    try:
        if not (local and at and "." in domain):
            raise PermanentError("no address")
        return _ascii_address(address)
    except PermanentError:
        raise ValueError(
            f"FELLESDRIFT_SMTP_FROM={settings.smtp_from!r} is not an e-mail address; use e.g. "
            "'fellesdrift <noreply@drift.example.no>'"
        ) from None


def _ascii_address(address: str) -> str:
    """The address with an internationalised domain (e.g. bø.kommune.no) in its ASCII form, so
    servers without SMTPUTF8 accept it."""
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as exc:
        raise PermanentError(f"invalid e-mail domain in {address!r}") from exc


def _valid_recipient(address: str) -> str:
    address = address.strip()
    name, parsed = parseaddr(address)
    local, at, domain = parsed.rpartition("@")
    if not at or not local or "." not in domain or parsed != address or name:
        raise PermanentError(f"invalid e-mail address {address!r}")
    return _ascii_address(parsed)


def _one_line(value: str) -> str:
    # A line break in a header would end it (header injection); titles are free text.
    return " ".join(value.split())


def message_domain(settings: Settings) -> str:
    domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2]
    return domain or "fellesdrift.invalid"


def build_message(row: Notification, settings: Settings, now: datetime) -> tuple[EmailMessage, str]:
    """The e-mail for one outbox row, and its recipient."""
    recipient = _valid_recipient(row.email)
    domain = message_domain(settings)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = settings.smtp_from
    message["To"] = recipient
    message["Subject"] = _one_line(row.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{row.created_at:%Y%m%d%H%M%S}.{row.id}.notification@{domain}>"
    # RFC 3834: no vacation replies or bounces-to-sender loops; the Exchange equivalent.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    if row.ticket_id is not None:
        # Every message about one ticket refers to the same id, so mail clients thread them.
        message["References"] = f"<ticket.{row.ticket_id}@{domain}>"
        message["X-Fellesdrift-Ticket"] = str(row.ticket_id)
    body = row.body if row.body.endswith("\n") else row.body + "\n"
    # Quoted-printable: safe through servers that do not announce 8BITMIME.
    message.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    return message, recipient


# ---- SMTP -------------------------------------------------------------------------------------


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """``AUTH``; smtplib sends credentials as ASCII only, so a user name or password with
    other characters (æ, ø, å) goes as UTF-8 in ``AUTH PLAIN`` (RFC 4616) instead."""
    if username.isascii() and password.isascii():
        smtp.login(username, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        raise smtplib.SMTPException(
            "the SMTP credentials contain non-ASCII characters and the server offers no AUTH PLAIN"
        )
    token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode())
    code, reply = smtp.docmd("AUTH", "PLAIN " + token.decode("ascii"))
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


class Mailer:
    """One SMTP connection for a run, opened at the first message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if s.smtp_port == IMPLICIT_TLS_PORT:
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT, context=context
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT)
                if s.smtp_starttls:
                    smtp.starttls(context=context)
            if s.smtp_username:
                _login(smtp, s.smtp_username, s.smtp_password.get_secret_value())
        except BaseException as exc:
            if smtp is not None:
                smtp.close()
            if isinstance(exc, (smtplib.SMTPException, OSError)):
                raise ConnectionTrouble(exc) from None
            raise
        return smtp

    def check(self) -> None:
        """Connect and log in, then leave: ConnectionTrouble if the server cannot be used."""
        self.close()
        self.smtp = self._connect()
        self.close()

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        fresh = self.smtp is None
        if self.smtp is None:
            self.smtp = self._connect()
        try:
            self.smtp.send_message(message, sender, [recipient])
        except smtplib.SMTPServerDisconnected as exc:
            # A kept-open connection may have been closed by the server (idle timeout,
            # messages-per-connection limit): reconnect once for this message.
            self.smtp = None
            if fresh:
                raise ConnectionTrouble(exc) from None
            self.smtp = self._connect()
            self._send_on_fresh(message, sender, recipient)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the connection
                self.close()
                raise ConnectionTrouble(exc) from None
            raise  # about this message only (e.g. 550 for the recipient)
        except smtplib.SMTPException:
            raise
        except OSError as exc:  # the socket, not the message
            self.close()
            raise ConnectionTrouble(exc) from None

    def _send_on_fresh(self, message: EmailMessage, sender: str, recipient: str) -> None:
        assert self.smtp is not None
        try:
            self.smtp.send_message(message, sender, [recipient])
        except smtplib.SMTPServerDisconnected as exc:
            self.smtp = None
            raise ConnectionTrouble(exc) from None

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
