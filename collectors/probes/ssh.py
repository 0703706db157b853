"""``ssh``: host metrics over SSH, as node_exporter would report them.

* Target ``[user@]host[:port]``; key authentication only (``--ssh-key`` or ``key_file``), no
  agent, no password, no keys picked up from ``~/.ssh``.
* Host keys are checked against a known_hosts file (``--known-hosts`` or ``known_hosts``) and never
  accepted automatically: an unknown host fails with ``host_key_unknown``, a changed key with
  ``host_key_mismatch``.
* One connection per host is kept open between polls (with SSH keepalives) and each poll opens a
  channel on it; a connection that died is replaced within the same poll.
* After a failed connection the next attempt waits (backoff, doubling up to a cap): after a refused
  login or a host key problem at least ``auth_retry_seconds``, so a wrong key or a lockout policy
  on the host never sees a tight retry loop. Polls in the backoff window fail at once with the
  last reason and touch nothing.
* Each poll runs the fixed read-only report of ``collectors.probes.node`` and reads at most
  ``output_limit`` bytes (stdout and stderr together); more fails with ``output_limit``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paramiko
from pydantic import Field, field_validator

from collectors.metrics import Result, spec
from collectors.probes.base import Deadline, Probe, ProbeError, ProbeOptions, Reason
from collectors.probes.net import connect, resolve, split_host_port
from collectors.probes.node import Arrivals, check_units, parse_report, report_command

log = logging.getLogger(__name__)

REUSED = spec(
    "probe_ssh_connection_reused", "1 if the poll used an SSH connection kept from an earlier poll"
)
OUTPUT_BYTES = spec("probe_ssh_output_bytes", "Bytes the report command printed")
IDLE_WAKE_SECONDS = 300.0  # with keepalives off
LOGIN_REASONS = (Reason.AUTH, Reason.HOST_KEY_MISMATCH, Reason.HOST_KEY_UNKNOWN)


class SSHOptions(ProbeOptions):
    user: str | None = None  # default: user@ in the target, else --ssh-user
    key_file: str | None = None  # default: --ssh-key
    known_hosts: str | None = None  # default: --known-hosts
    units: tuple[str, ...] = ()  # systemd units to report (node_systemd_unit_state)
    output_limit: int = Field(default=1024 * 1024, ge=1024)
    auth_retry_seconds: float = Field(default=300.0, gt=0)
    auth_retry_max_seconds: float = Field(default=3600.0, gt=0)
    reconnect_seconds: float = Field(default=5.0, gt=0)
    reconnect_max_seconds: float = Field(default=60.0, gt=0)
    # Polls are traffic: at the default 60 s interval no keepalive is ever sent and the
    # transport thread never wakes between polls. One goes after 120 s of silence (a longer
    # interval, a stuck host), well inside the idle timeouts of NATs and firewalls.
    keepalive_seconds: int = Field(default=120, ge=0)

    @field_validator("units")
    @classmethod
    def _units(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_units(value)


class _UnknownHost(paramiko.SSHException):
    pass


class _Reject(paramiko.MissingHostKeyPolicy):
    """Like paramiko.RejectPolicy, with its own exception type so the reason is certain."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise _UnknownHost(
            f"{hostname} is not in known_hosts (host keys are never accepted automatically)"
        )


@dataclass
class _Conn:
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: paramiko.SSHClient | None = None
    failures: int = 0
    retry_at: float = 0.0
    last_error: ProbeError | None = None

    def drop(self) -> None:
        if self.client is not None:
            transport = self.client.get_transport()
            if transport is not None:
                # Wakes the transport thread from its long recv (see _connect) at once.
                with contextlib.suppress(OSError):
                    transport.sock.shutdown(socket.SHUT_RDWR)
            self.client.close()
            self.client = None


ConnKey = tuple[str, int, str, str, str]


class SSHProbe(Probe):
    kind = "ssh"
    options_model = SSHOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._conns: dict[ConnKey, _Conn] = {}
        self._keys: dict[tuple[str, float], paramiko.PKey] = {}

    def check_target(self, address: str, options: SSHOptions) -> None:
        self._key(address, options)

    def _key(self, address: str, options: SSHOptions) -> ConnKey:
        user, _, hostport = address.rpartition("@")
        host, port = split_host_port(hostport, 22)
        user = options.user or user or self.env.ssh_user
        key_file = options.key_file or (str(self.env.ssh_key) if self.env.ssh_key else "")
        known = options.known_hosts or (str(self.env.known_hosts) if self.env.known_hosts else "")
        if not key_file or not known:
            raise ValueError(
                "ssh needs a key (--ssh-key or key_file) and a known_hosts file "
                "(--known-hosts or known_hosts)"
            )
        return host, port, user, key_file, known

    def run(self, address: str, options: SSHOptions, deadline: Deadline, out: Result) -> None:
        key = self._key(address, options)
        with self._lock:
            conn = self._conns.setdefault(key, _Conn())
        if not conn.lock.acquire(timeout=deadline.remaining()):
            raise ProbeError(Reason.TIMEOUT, f"{address}: connection busy until the deadline")
        try:
            data, arrivals = self._poll(conn, key, options, deadline, out)
        except ProbeError:
            out.timestamp = time.time()
            raise
        finally:
            conn.lock.release()
        # The values were read when the report started to arrive: /proc/stat and the other
        # files come first, within a few milliseconds of each other.
        first = arrivals.chunks[0][1] if arrivals.chunks else time.monotonic()
        out.timestamp = time.time() - (time.monotonic() - first)
        out.set(OUTPUT_BYTES, len(data))
        text = data.decode("utf-8", errors="replace")
        if not parse_report(text, out, arrivals.durations(data)):
            raise ProbeError(
                Reason.COMMAND,
                f"{address}: the report did not finish (is the forced command right?)",
            )

    def _poll(
        self, conn: _Conn, key: ConnKey, options: SSHOptions, deadline: Deadline, out: Result
    ) -> tuple[bytes, Arrivals]:
        command = report_command(options.units)
        if conn.client is not None and _active(conn.client):
            try:
                report = self._exec(conn.client, command, options, deadline)
            except _Dead:
                conn.drop()  # the host restarted sshd or dropped us: reconnect below
            except ProbeError:
                out.set(REUSED, 1)
                raise
            else:
                out.set(REUSED, 1)
                return report
        conn.drop()
        conn.client = self._connect_with_backoff(conn, key, options, deadline)
        out.set(REUSED, 0)
        try:
            return self._exec(conn.client, command, options, deadline)
        except _Dead as dead:
            conn.drop()
            raise ProbeError(Reason.CONNECTION, f"{key[0]}:{key[1]}: {dead}") from None

    def _connect_with_backoff(
        self, conn: _Conn, key: ConnKey, options: SSHOptions, deadline: Deadline
    ) -> paramiko.SSHClient:
        now = time.monotonic()
        if conn.last_error is not None and now < conn.retry_at:
            error = conn.last_error
            raise ProbeError(
                error.reason, f"{error.detail} (next attempt in {conn.retry_at - now:.1f}s)"
            )
        try:
            client = self._connect(key, options, deadline)
        except ProbeError as error:
            conn.failures += 1
            login = error.reason in LOGIN_REASONS
            base = options.auth_retry_seconds if login else options.reconnect_seconds
            cap = options.auth_retry_max_seconds if login else options.reconnect_max_seconds
            conn.retry_at = time.monotonic() + min(cap, base * 2 ** (conn.failures - 1))
            conn.last_error = error
            raise
        conn.failures, conn.last_error = 0, None
        return client

    def _connect(self, key: ConnKey, options: SSHOptions, deadline: Deadline) -> paramiko.SSHClient:
        host, port, user, key_file, known_hosts = key
        where = f"{host}:{port}"
        pkey = self._load_key(key_file)
        client = paramiko.SSHClient()
        try:
            client.get_host_keys().load(known_hosts)
        except OSError as exc:
            raise ProbeError(
                Reason.HOST_KEY_UNKNOWN, f"cannot read known_hosts {known_hosts}: {exc.strerror}"
            ) from None
        client.set_missing_host_key_policy(_Reject())
        sock = connect(resolve(host, "auto", deadline), port, deadline)
        left = deadline.remaining()
        try:
            client.connect(
                host,
                port,
                username=user,
                pkey=pkey,
                sock=sock,
                timeout=left,
                banner_timeout=left,
                auth_timeout=left,
                channel_timeout=left,
                allow_agent=False,
                look_for_keys=False,
            )
        except BaseException as exc:
            client.close()
            sock.close()
            if deadline.left() <= 0.01 and isinstance(
                exc, paramiko.SSHException | EOFError | OSError
            ):
                # paramiko reports a deadline overrun in many words ("banner", "No existing
                # session", "Negotiation timed out"); the clock says what happened.
                raise ProbeError(Reason.TIMEOUT, f"{where}: no SSH answer in time") from None
            raise _login_error(exc, where, user) from None
        transport = client.get_transport()
        if transport is not None and options.keepalive_seconds:
            transport.set_keepalive(options.keepalive_seconds)
        # paramiko's transport thread polls its socket every 0.1 s to notice a close: ten wake-ups
        # a second per idle connection (6-8 % of a core for 100 hosts). Once connected it need
        # only wake for a keepalive; drop() shuts the socket down to stop it at once.
        sock.settimeout(options.keepalive_seconds or IDLE_WAKE_SECONDS)
        log.info("ssh connection to %s as %s established", where, user)
        return client

    def _load_key(self, path: str) -> paramiko.PKey:
        try:
            cache_key = (path, os.stat(path).st_mtime)
            with self._lock:
                if cache_key not in self._keys:
                    self._keys[cache_key] = paramiko.PKey.from_path(path)
                return self._keys[cache_key]
        except (OSError, paramiko.SSHException, ValueError) as exc:
            raise ProbeError(Reason.AUTH, f"cannot load SSH key {path}: {exc}") from None

    def _exec(
        self, client: paramiko.SSHClient, command: str, options: SSHOptions, deadline: Deadline
    ) -> tuple[bytes, Arrivals]:
        transport = client.get_transport()
        if transport is None or not transport.is_active():
            raise _Dead("connection closed")
        try:
            channel = transport.open_session(timeout=deadline.remaining())
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise _Dead(str(exc) or type(exc).__name__) from None
        with channel:
            channel.set_combine_stderr(True)
            arrivals = Arrivals(time.monotonic())
            try:
                channel.exec_command(command)
            except paramiko.SSHException as exc:
                raise _Dead(str(exc) or "channel refused") from None
            data = _read_limited(channel, options.output_limit, deadline, arrivals)
            if not channel.status_event.wait(max(0.0, deadline.left())):
                raise ProbeError(Reason.TIMEOUT, "report command did not exit before the deadline")
        return data, arrivals

    def release(self, address: str, options: SSHOptions) -> None:
        try:
            key = self._key(address, options)
        except ValueError:
            return
        with self._lock:
            conn = self._conns.pop(key, None)
        if conn is not None:
            with conn.lock:
                conn.drop()

    def close(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            conn.drop()


class _Dead(Exception):
    """The kept connection cannot carry a new channel."""


def _active(client: paramiko.SSHClient) -> bool:
    transport = client.get_transport()
    return transport is not None and transport.is_active()


def _read_limited(
    channel: paramiko.Channel, limit: int, deadline: Deadline, arrivals: Arrivals
) -> bytes:
    data = bytearray()
    while True:
        channel.settimeout(deadline.remaining())
        try:
            chunk = channel.recv(65536)
        except TimeoutError:
            raise ProbeError(
                Reason.TIMEOUT, f"report command still running after {deadline.timeout:g}s"
            ) from None
        if not chunk:
            return bytes(data)
        data += chunk
        arrivals.chunks.append((len(data), time.monotonic()))
        if len(data) > limit:
            raise ProbeError(Reason.OUTPUT_LIMIT, f"report output cut: more than {limit} bytes")


def _login_error(exc: BaseException, where: str, user: str) -> ProbeError:
    if isinstance(exc, ProbeError):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        return ProbeError(
            Reason.HOST_KEY_MISMATCH,
            f"{where}: host key {exc.key.get_name()} {exc.key.fingerprint} "
            "does not match known_hosts",
        )
    if isinstance(exc, _UnknownHost):
        return ProbeError(Reason.HOST_KEY_UNKNOWN, f"{where}: {exc}")
    if isinstance(exc, paramiko.AuthenticationException):
        return ProbeError(Reason.AUTH, f"{where}: login as {user} refused")
    if isinstance(exc, socket.timeout | TimeoutError) or "banner" in str(exc).lower():
        return ProbeError(Reason.TIMEOUT, f"{where}: no SSH banner or answer in time")
    if isinstance(exc, paramiko.SSHException | EOFError | OSError):
        return ProbeError(Reason.CONNECTION, f"{where}: {exc or type(exc).__name__}")
    raise exc
