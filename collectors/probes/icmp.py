"""``icmp``: one echo request to a host, the round trip timed.

Socket choice (``socket: auto``): first an unprivileged ICMP datagram socket ("ping socket",
``SOCK_DGRAM``/``IPPROTO_ICMP``), which Linux allows to the groups in
``net.ipv4.ping_group_range``; if that is refused, a raw socket, which needs root or
``CAP_NET_RAW``; if that is refused too, the probe fails with reason ``permission`` and a message
that says how to grant either. ``socket: dgram`` or ``raw`` forces one kind.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import secrets
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from collectors.metrics import Result, spec
from collectors.probes.base import Deadline, Probe, ProbeError, ProbeOptions, Reason
from collectors.probes.net import IPProtocol, Resolved, os_error, record_resolved, resolve

DURATION = spec("probe_icmp_duration_seconds", "Duration of icmp request by phase", "phase")
HOP_LIMIT = spec("probe_icmp_reply_hop_limit", "Replied packet hop limit (TTL for ipv4)")

IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")
_sequence = itertools.count(1)


class ICMPOptions(ProbeOptions):
    ip_protocol: IPProtocol = "auto"
    payload_size: int = Field(default=56, ge=8, le=1400)
    socket: Literal["auto", "dgram", "raw"] = "auto"
    ttl: int | None = Field(default=None, ge=1, le=255)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def permission_message(dgram_error: OSError | None) -> str:
    try:
        low, high = PING_GROUP_RANGE.read_text().split()
    except (OSError, ValueError):
        low, high = "?", "?"
    gid = os.getegid()
    return (
        f"no ICMP socket allowed: an unprivileged ping socket needs gid {gid} inside "
        f"net.ipv4.ping_group_range (now {low} {high}; allow it with "
        f"`sysctl -w net.ipv4.ping_group_range='{gid} {gid}'`), a raw socket needs root or "
        f"CAP_NET_RAW (`setcap cap_net_raw+ep` on the interpreter)"
        + (f"; ping socket error: {dgram_error.strerror}" if dgram_error else "")
    )


def open_socket(family: socket.AddressFamily, mode: str) -> tuple[socket.socket, str]:
    """An ICMP socket of the requested kind, or ProbeError(permission) with the remedy."""
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    dgram_error: OSError | None = None
    if mode in ("auto", "dgram"):
        try:
            return socket.socket(family, socket.SOCK_DGRAM, proto), "dgram"
        except (PermissionError, OSError) as exc:
            dgram_error = exc
            if mode == "dgram":
                raise ProbeError(Reason.PERMISSION, permission_message(exc)) from None
    try:
        return socket.socket(family, socket.SOCK_RAW, proto), "raw"
    except PermissionError:
        raise ProbeError(Reason.PERMISSION, permission_message(dgram_error)) from None


class ICMPProbe(Probe):
    kind = "icmp"
    options_model = ICMPOptions

    def check_target(self, address: str, options: ICMPOptions) -> None:
        host = address.strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not host or any(c in host for c in "/@: "):
                raise ValueError(
                    f"{address}: expected a host name or IP address without a port"
                ) from None

    def run(self, address: str, options: ICMPOptions, deadline: Deadline, out: Result) -> None:
        resolved = resolve(address.strip("[]"), options.ip_protocol, deadline)
        record_resolved(out, resolved)
        out.set(DURATION, resolved.lookup_seconds, "resolve")
        started = time.perf_counter()
        sock, mode = open_socket(resolved.family, options.socket)
        with sock:
            self._setup(sock, resolved, options)
            out.set(DURATION, time.perf_counter() - started, "setup")
            ident = secrets.randbits(16)
            seq = next(_sequence) & 0xFFFF
            payload = secrets.token_bytes(options.payload_size)
            sent = time.perf_counter()
            self._send(sock, resolved, ident, seq, payload)
            hop_limit = self._receive(sock, resolved, mode, ident, seq, payload, deadline)
            out.set(DURATION, time.perf_counter() - sent, "rtt")
            if hop_limit is not None:
                out.set(HOP_LIMIT, hop_limit)

    def _setup(self, sock: socket.socket, resolved: Resolved, options: ICMPOptions) -> None:
        if resolved.family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            if options.ttl:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, options.ttl)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            if options.ttl:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, options.ttl)

    def _send(
        self, sock: socket.socket, resolved: Resolved, ident: int, seq: int, payload: bytes
    ) -> None:
        kind = 8 if resolved.family == socket.AF_INET else 128
        header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
        packet = struct.pack("!BBHHH", kind, 0, checksum(header + payload), ident, seq) + payload
        try:
            sock.sendto(packet, (resolved.ip, 0))
        except OSError as exc:
            raise os_error(exc, resolved.ip) from None

    def _receive(
        self,
        sock: socket.socket,
        resolved: Resolved,
        mode: str,
        ident: int,
        seq: int,
        payload: bytes,
        deadline: Deadline,
    ) -> int | None:
        v4 = resolved.family == socket.AF_INET
        reply_type = 0 if v4 else 129
        while True:
            try:
                sock.settimeout(deadline.remaining())
                data, ancillary, _, source = sock.recvmsg(65535, socket.CMSG_SPACE(4))
            except ProbeError:
                raise ProbeError(
                    Reason.TIMEOUT, f"no echo reply from {resolved.ip} within {deadline.timeout:g}s"
                ) from None
            except OSError as exc:
                raise os_error(exc, resolved.ip) from None
            hop_limit = _hop_limit(ancillary)
            if mode == "raw" and v4:
                # Raw IPv4 sockets deliver the IP header; the TTL is in it.
                header_length = (data[0] & 0x0F) * 4
                hop_limit, data = data[8], data[header_length:]
            if len(data) < 8 or source[0] != resolved.ip:
                continue
            kind, _, _, got_ident, got_seq = struct.unpack("!BBHHH", data[:8])
            # A ping socket rewrites the identifier (it is the socket's "port").
            if (
                kind == reply_type
                and got_seq == seq
                and data[8:] == payload
                and (mode == "dgram" or got_ident == ident)
            ):
                return hop_limit


def _hop_limit(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancillary:
        if (level, kind) in (
            (socket.IPPROTO_IP, socket.IP_TTL),
            (socket.IPPROTO_IPV6, IPV6_HOPLIMIT),
        ):
            return int.from_bytes(data[:4], sys.byteorder)
    return None
