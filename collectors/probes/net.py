"""Shared network steps of the probes: parse host:port, resolve with timing, connect, map errors."""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from collectors.metrics import Result, spec
from collectors.probes.base import Deadline, ProbeError, Reason

IPProtocol = Literal["auto", "ip4", "ip6"]

DNS_LOOKUP_TIME = spec(
    "probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds"
)
IP_PROTOCOL = spec("probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6")
IP_ADDR_HASH = spec(
    "probe_ip_addr_hash",
    "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
)

_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL}


def split_host_port(address: str, default_port: int | None) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port)."""
    address = address.strip()
    if not address:
        raise ValueError("empty address")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        pass
    else:
        if default_port is None:
            raise ValueError(f"{address}: a port is required")
        return address, default_port
    parts = urlsplit("//" + address)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{address}: bad port ({exc})") from None
    host = parts.hostname
    if not host or parts.username or parts.path or parts.query or parts.fragment:
        raise ValueError(f"{address}: expected host or host:port")
    if port is None:
        if default_port is None:
            raise ValueError(f"{address}: a port is required (host:port)")
        port = default_port
    return host, port


@dataclass(frozen=True)
class Resolved:
    host: str
    ip: str
    family: socket.AddressFamily
    lookup_seconds: float

    @property
    def protocol(self) -> int:
        return 6 if self.family == socket.AF_INET6 else 4


def resolve(host: str, ip_protocol: IPProtocol, deadline: Deadline) -> Resolved:
    """Resolve ``host`` to one address, timed. getaddrinfo cannot be given a timeout: a broken
    resolver can overrun the deadline, which the runner's watchdog then reports as a timeout."""
    deadline.remaining()
    family = {"ip4": socket.AF_INET, "ip6": socket.AF_INET6}.get(ip_protocol, socket.AF_UNSPEC)
    started = time.perf_counter()
    try:
        infos = socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProbeError(Reason.DNS, f"cannot resolve {host}: {exc.strerror}") from None
    elapsed = time.perf_counter() - started
    if not infos:
        raise ProbeError(Reason.DNS, f"no address for {host}")
    fam, _, _, _, sockaddr = infos[0]
    return Resolved(host, str(sockaddr[0]), fam, elapsed)


def record_resolved(out: Result, resolved: Resolved) -> None:
    out.set(DNS_LOOKUP_TIME, resolved.lookup_seconds)
    out.set(IP_PROTOCOL, resolved.protocol)
    out.set(IP_ADDR_HASH, fnv32a(resolved.ip))


def fnv32a(text: str) -> int:
    """FNV-1a 32-bit, as blackbox_exporter uses for probe_ip_addr_hash."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def connect(resolved: Resolved, port: int, deadline: Deadline) -> socket.socket:
    """A connected TCP socket (timeout set to what is left) or ProbeError."""
    sock = socket.socket(resolved.family, socket.SOCK_STREAM)
    try:
        sock.settimeout(deadline.remaining())
        sock.connect((resolved.ip, port))
    except OSError as exc:
        sock.close()
        raise os_error(exc, f"{resolved.host}:{port}") from None
    except ProbeError:
        sock.close()
        raise
    return sock


def os_error(exc: BaseException, where: str) -> ProbeError:
    """Map a socket-level exception to a ProbeError with a fixed reason."""
    if isinstance(exc, ProbeError):
        return exc
    if isinstance(exc, TimeoutError | socket.timeout):
        return ProbeError(Reason.TIMEOUT, f"{where}: timed out")
    if isinstance(exc, ConnectionRefusedError):
        return ProbeError(Reason.REFUSED, f"{where}: connection refused")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ProbeError(Reason.CONNECTION, f"{where}: connection reset")
    if isinstance(exc, socket.gaierror):
        return ProbeError(Reason.DNS, f"{where}: {exc.strerror}")
    if isinstance(exc, ssl.SSLError):
        return ProbeError(Reason.TLS, f"{where}: {exc.reason or exc}")
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return ProbeError(Reason.UNREACHABLE, f"{where}: {exc.strerror}")
    if isinstance(exc, OSError):
        return ProbeError(Reason.CONNECTION, f"{where}: {exc.strerror or exc}")
    return ProbeError(Reason.ERROR, f"{where}: {exc!r}")
