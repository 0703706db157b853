"""The http probe against real HTTP and HTTPS servers on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable

from collectors.probes import ProbeEnv, Reason, build_probes
from collectors.runner import Runner
from collectors.state import Store
from collectors.targets import Builder
from tests.collectors.helpers import run_probe
from tests.collectors.pki import PKI
from tests.collectors.servers import WELCOME, HTTPTarget, HungListener
from tests.rig.base import free_port

PHASES = ("resolve", "connect", "tls", "processing", "transfer")


def test_success_reports_status_phases_and_sizes(http_target: HTTPTarget) -> None:
    out, error = run_probe("http", http_target.url("/"))
    assert error is None
    assert out.get("probe_http_status_code") == 200
    assert out.get("probe_http_version") == 1.1
    assert out.get("probe_http_content_length") == len(WELCOME)
    assert out.get("probe_http_uncompressed_body_length") == len(WELCOME)
    assert out.get("probe_http_redirects") == 0
    assert out.get("probe_http_ssl") == 0
    assert out.get("probe_ip_protocol") == 4
    assert out.get("probe_failed_due_to_regex") == 0
    phases = {p: out.value("probe_http_duration_seconds", phase=p) for p in PHASES}
    assert all(v >= 0 for v in phases.values()), phases
    assert phases["connect"] > 0 and phases["processing"] > 0
    assert phases["tls"] == 0


def test_status_code_outside_the_accepted_set_fails(http_target: HTTPTarget) -> None:
    out, error = run_probe("http", http_target.url("/status/503"))
    assert error is not None and error.reason == Reason.HTTP_STATUS
    assert out.get("probe_http_status_code") == 503
    out, error = run_probe("http", http_target.url("/status/503"), valid_status_codes=[503])
    assert error is None


def test_body_regular_expressions(http_target: HTTPTarget) -> None:
    url = http_target.url("/")
    _, error = run_probe("http", url, fail_if_body_not_matches_regexp=["Velkommen"])
    assert error is None
    out, error = run_probe("http", url, fail_if_body_not_matches_regexp=["Ha det bra"])
    assert error is not None and error.reason == Reason.REGEX
    assert out.get("probe_failed_due_to_regex") == 1
    out, error = run_probe("http", url, fail_if_body_matches_regexp=["Velkommen"])
    assert error is not None and error.reason == Reason.REGEX


def test_redirects_followed_or_not(http_target: HTTPTarget) -> None:
    out, error = run_probe("http", http_target.url("/redirect"))
    assert error is None
    assert out.get("probe_http_redirects") == 1 and out.get("probe_http_status_code") == 200
    out, error = run_probe("http", http_target.url("/redirect"), follow_redirects=False)
    assert error is not None and error.reason == Reason.HTTP_STATUS
    assert out.get("probe_http_status_code") == 302
    _, error = run_probe(
        "http", http_target.url("/redirect"), follow_redirects=False, valid_status_codes=[302]
    )
    assert error is None


def test_method_headers_and_body(http_target: HTTPTarget) -> None:
    out, error = run_probe(
        "http",
        http_target.url("/api"),
        method="POST",
        body='{"ping": 1}',
        headers={"X-Kommune": "birkenes"},
        fail_if_body_not_matches_regexp=['^echo birkenes: {"ping": 1}$'],
    )
    assert error is None, error
    assert out.value("probe_http_status_code") == 200


def test_redirect_loop_stops_at_the_limit(http_target: HTTPTarget) -> None:
    _, error = run_probe("http", http_target.url("/loop"), max_redirects=3)
    assert error is not None and error.reason == Reason.HTTP_STATUS
    assert "more than 3 redirects" in error.detail


def test_body_larger_than_the_limit_is_cut(http_target: HTTPTarget) -> None:
    started = time.monotonic()
    _, error = run_probe("http", http_target.url("/big?bytes=5000000"), body_size_limit=100_000)
    assert error is not None and error.reason == Reason.OUTPUT_LIMIT
    assert time.monotonic() - started < 2


def test_last_modified_header(http_target: HTTPTarget) -> None:
    out, _ = run_probe("http", http_target.url("/old"))
    assert out.get("probe_http_last_modified_timestamp_seconds") == 784903526


def test_https_reports_tls_and_the_leaf_expiry_not_the_root(
    https_target: Callable[[str], HTTPTarget], pki: PKI
) -> None:
    server = https_target("good")
    out, error = run_probe("http", server.url("/", host="localhost"), tls={"ca_file": pki.ca_file})
    assert error is None, error
    assert out.get("probe_http_ssl") == 1
    assert out.value("probe_http_duration_seconds", phase="tls") > 0
    assert out.get("probe_ssl_earliest_cert_expiry") == pki.leaf.not_after
    assert out.get("probe_ssl_last_chain_expiry_timestamp_seconds") == pki.leaf.not_after
    assert pki.root.not_after < pki.leaf.not_after  # the root would have been the earliest
    assert out.get("probe_tls_version_info", version="TLS 1.3") == 1
    assert out.get("probe_ssl_last_chain_info", subject="O=fellesdrift test,CN=localhost") == 1


def test_https_expired_leaf(https_target: Callable[[str], HTTPTarget], pki: PKI) -> None:
    server = https_target("expired")
    out, error = run_probe("http", server.url(), tls={"ca_file": pki.ca_file})
    assert error is not None and error.reason == Reason.CERT_EXPIRED
    assert out.get("probe_ssl_earliest_cert_expiry") == pki.expired.not_after < time.time()


def test_https_incomplete_chain(https_target: Callable[[str], HTTPTarget], pki: PKI) -> None:
    server = https_target("incomplete")
    _, error = run_probe("http", server.url(), tls={"ca_file": pki.ca_file})
    assert error is not None and error.reason == Reason.CERT_UNTRUSTED
    assert "issuer" in error.detail


def test_https_wrong_name(https_target: Callable[[str], HTTPTarget], pki: PKI) -> None:
    server = https_target("good")
    _, error = run_probe(
        "http", server.url(), tls={"ca_file": pki.ca_file, "server_name": "intranett.example"}
    )
    assert error is not None and error.reason == Reason.CERT_HOSTNAME


def test_https_self_signed_accepted_only_when_asked(
    https_target: Callable[[str], HTTPTarget], pki: PKI
) -> None:
    server = https_target("self_signed")
    _, error = run_probe("http", server.url(), tls={"ca_file": pki.ca_file})
    assert error is not None and error.reason == Reason.CERT_UNTRUSTED
    out, error = run_probe("http", server.url(), tls={"insecure_skip_verify": True})
    assert error is None
    assert out.get("probe_ssl_earliest_cert_expiry") == pki.self_signed.not_after


def test_hung_server_times_out_at_the_deadline(hung_target: HungListener) -> None:
    started = time.monotonic()
    _, error = run_probe("http", f"http://{hung_target.address}/", timeout=0.5)
    elapsed = time.monotonic() - started
    assert error is not None and error.reason == Reason.TIMEOUT
    assert 0.4 < elapsed < 1.0


def test_refused_and_unresolvable() -> None:
    _, error = run_probe("http", f"http://127.0.0.1:{free_port()}/")
    assert error is not None and error.reason == Reason.REFUSED
    _, error = run_probe("http", "http://127.0.0.1/", ip_protocol="ip6")
    assert error is not None and error.reason == Reason.DNS


def test_probe_duration_is_the_exchange_as_blackbox_times_it(http_target: HTTPTarget) -> None:
    """probe_duration_seconds spans the exchange with the target (first lookup to last byte,
    redirects included), as blackbox_exporter's prober does: at least the phases, and without
    the runner's own set-up and bookkeeping around the probe."""
    probes = build_probes(ProbeEnv())
    target = Builder(probes).build(
        address=http_target.url("/redirect"), source="file", probe="http"
    )
    store = Store()
    store.put(target)
    runner = Runner(store, probes)
    for _ in range(10):
        before = store.poll_duration["http"].sum if "http" in store.poll_duration else 0.0
        runner.poll(target.key)
        entry = store.get(target.key)
        assert entry is not None and entry.result is not None and entry.success
        polled = store.poll_duration["http"].sum - before  # the runner's own measure
        duration = entry.result.value("probe_duration_seconds")
        phases = sum(entry.result.value("probe_http_duration_seconds", phase=p) for p in PHASES)
        assert entry.result.value("probe_http_redirects") == 1
        assert phases <= duration < polled, (phases, duration, polled)
