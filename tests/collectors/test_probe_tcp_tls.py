"""The tcp and tls probes against real servers on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable

from collectors.probes import Reason
from tests.collectors.helpers import run_probe
from tests.collectors.pki import PKI
from tests.collectors.servers import HTTPTarget, HungListener
from tests.rig.base import free_port

REQUEST = {"send": "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"}


def test_tcp_connect_and_dialogue(http_target: HTTPTarget) -> None:
    out, error = run_probe("tcp", http_target.address)
    assert error is None
    assert out.get("probe_ip_protocol") == 4
    steps = [REQUEST, {"expect": r"^HTTP/1\.[01] 200"}, {"expect": "Velkommen"}]
    out, error = run_probe("tcp", http_target.address, query_response=steps)
    assert error is None
    assert out.get("probe_failed_due_to_regex") == 0


def test_tcp_expectation_not_met(http_target: HTTPTarget) -> None:
    steps = [REQUEST, {"expect": "Ha det bra"}]
    out, error = run_probe("tcp", http_target.address, query_response=steps)
    assert error is not None and error.reason == Reason.REGEX
    assert "connection closed" in error.detail
    assert out.get("probe_failed_due_to_regex") == 1


def test_tcp_refused_and_hung(hung_target: HungListener) -> None:
    _, error = run_probe("tcp", f"127.0.0.1:{free_port()}")
    assert error is not None and error.reason == Reason.REFUSED
    started = time.monotonic()
    _, error = run_probe(
        "tcp", hung_target.address, timeout=0.5, query_response=[{"expect": "^220 "}]
    )
    assert error is not None and error.reason == Reason.TIMEOUT
    assert time.monotonic() - started < 1.0


def test_tcp_over_tls(https_target: Callable[[str], HTTPTarget], pki: PKI) -> None:
    server = https_target("good")
    out, error = run_probe(
        "tcp",
        f"localhost:{server.port}",
        tls=True,
        tls_config={"ca_file": pki.ca_file},
        query_response=[REQUEST, {"expect": "Velkommen"}],
    )
    assert error is None, error
    assert out.get("probe_ssl_earliest_cert_expiry") == pki.leaf.not_after


def test_tls_good_chain_reports_leaf_not_root(
    https_target: Callable[[str], HTTPTarget], pki: PKI
) -> None:
    server = https_target("good")
    out, error = run_probe("tls", f"localhost:{server.port}", ca_file=pki.ca_file)
    assert error is None, error
    assert out.get("probe_ssl_earliest_cert_expiry") == pki.leaf.not_after
    assert out.get("probe_ssl_last_chain_expiry_timestamp_seconds") == pki.leaf.not_after
    assert pki.root.not_after not in [s.value for s in out]
    assert out.get("probe_tls_version_info", version="TLS 1.3") == 1


def test_tls_version_below_the_minimum(https_target: Callable[[str], HTTPTarget], pki: PKI) -> None:
    server = https_target("tls12")
    out, error = run_probe("tls", f"localhost:{server.port}", ca_file=pki.ca_file)
    assert error is None
    assert out.get("probe_tls_version_info", version="TLS 1.2") == 1
    _, error = run_probe(
        "tls", f"localhost:{server.port}", ca_file=pki.ca_file, min_version="TLS1.3"
    )
    assert error is not None and error.reason == Reason.TLS


def test_tls_chain_problems(https_target: Callable[[str], HTTPTarget], pki: PKI) -> None:
    cases = {
        "expired": Reason.CERT_EXPIRED,
        "incomplete": Reason.CERT_UNTRUSTED,
        "self_signed": Reason.CERT_UNTRUSTED,
    }
    for kind, reason in cases.items():
        server = https_target(kind)
        out, error = run_probe("tls", server.address, ca_file=pki.ca_file)
        assert error is not None and error.reason == reason, (kind, error)
        # The presented chain is still read, so the expiry is visible on the dashboard.
        assert out.get("probe_ssl_earliest_cert_expiry") is not None, kind
    out, _ = run_probe("tls", https_target("expired").address, ca_file=pki.ca_file)
    assert out.get("probe_ssl_earliest_cert_expiry") == pki.expired.not_after


def test_tls_without_a_tls_server(http_target: HTTPTarget, hung_target: HungListener) -> None:
    _, error = run_probe("tls", http_target.address)
    assert error is not None and error.reason == Reason.TLS
    started = time.monotonic()
    _, error = run_probe("tls", hung_target.address, timeout=0.5)
    assert error is not None and error.reason == Reason.TIMEOUT
    assert time.monotonic() - started < 1.0
