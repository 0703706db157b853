"""``tls``: TCP connect and TLS handshake to ``host:port``; certificate expiry and chain problems.

The chain is verified against ``ca_file`` (or the system store). Failures get their own reasons:
``cert_expired``, ``cert_untrusted`` (incomplete chain, self-signed, unknown CA) and
``cert_hostname``. After such a failure the chain is fetched once more without verification, so
``probe_ssl_earliest_cert_expiry`` still shows when the presented certificate expires (or
expired). Expiry is that of the leaf and intermediates, never the root (see ``tlsinfo``).
"""

from __future__ import annotations

from collectors.metrics import Result
from collectors.probes.base import Deadline, Probe, ProbeError
from collectors.probes.net import IPProtocol, connect, record_resolved, resolve, split_host_port
from collectors.probes.tcp import CERT_REASONS
from collectors.probes.tlsinfo import (
    TLSOptions,
    client_context,
    handshake,
    record_presented_after_failure,
    record_session,
)


class TLSProbeOptions(TLSOptions):
    ip_protocol: IPProtocol = "auto"


class TLSProbe(Probe):
    kind = "tls"
    options_model = TLSProbeOptions

    def check_target(self, address: str, options: TLSProbeOptions) -> None:
        split_host_port(address, 443)

    def run(self, address: str, options: TLSProbeOptions, deadline: Deadline, out: Result) -> None:
        host, port = split_host_port(address, 443)
        resolved = resolve(host, options.ip_protocol, deadline)
        record_resolved(out, resolved)
        name = options.server_name or host
        ctx = client_context(options)
        try:
            tls = handshake(connect(resolved, port, deadline), ctx, name, deadline)
        except ProbeError as error:
            if error.reason in CERT_REASONS:
                record_presented_after_failure(out, resolved, port, name, deadline)
            raise
        with tls:
            record_session(out, tls)
