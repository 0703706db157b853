"""The dns probe against a real DNS responder on loopback (UDP and TCP)."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from collectors.probes import Reason
from collectors.probes.dns import DNSOptions
from tests.collectors.helpers import run_probe
from tests.collectors.servers import DNSResponder, HungListener


def test_record_types_and_expected_answers(dns_server: DNSResponder) -> None:
    cases = [
        ("www.kommune.test", "A", r"\tA\t192\.0\.2\.10$", 2),
        ("www.kommune.test", "AAAA", r"2001:db8::10", 1),
        ("kommune.test", "MX", r"^kommune\.test\.\t300\tIN\tMX\t10 mx1\.kommune\.test\.$", 2),
        ("kommune.test", "TXT", "v=spf1", 1),
        ("portal.kommune.test", "CNAME", r"www\.kommune\.test\.$", 1),
        ("kommune.test", "NS", "ns1", 1),
        ("kommune.test", "SOA", "hostmaster", 1),
    ]
    for name, rtype, pattern, count in cases:
        out, error = run_probe(
            "dns",
            dns_server.address,
            query_name=name,
            query_type=rtype,
            validate_answer_rrs={"fail_if_not_matches_regexp": [pattern]},
        )
        assert error is None, (name, rtype, error)
        assert out.get("probe_dns_answer_rrs") == count, (name, rtype)
        assert out.get("probe_dns_query_succeeded") == 1
    out, _ = run_probe("dns", dns_server.address, query_name="kommune.test", query_type="SOA")
    assert out.get("probe_dns_serial") == 2024010101


def test_unexpected_answers_fail_with_reason_regex(dns_server: DNSResponder) -> None:
    address = dns_server.address
    _, error = run_probe(
        "dns",
        address,
        query_name="www.kommune.test",
        validate_answer_rrs={"fail_if_not_matches_regexp": ["192.0.2.99"]},
    )
    assert error is not None and error.reason == Reason.REGEX
    _, error = run_probe(
        "dns",
        address,
        query_name="www.kommune.test",
        validate_answer_rrs={"fail_if_matches_regexp": ["192.0.2.11"]},
    )
    assert error is not None and error.reason == Reason.REGEX
    _, error = run_probe(
        "dns",
        address,
        query_name="www.kommune.test",
        validate_answer_rrs={"fail_if_all_match_regexp": [r"192\.0\.2\."]},
    )
    assert error is not None and error.reason == Reason.REGEX


def test_rcode(dns_server: DNSResponder) -> None:
    out, error = run_probe("dns", dns_server.address, query_name="nope.kommune.test")
    assert error is not None and error.reason == Reason.DNS_RCODE
    assert "NXDOMAIN" in error.detail
    assert out.get("probe_dns_authority_rrs") == 1
    _, error = run_probe(
        "dns", dns_server.address, query_name="nope.kommune.test", valid_rcodes=["NXDOMAIN"]
    )
    assert error is None


def test_truncated_udp_answer_is_asked_again_over_tcp(dns_server: DNSResponder) -> None:
    before = dict(dns_server.queries)
    out, error = run_probe(
        "dns", dns_server.address, query_name="big.kommune.test", query_type="TXT"
    )
    assert error is None, error
    assert out.get("probe_dns_tcp_fallback") == 1
    assert out.get("probe_dns_answer_rrs") == 10
    assert dns_server.queries["udp"] == before.get("udp", 0) + 1
    assert dns_server.queries["tcp"] == before.get("tcp", 0) + 1


def test_tcp_transport(dns_server: DNSResponder) -> None:
    before = dns_server.queries["tcp"]
    out, error = run_probe(
        "dns", dns_server.address, query_name="www.kommune.test", transport="tcp"
    )
    assert error is None
    assert dns_server.queries["tcp"] == before + 1
    assert out.value("probe_dns_duration_seconds", phase="connect") > 0


def test_silent_server_times_out(hung_target: HungListener) -> None:
    started = time.monotonic()
    _, error = run_probe(
        "dns", hung_target.address, query_name="x.test", transport="tcp", timeout=0.5
    )
    assert error is not None and error.reason == Reason.TIMEOUT
    assert time.monotonic() - started < 1.0


def test_query_name_is_required() -> None:
    with pytest.raises(ValidationError, match="query_name"):
        DNSOptions.model_validate({})
