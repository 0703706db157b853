"""``dns``: ask the DNS server at ``host[:port]`` (default 53) one question; check rcode, answers.

Uses dnspython for the wire format. Over UDP a truncated answer (TC bit) is asked again over TCP,
as a resolver would. Answer checks use regular expressions against each resource record written
like blackbox_exporter writes them (``name<TAB>ttl<TAB>class<TAB>type<TAB>data``):

* ``fail_if_matches_regexp``: fail if any record matches any of them;
* ``fail_if_all_match_regexp``: fail if every record matches one of them;
* ``fail_if_not_matches_regexp``: fail unless each of them matches at least one record.
"""

from __future__ import annotations

import socket
import time
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from pydantic import Field, field_validator

from collectors.metrics import Result, spec
from collectors.probes.base import Deadline, Probe, ProbeError, ProbeOptions, Reason
from collectors.probes.http import compiled
from collectors.probes.net import (
    IPProtocol,
    Resolved,
    connect,
    os_error,
    record_resolved,
    resolve,
    split_host_port,
)

DURATION = spec("probe_dns_duration_seconds", "Duration of DNS request by phase", "phase")
ANSWER_RRS = spec(
    "probe_dns_answer_rrs", "Returns number of entries in the answer resource record list"
)
AUTHORITY_RRS = spec(
    "probe_dns_authority_rrs", "Returns number of entries in the authority resource record list"
)
ADDITIONAL_RRS = spec(
    "probe_dns_additional_rrs", "Returns number of entries in the additional resource record list"
)
QUERY_SUCCEEDED = spec(
    "probe_dns_query_succeeded", "Displays whether or not the query was executed successfully"
)
SERIAL = spec("probe_dns_serial", "Returns the serial number of the zone")
TRUNCATED_RETRY = spec(
    "probe_dns_tcp_fallback",
    "1 if the UDP answer was truncated and the question was asked again over TCP",
)

RecordType = Literal["A", "AAAA", "MX", "TXT", "CNAME", "NS", "SOA", "PTR", "SRV", "CAA"]


class RRValidator(ProbeOptions):
    fail_if_matches_regexp: tuple[str, ...] = ()
    fail_if_all_match_regexp: tuple[str, ...] = ()
    fail_if_not_matches_regexp: tuple[str, ...] = ()

    @field_validator("*")
    @classmethod
    def _regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                compiled(pattern)
            except Exception as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        return value


class DNSOptions(ProbeOptions):
    query_name: str = Field(min_length=1, max_length=253)
    query_type: RecordType = "A"
    transport: Literal["udp", "tcp"] = "udp"
    recursion_desired: bool = True
    valid_rcodes: tuple[str, ...] = ("NOERROR",)
    validate_answer_rrs: RRValidator = Field(default_factory=RRValidator)
    validate_authority_rrs: RRValidator = Field(default_factory=RRValidator)
    validate_additional_rrs: RRValidator = Field(default_factory=RRValidator)
    ip_protocol: IPProtocol = "auto"

    @field_validator("valid_rcodes")
    @classmethod
    def _rcodes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            dns.rcode.from_text(name)
        return tuple(v.upper() for v in value)


class DNSProbe(Probe):
    kind = "dns"
    options_model = DNSOptions

    def check_target(self, address: str, options: DNSOptions) -> None:
        split_host_port(address, 53)

    def run(self, address: str, options: DNSOptions, deadline: Deadline, out: Result) -> None:
        host, port = split_host_port(address, 53)
        resolved = resolve(host, options.ip_protocol, deadline)
        record_resolved(out, resolved)
        out.set(DURATION, resolved.lookup_seconds, "resolve")
        query = dns.message.make_query(options.query_name, options.query_type)
        if not options.recursion_desired:
            query.flags &= ~dns.flags.RD
        response = self._ask(query, resolved, port, options, deadline, out)
        self._check(response, options, out, address)

    def _ask(
        self,
        query: dns.message.Message,
        server: Resolved,
        port: int,
        options: DNSOptions,
        deadline: Deadline,
        out: Result,
    ) -> dns.message.Message:
        where = f"{server.ip}:{port}"
        fallback = 0
        try:
            if options.transport == "udp":
                started = time.perf_counter()
                try:
                    response = dns.query.udp(
                        query,
                        server.ip,
                        timeout=deadline.remaining(),
                        port=port,
                        raise_on_truncation=True,
                    )
                    out.set(DURATION, 0.0, "connect")
                    out.set(DURATION, time.perf_counter() - started, "request")
                except dns.message.Truncated:
                    fallback = 1
            if options.transport == "tcp" or fallback:
                response = self._ask_tcp(query, server, port, deadline, out)
        except dns.exception.Timeout:
            raise ProbeError(
                Reason.TIMEOUT, f"{where}: no answer within {deadline.timeout:g}s"
            ) from None
        except OSError as exc:
            raise os_error(exc, where) from None
        except dns.exception.DNSException as exc:
            raise ProbeError(Reason.PROTOCOL, f"{where}: {exc}") from None
        out.set(TRUNCATED_RETRY, fallback)
        return response

    def _ask_tcp(
        self,
        query: dns.message.Message,
        server: Resolved,
        port: int,
        deadline: Deadline,
        out: Result,
    ) -> dns.message.Message:
        started = time.perf_counter()
        sock: socket.socket = connect(server, port, deadline)
        connected = time.perf_counter()
        with sock:
            response = dns.query.tcp(
                query, server.ip, timeout=deadline.remaining(), port=port, sock=sock
            )
        out.set(DURATION, connected - started, "connect")
        out.set(DURATION, time.perf_counter() - connected, "request")
        return response

    def _check(
        self, response: dns.message.Message, options: DNSOptions, out: Result, where: str
    ) -> None:
        out.set(QUERY_SUCCEEDED, 1)
        out.set(ANSWER_RRS, sum(len(r) for r in response.answer))
        out.set(AUTHORITY_RRS, sum(len(r) for r in response.authority))
        out.set(ADDITIONAL_RRS, sum(len(r) for r in response.additional))
        for rrset in response.answer + response.authority:
            if rrset.rdtype == dns.rdatatype.SOA:
                out.set(SERIAL, rrset[0].serial)
                break
        rcode = dns.rcode.to_text(response.rcode())
        if rcode not in options.valid_rcodes:
            raise ProbeError(
                Reason.DNS_RCODE, f"{where}: rcode {rcode} not in {list(options.valid_rcodes)}"
            )
        sections = (
            ("answer", response.answer, options.validate_answer_rrs),
            ("authority", response.authority, options.validate_authority_rrs),
            ("additional", response.additional, options.validate_additional_rrs),
        )
        for name, rrsets, validator in sections:
            _validate(name, _lines(rrsets), validator, where)


def _lines(rrsets: list[dns.rrset.RRset]) -> list[str]:
    lines = []
    for rrset in rrsets:
        rdclass = dns.rdataclass.to_text(rrset.rdclass)
        rdtype = dns.rdatatype.to_text(rrset.rdtype)
        for rdata in rrset:
            lines.append(f"{rrset.name}\t{rrset.ttl}\t{rdclass}\t{rdtype}\t{rdata}")
    return lines


def _validate(section: str, lines: list[str], validator: RRValidator, where: str) -> None:
    def fail(why: str) -> ProbeError:
        return ProbeError(Reason.REGEX, f"{where}: {section} records {why}")

    for pattern in validator.fail_if_matches_regexp:
        if any(compiled(pattern).search(line) for line in lines):
            raise fail(f"match {pattern!r}")
    every = validator.fail_if_all_match_regexp
    if every and lines and all(any(compiled(p).search(ln) for p in every) for ln in lines):
        raise fail(f"all match {list(every)}")
    for pattern in validator.fail_if_not_matches_regexp:
        if not any(compiled(pattern).search(line) for line in lines):
            raise fail(f"do not match {pattern!r}")
