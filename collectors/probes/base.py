"""The probe contract: what a probe kind implements and how it reports failure.

A probe kind is a :class:`Probe` subclass registered by name in ``collectors.probes.PROBES``
(blackbox_exporter's prober map is the model). For each poll the runner calls
``probe.run(address, options, deadline, out)``:

* ``address`` is the target as written in the inventory (a URL for ``http``, ``host:port`` for
  ``tcp``/``tls``, a server for ``dns``, a host for ``icmp`` and ``ssh``);
* ``options`` is an instance of the kind's ``options_model`` (a frozen pydantic model: unknown
  keys are configuration errors, reported by target name);
* ``deadline`` tells how much time is left; every blocking call must use ``deadline.remaining()``
  as its timeout (the runner also abandons a probe that overruns, but cannot stop its thread);
* ``out`` collects samples. Set what you measured as you go: samples set before a failure are kept.

Success is returning normally; failure is raising :class:`ProbeError` with a :class:`Reason`.
Any other exception is a bug in the probe: the runner records it with reason ``error`` and carries
on. The runner, not the probe, records ``probe_success`` and ``probe_duration_seconds``; a probe
may set ``out.exchange_seconds`` (its exchange with the target, first lookup to last byte, as
blackbox_exporter's prober times it), which ``probe_duration_seconds`` then reports instead of the
runner's wider measure.

A probe instance serves every target of its kind from several threads at once: keep per-target
state (such as SSH connections) keyed by target and guarded by a lock, and free it in
:meth:`Probe.release` when a target goes away.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from collectors.metrics import Result


class Reason(StrEnum):
    """Why a poll failed: the ``reason`` label of ``fellesdrift_collector_poll_errors_total``."""

    TIMEOUT = "timeout"  # no answer before the deadline (includes hung targets)
    REFUSED = "refused"  # connection refused (TCP RST, ICMP port unreachable)
    UNREACHABLE = "unreachable"  # no route to host or network
    CONNECTION = "connection"  # connection reset or closed in the middle of the exchange
    DNS = "dns"  # the target's name did not resolve
    TLS = "tls"  # TLS handshake failed for another reason than the certificate
    CERT_EXPIRED = "cert_expired"  # a certificate in the chain is expired or not yet valid
    CERT_UNTRUSTED = "cert_untrusted"  # chain incomplete, self-signed or unknown CA
    CERT_HOSTNAME = "cert_hostname"  # the certificate is not valid for the name asked for
    HTTP_STATUS = "http_status"  # status code not in valid_status_codes
    REGEX = "regex"  # body/answer/banner failed a regular expression check
    OUTPUT_LIMIT = "output_limit"  # the target sent more than the configured limit
    PROTOCOL = "protocol"  # the answer did not follow the protocol (bad DNS message, ...)
    DNS_RCODE = "dns_rcode"  # DNS answer with an rcode not in valid_rcodes
    AUTH = "auth"  # SSH login refused
    HOST_KEY_MISMATCH = "host_key_mismatch"  # SSH host key differs from known_hosts
    HOST_KEY_UNKNOWN = "host_key_unknown"  # SSH host not in known_hosts (never auto-accepted)
    PERMISSION = "permission"  # the collector itself lacks a privilege (ICMP socket)
    COMMAND = "command"  # the remote command failed
    ERROR = "error"  # the probe raised something else: a bug, logged with its traceback


class ProbeError(Exception):
    """A failed poll: ``reason`` is a fixed label value, ``detail`` a human explanation."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class Deadline:
    """The point in (monotonic) time by which a poll must be finished."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.at = time.monotonic() + timeout

    def left(self) -> float:
        return self.at - time.monotonic()

    def remaining(self) -> float:
        """Seconds left, for use as a timeout; raises ProbeError(timeout) once none are left."""
        left = self.left()
        if left <= 0:
            raise ProbeError(Reason.TIMEOUT, f"no answer within {self.timeout:g}s")
        return left


class ProbeOptions(BaseModel):
    """Base for each kind's options: frozen (shared between threads) and strict about keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ProbeEnv:
    """Collector-wide settings the probes need (from the command line)."""

    known_hosts: Path | None = None
    ssh_key: Path | None = None
    ssh_user: str = "fellesdrift"


class Probe(ABC):
    """One probe kind. Subclasses set ``kind`` and ``options_model`` and implement :meth:`run`."""

    kind: ClassVar[str]
    options_model: ClassVar[type[ProbeOptions]]

    def __init__(self, env: ProbeEnv) -> None:
        self.env = env

    def check_target(self, address: str, options: Any) -> None:
        """Raise ValueError if ``address`` cannot be a target of this kind (at config load)."""
        return None

    @abstractmethod
    def run(self, address: str, options: Any, deadline: Deadline, out: Result) -> None:
        """Poll ``address`` once; raise ProbeError on failure (see the module docstring)."""

    def release(self, address: str, options: Any) -> None:
        """Forget per-target state (connections) of a target that is no longer polled."""
        return None

    def close(self) -> None:
        """Free everything at shutdown."""
        return None
