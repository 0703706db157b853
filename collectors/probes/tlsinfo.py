"""TLS for the probes: client contexts, the certificate chain, expiry metrics and error reasons.

Expiry is about the certificates the site operator must renew: the leaf and the intermediates.
A root (self-signed trust anchor) is excluded: its expiry is the trust store's business, and a
root that expires while a cross-signed path exists must not page anyone (the AddTrust case).

* ``probe_ssl_earliest_cert_expiry``: earliest ``notAfter`` among the certificates the server
  presented, self-signed ones left out.
* ``probe_ssl_last_chain_expiry_timestamp_seconds``: earliest ``notAfter`` in the verified chain,
  the trust anchor left out (only when the chain was verified).
"""

from __future__ import annotations

import _ssl
import hashlib
import os
import socket
import ssl
import threading
from collections.abc import Iterable
from typing import Any, Literal

from cryptography import x509

from collectors.metrics import Result, spec
from collectors.probes.base import Deadline, ProbeError, ProbeOptions, Reason
from collectors.probes.net import Resolved, connect, os_error

EARLIEST_EXPIRY = spec(
    "probe_ssl_earliest_cert_expiry", "Returns earliest SSL cert expiry in unixtime"
)
CHAIN_EXPIRY = spec(
    "probe_ssl_last_chain_expiry_timestamp_seconds", "Returns last SSL chain expiry in timestamp"
)
CHAIN_INFO = spec(
    "probe_ssl_last_chain_info",
    "Contains SSL leaf certificate information",
    "fingerprint_sha256",
    "subject",
    "issuer",
    "subjectalternative",
    "serialnumber",
)
TLS_VERSION = spec(
    "probe_tls_version_info", "Returns the TLS version used or NaN when unknown", "version"
)

_VERSIONS = {
    "TLS1.0": ssl.TLSVersion.TLSv1,
    "TLS1.1": ssl.TLSVersion.TLSv1_1,
    "TLS1.2": ssl.TLSVersion.TLSv1_2,
    "TLS1.3": ssl.TLSVersion.TLSv1_3,
}
_EXPIRED = {9, 10}  # X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED
_HOSTNAME = {62}  # X509_V_ERR_HOSTNAME_MISMATCH


class TLSOptions(ProbeOptions):
    """TLS client settings shared by the http, tcp and tls probes."""

    ca_file: str | None = None  # PEM bundle of trusted CAs; default: the system store
    insecure_skip_verify: bool = False
    server_name: str | None = None  # SNI and name to verify; default: the target's host
    min_version: Literal["TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"] | None = None
    cert_file: str | None = None  # client certificate (mutual TLS)
    key_file: str | None = None


_cache_lock = threading.Lock()
_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}


def _mtime(path: str | None) -> float:
    return os.stat(path).st_mtime if path else 0.0


def client_context(opts: TLSOptions) -> ssl.SSLContext:
    """A client SSLContext for ``opts``, cached (loading a CA store costs milliseconds) and
    rebuilt when the CA or certificate file changes."""
    try:
        key = (opts, _mtime(opts.ca_file), _mtime(opts.cert_file))
    except OSError as exc:
        raise ProbeError(Reason.TLS, f"cannot read TLS file: {exc}") from None
    with _cache_lock:
        ctx = _contexts.get(key)
        if ctx is None:
            if len(_contexts) >= 256:  # files changed many times: start afresh
                _contexts.clear()
            ctx = _new_context(opts)
            _contexts[key] = ctx
        return ctx


def _new_context(opts: TLSOptions) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=opts.ca_file)
        if opts.cert_file:
            ctx.load_cert_chain(opts.cert_file, opts.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ProbeError(Reason.TLS, f"cannot load TLS files: {exc}") from None
    if opts.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if opts.min_version:
        ctx.minimum_version = _VERSIONS[opts.min_version]
    return ctx


def _der_list(chain: Iterable[Any] | None) -> list[bytes]:
    result = []
    for cert in chain or ():
        result.append(cert if isinstance(cert, bytes) else cert.public_bytes(_ssl.ENCODING_DER))
    return result


def peer_chain(sock: ssl.SSLSocket | ssl.SSLObject) -> tuple[list[bytes], list[bytes]]:
    """(presented, verified) certificate chains as DER, leaf first. ``verified`` is empty when
    verification was off. Python 3.13 made these public; 3.11 and 3.12 have them on ``_sslobj``."""
    impl: Any = sock if hasattr(sock, "get_verified_chain") else getattr(sock, "_sslobj", None)
    if impl is None or not hasattr(impl, "get_unverified_chain"):
        leaf = sock.getpeercert(binary_form=True)
        return ([leaf] if leaf else []), []
    verified = impl.get_verified_chain() if sock.context.verify_mode != ssl.CERT_NONE else None
    return _der_list(impl.get_unverified_chain()), _der_list(verified)


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def record_chain(out: Result, presented: list[bytes], verified: list[bytes]) -> None:
    """Expiry and leaf information from the chains (see the module docstring)."""
    certs = [x509.load_der_x509_certificate(der) for der in presented]
    renewable = [c for c in certs if not _self_signed(c)] or certs[:1]
    if renewable:
        out.set(EARLIEST_EXPIRY, min(c.not_valid_after_utc.timestamp() for c in renewable))
    if verified:
        chain = [x509.load_der_x509_certificate(der) for der in verified]
        without_anchor = chain[:-1] if len(chain) > 1 else chain
        out.set(CHAIN_EXPIRY, min(c.not_valid_after_utc.timestamp() for c in without_anchor))
    if certs:
        _record_leaf(out, certs[0], presented[0])


def _record_leaf(out: Result, leaf: x509.Certificate, der: bytes) -> None:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = ",".join(str(v) for v in san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ""
    out.set(
        CHAIN_INFO,
        1,
        hashlib.sha256(der).hexdigest(),
        leaf.subject.rfc4514_string(),
        leaf.issuer.rfc4514_string(),
        names,
        format(leaf.serial_number, "x"),
    )


def record_session(out: Result, sock: ssl.SSLSocket | ssl.SSLObject) -> None:
    """TLS version and certificate metrics of an established connection."""
    version = sock.version() or ""
    out.set(TLS_VERSION, 1, version.replace("TLSv", "TLS ").replace("SSLv", "SSL "))
    presented, verified = peer_chain(sock)
    record_chain(out, presented, verified)


def tls_error(exc: BaseException, where: str) -> ProbeError | None:
    """The ProbeError for an SSL failure somewhere in ``exc``'s chain, or None if none is."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            code, message = seen.verify_code, seen.verify_message
            if code in _EXPIRED:
                return ProbeError(Reason.CERT_EXPIRED, f"{where}: {message}")
            if code in _HOSTNAME:
                return ProbeError(Reason.CERT_HOSTNAME, f"{where}: {message}")
            return ProbeError(Reason.CERT_UNTRUSTED, f"{where}: {message}")
        if isinstance(seen, ssl.SSLError):
            return ProbeError(Reason.TLS, f"{where}: {seen.reason or seen}")
        seen = seen.__cause__ or seen.__context__
    return None


def handshake(
    sock: socket.socket, ctx: ssl.SSLContext, server_name: str, deadline: Deadline
) -> ssl.SSLSocket:
    """Wrap ``sock`` and complete the handshake; the socket is closed on failure."""
    try:
        sock.settimeout(deadline.remaining())
        tls = ctx.wrap_socket(sock, server_hostname=server_name)
    except ProbeError:
        sock.close()
        raise
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise (tls_error(exc, server_name) or os_error(exc, server_name)) from None
    return tls


def record_presented_after_failure(
    out: Result, resolved: Resolved, port: int, server_name: str, deadline: Deadline
) -> None:
    """After a certificate verification failure, fetch the chain once more without verifying, so
    the expiry of an expired or untrusted certificate is still visible. Best effort."""
    if deadline.left() <= 0:
        return
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with handshake(connect(resolved, port, deadline), ctx, server_name, deadline) as tls:
            presented, _ = peer_chain(tls)
    except ProbeError:
        return
    record_chain(out, presented, [])
