"""``http``: one HTTP(S) request (and its redirects), checked like blackbox_exporter's http module.

Built on httpcore (httpx's transport layer) with our own network backend, so that each phase is
timed where it happens: ``resolve`` (getaddrinfo), ``connect`` (TCP), ``tls`` (handshake),
``processing`` (request written until the first response byte) and ``transfer`` (first byte until
the body is read), summed over redirects as blackbox does. Connections are not kept between
polls: a probe measures a fresh visit, like a user's first request.
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
from pydantic import Field, field_validator

from collectors.metrics import Result, spec
from collectors.probes.base import Deadline, Probe, ProbeError, ProbeOptions, Reason
from collectors.probes.net import IPProtocol, Resolved, os_error, record_resolved, resolve
from collectors.probes.tlsinfo import (
    TLSOptions,
    client_context,
    record_presented_after_failure,
    record_session,
    tls_error,
)

STATUS_CODE = spec("probe_http_status_code", "Response HTTP status code")
CONTENT_LENGTH = spec("probe_http_content_length", "Length of http content response")
BODY_LENGTH = spec("probe_http_uncompressed_body_length", "Length of uncompressed response body")
REDIRECTS = spec("probe_http_redirects", "The number of redirects")
SSL = spec("probe_http_ssl", "Indicates if SSL was used for the final redirect")
VERSION = spec("probe_http_version", "Returns the version of HTTP of the probe response")
DURATION = spec(
    "probe_http_duration_seconds",
    "Duration of http request by phase, summed over all redirects",
    "phase",
)
LAST_MODIFIED = spec(
    "probe_http_last_modified_timestamp_seconds",
    "Returns the Last-Modified HTTP response header in unixtime",
)
FAILED_REGEX = spec("probe_failed_due_to_regex", "Indicates if probe failed due to regex")

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
_REDIRECT_STATUS = {301, 302, 303, 307, 308}
USER_AGENT = "fellesdrift-collector/1"


@lru_cache(maxsize=1024)
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _check_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        try:
            compiled(pattern)
        except re.error as exc:
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    return patterns


class HTTPOptions(ProbeOptions):
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    valid_status_codes: tuple[int, ...] = ()  # empty: any 2xx
    valid_http_versions: tuple[str, ...] = ()  # e.g. ["HTTP/1.1"]; empty: any
    fail_if_body_matches_regexp: tuple[str, ...] = ()
    fail_if_body_not_matches_regexp: tuple[str, ...] = ()
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=50)
    fail_if_ssl: bool = False
    fail_if_not_ssl: bool = False
    body_size_limit: int = Field(default=10 * 1024 * 1024, ge=1)
    ip_protocol: IPProtocol = "auto"
    tls: TLSOptions = Field(default_factory=TLSOptions)

    @field_validator("fail_if_body_matches_regexp", "fail_if_body_not_matches_regexp")
    @classmethod
    def _regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_patterns(value)


@dataclass
class _Timing:
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    first: Resolved | None = None
    last: Resolved | None = None
    last_port: int = 0
    written_at: float | None = None
    first_byte_at: float | None = None


class _TimedStream(httpcore.NetworkStream):
    """Times the TLS handshake and the wait between the last write and the first byte read."""

    def __init__(self, inner: httpcore.NetworkStream, timing: _Timing) -> None:
        self._inner = inner
        self._timing = timing

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, timeout)
        timing = self._timing
        if timing.written_at is not None:
            timing.first_byte_at = time.perf_counter()
            timing.phases["processing"] += timing.first_byte_at - timing.written_at
            timing.written_at = None
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)
        self._timing.written_at = time.perf_counter()

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        started = time.perf_counter()
        stream = self._inner.start_tls(ssl_context, server_hostname, timeout)
        self._timing.phases["tls"] += time.perf_counter() - started
        return _TimedStream(stream, self._timing)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Resolves the name itself (timed, with the chosen IP family), then connects to the IP."""

    def __init__(self, ip_protocol: IPProtocol, timing: _Timing, deadline: Deadline) -> None:
        self._sync = httpcore.SyncBackend()
        self._ip_protocol: IPProtocol = ip_protocol
        self._timing = timing
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        resolved = resolve(host, self._ip_protocol, self._deadline)
        self._timing.phases["resolve"] += resolved.lookup_seconds
        self._timing.first = self._timing.first or resolved
        self._timing.last = resolved
        self._timing.last_port = port
        started = time.perf_counter()
        stream = self._sync.connect_tcp(
            resolved.ip, port, self._deadline.remaining(), local_address, socket_options
        )
        self._timing.phases["connect"] += time.perf_counter() - started
        return _TimedStream(stream, self._timing)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise OSError("HTTP probes do not connect to unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class _Response:
    url: str
    status: int
    version: str
    headers: dict[str, str]
    body: bytes
    length: int
    tls: Result | None


class HTTPProbe(Probe):
    kind = "http"
    options_model = HTTPOptions

    def check_target(self, address: str, options: HTTPOptions) -> None:
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{address}: expected an http:// or https:// URL")

    def run(self, address: str, options: HTTPOptions, deadline: Deadline, out: Result) -> None:
        timing = _Timing()
        backend = _Backend(options.ip_protocol, timing, deadline)
        ctx = client_context(options.tls)
        with httpcore.ConnectionPool(
            ssl_context=ctx, network_backend=backend, keepalive_expiry=0
        ) as pool:
            begun = time.perf_counter()
            try:
                response, redirects = self._follow(pool, address, options, deadline, timing)
            except ProbeError as error:
                out.exchange_seconds = time.perf_counter() - begun
                self._after_failure(out, error, timing, options, deadline)
                raise
            out.exchange_seconds = time.perf_counter() - begun
        self._record(out, response, redirects, timing)
        self._check(out, response, options)

    def _follow(
        self,
        pool: httpcore.ConnectionPool,
        url: str,
        options: HTTPOptions,
        deadline: Deadline,
        timing: _Timing,
    ) -> tuple[_Response, int]:
        method, body = options.method.upper(), options.body
        for redirects in range(options.max_redirects + 1):
            response = self._request(pool, method, url, body, options, deadline, timing)
            location = response.headers.get("location")
            if not (options.follow_redirects and response.status in _REDIRECT_STATUS and location):
                return response, redirects
            url = urljoin(url, location)
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
        raise ProbeError(Reason.HTTP_STATUS, f"more than {options.max_redirects} redirects")

    def _request(
        self,
        pool: httpcore.ConnectionPool,
        method: str,
        url: str,
        body: str | None,
        options: HTTPOptions,
        deadline: Deadline,
        timing: _Timing,
    ) -> _Response:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeError(Reason.HTTP_STATUS, f"redirected to an unusable URL: {url}")
        content = body.encode() if body else None
        headers = {
            "Host": parts.netloc.rpartition("@")[2],
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            **({"Content-Length": str(len(content))} if content else {}),
            **options.headers,
        }
        left = deadline.remaining()
        timeouts = {"connect": left, "read": left, "write": left, "pool": left}
        extensions: dict[str, Any] = {"timeout": timeouts}
        if options.tls.server_name:
            extensions["sni_hostname"] = options.tls.server_name
        try:
            with pool.stream(
                method,
                url,
                headers=list(headers.items()),
                content=content,
                extensions=extensions,
            ) as resp:
                return self._read(url, resp, options, deadline, timing)
        except httpcore.TimeoutException:
            raise ProbeError(
                Reason.TIMEOUT, f"{url}: no answer within {deadline.timeout:g}s"
            ) from None
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _network_error(exc, url) from None

    def _read(
        self,
        url: str,
        resp: httpcore.Response,
        options: HTTPOptions,
        deadline: Deadline,
        timing: _Timing,
    ) -> _Response:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in resp.headers}
        stream = resp.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        tls = None
        if ssl_object is not None:
            tls = Result()
            record_session(tls, ssl_object)
        body, length = bytearray(), 0
        keep = bool(options.fail_if_body_matches_regexp or options.fail_if_body_not_matches_regexp)
        for chunk in resp.iter_stream():
            length += len(chunk)
            if length > options.body_size_limit:
                raise ProbeError(
                    Reason.OUTPUT_LIMIT, f"{url}: body larger than {options.body_size_limit} bytes"
                )
            if keep:
                body += chunk
            deadline.remaining()
        if timing.first_byte_at is not None:
            timing.phases["transfer"] += time.perf_counter() - timing.first_byte_at
            timing.first_byte_at = None
        version = resp.extensions.get("http_version", b"HTTP/1.1").decode()
        return _Response(url, resp.status, version, headers, bytes(body), length, tls)

    def _after_failure(
        self,
        out: Result,
        error: ProbeError,
        timing: _Timing,
        options: HTTPOptions,
        deadline: Deadline,
    ) -> None:
        if timing.first is not None:
            record_resolved(out, timing.first)
        cert_reasons = (Reason.CERT_EXPIRED, Reason.CERT_UNTRUSTED, Reason.CERT_HOSTNAME)
        if error.reason in cert_reasons and timing.last is not None:
            name = options.tls.server_name or timing.last.host
            record_presented_after_failure(out, timing.last, timing.last_port, name, deadline)

    def _record(self, out: Result, response: _Response, redirects: int, timing: _Timing) -> None:
        if timing.first is not None:
            record_resolved(out, timing.first)
        for phase in PHASES:
            out.set(DURATION, timing.phases[phase], phase)
        out.set(STATUS_CODE, response.status)
        out.set(VERSION, float(response.version.removeprefix("HTTP/") or 0))
        out.set(CONTENT_LENGTH, _int(response.headers.get("content-length"), -1))
        out.set(BODY_LENGTH, response.length)
        out.set(REDIRECTS, redirects)
        out.set(SSL, 1 if response.tls is not None else 0)
        if response.tls is not None:
            out.samples.extend(response.tls.samples)
        modified = response.headers.get("last-modified")
        parsed = email.utils.parsedate_to_datetime(modified) if modified else None
        if parsed is not None:
            out.set(LAST_MODIFIED, parsed.timestamp())

    def _check(self, out: Result, response: _Response, options: HTTPOptions) -> None:
        status, url = response.status, response.url
        valid = (
            status in options.valid_status_codes
            if options.valid_status_codes
            else 200 <= status < 300
        )
        if not valid:
            out.set(FAILED_REGEX, 0)
            raise ProbeError(Reason.HTTP_STATUS, f"{url}: status {status} not accepted")
        if options.valid_http_versions and response.version not in options.valid_http_versions:
            raise ProbeError(Reason.PROTOCOL, f"{url}: {response.version} not accepted")
        if options.fail_if_ssl and response.tls is not None:
            raise ProbeError(Reason.TLS, f"{url}: served over TLS (fail_if_ssl)")
        if options.fail_if_not_ssl and response.tls is None:
            raise ProbeError(Reason.TLS, f"{url}: not served over TLS (fail_if_not_ssl)")
        text = response.body.decode("utf-8", errors="replace")
        for pattern in options.fail_if_body_matches_regexp:
            if compiled(pattern).search(text):
                out.set(FAILED_REGEX, 1)
                raise ProbeError(Reason.REGEX, f"{url}: body matches {pattern!r}")
        for pattern in options.fail_if_body_not_matches_regexp:
            if not compiled(pattern).search(text):
                out.set(FAILED_REGEX, 1)
                raise ProbeError(Reason.REGEX, f"{url}: body does not match {pattern!r}")
        out.set(FAILED_REGEX, 0)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _network_error(exc: Exception, url: str) -> ProbeError:
    tls = tls_error(exc, url)
    if tls is not None:
        return tls
    if isinstance(exc, httpcore.RemoteProtocolError):
        return ProbeError(Reason.CONNECTION, f"{url}: {exc}")
    if isinstance(exc, httpcore.ProtocolError):
        return ProbeError(Reason.PROTOCOL, f"{url}: {exc}")
    cause = exc.__cause__ or exc.__context__
    return (
        os_error(cause, url)
        if cause is not None
        else ProbeError(Reason.CONNECTION, f"{url}: {exc}")
    )
