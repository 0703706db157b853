"""Probe kinds by name. To add one: write ``collectors/probes/<kind>.py`` with a :class:`Probe`
subclass (see ``base.py`` for the contract), add it to :data:`PROBES`, and add its tests in
``tests/collectors/test_probe_<kind>.py`` against a real server on loopback."""

from __future__ import annotations

from collectors.probes.base import Deadline, Probe, ProbeEnv, ProbeError, ProbeOptions, Reason
from collectors.probes.dns import DNSProbe
from collectors.probes.http import HTTPProbe
from collectors.probes.icmp import ICMPProbe
from collectors.probes.ssh import SSHProbe
from collectors.probes.tcp import TCPProbe
from collectors.probes.tls import TLSProbe

PROBES: dict[str, type[Probe]] = {
    probe.kind: probe for probe in (HTTPProbe, TCPProbe, TLSProbe, DNSProbe, ICMPProbe, SSHProbe)
}


def build_probes(env: ProbeEnv, kinds: dict[str, type[Probe]] | None = None) -> dict[str, Probe]:
    """One instance of each probe kind (they are shared by all targets of that kind)."""
    return {name: cls(env) for name, cls in (kinds or PROBES).items()}


__all__ = [
    "PROBES",
    "Deadline",
    "Probe",
    "ProbeEnv",
    "ProbeError",
    "ProbeOptions",
    "Reason",
    "build_probes",
]
