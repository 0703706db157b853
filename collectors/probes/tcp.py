"""``tcp``: connect to ``host:port``, optionally over TLS, then an optional send/expect dialogue.

Each ``query_response`` step may ``expect`` a regular expression (searched in what arrived since
the previous match, reading until it matches, the connection closes, ``read_limit`` bytes came or
the deadline passes) and then ``send`` text. Example, an SMTP banner::

    query_response: [{expect: "^220 "}, {send: "QUIT\\r\\n"}]
"""

from __future__ import annotations

import socket
import ssl

from pydantic import Field, field_validator

from collectors.metrics import Result
from collectors.probes.base import Deadline, Probe, ProbeError, ProbeOptions, Reason
from collectors.probes.http import FAILED_REGEX, compiled
from collectors.probes.net import (
    IPProtocol,
    connect,
    os_error,
    record_resolved,
    resolve,
    split_host_port,
)
from collectors.probes.tlsinfo import (
    TLSOptions,
    client_context,
    handshake,
    record_presented_after_failure,
    record_session,
)

CERT_REASONS = (Reason.CERT_EXPIRED, Reason.CERT_UNTRUSTED, Reason.CERT_HOSTNAME)


class QueryStep(ProbeOptions):
    expect: str | None = None
    send: str | None = None

    @field_validator("expect")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled(value)
            except Exception as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return value


class TCPOptions(ProbeOptions):
    query_response: tuple[QueryStep, ...] = ()
    tls: bool = False
    tls_config: TLSOptions = Field(default_factory=TLSOptions)
    ip_protocol: IPProtocol = "auto"
    read_limit: int = Field(default=64 * 1024, ge=1)


class TCPProbe(Probe):
    kind = "tcp"
    options_model = TCPOptions

    def check_target(self, address: str, options: TCPOptions) -> None:
        split_host_port(address, None)

    def run(self, address: str, options: TCPOptions, deadline: Deadline, out: Result) -> None:
        host, port = split_host_port(address, None)
        resolved = resolve(host, options.ip_protocol, deadline)
        record_resolved(out, resolved)
        sock: socket.socket = connect(resolved, port, deadline)
        if options.tls:
            name = options.tls_config.server_name or host
            try:
                sock = handshake(sock, client_context(options.tls_config), name, deadline)
            except ProbeError as error:
                if error.reason in CERT_REASONS:
                    record_presented_after_failure(out, resolved, port, name, deadline)
                raise
            assert isinstance(sock, ssl.SSLSocket)
            record_session(out, sock)
        with sock:
            if options.query_response:
                converse(sock, options.query_response, options.read_limit, deadline, out, address)


def converse(
    sock: socket.socket,
    steps: tuple[QueryStep, ...],
    limit: int,
    deadline: Deadline,
    out: Result,
    where: str,
) -> None:
    """Run the send/expect steps; records probe_failed_due_to_regex."""
    buffer, received = "", 0
    for step in steps:
        if step.expect is not None:
            pattern = compiled(step.expect)
            while (match := pattern.search(buffer)) is None:
                chunk = _recv(sock, deadline, where)
                received += len(chunk)
                if not chunk or received > limit:
                    out.set(FAILED_REGEX, 1)
                    why = "connection closed" if not chunk else f"{limit} bytes read"
                    raise ProbeError(Reason.REGEX, f"{where}: {why} before {step.expect!r} matched")
                buffer += chunk.decode("utf-8", errors="replace")
            buffer = buffer[match.end() :]
        if step.send is not None:
            try:
                sock.settimeout(deadline.remaining())
                sock.sendall(step.send.encode())
            except OSError as exc:
                raise os_error(exc, where) from None
    out.set(FAILED_REGEX, 0)


def _recv(sock: socket.socket, deadline: Deadline, where: str) -> bytes:
    try:
        sock.settimeout(deadline.remaining())
        return sock.recv(4096)
    except OSError as exc:
        raise os_error(exc, where) from None
