"""Small real servers on loopback for the probe tests: HTTP(S), DNS (UDP+TCP), a hung listener."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

WELCOME = b"<html><body><h1>Velkommen til fellesdrift</h1></body></html>"


class Handler(BaseHTTPRequestHandler):
    """Routes: / (welcome page), /status/<code>, /redirect (302 to /), /loop (redirects to
    itself), /big?bytes=N, /slow?seconds=S, /old (Last-Modified)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path == "/":
            self._send(200, WELCOME)
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), b"status page")
        elif path == "/redirect":
            self._send(302, b"", {"Location": "/"})
        elif path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif path == "/big":
            self._send(200, b"x" * int(query.get("bytes", "2000000")))
        elif path == "/slow":
            time.sleep(float(query.get("seconds", "1")))
            self._send(200, b"slow")
        elif path == "/old":
            self._send(200, b"old", {"Last-Modified": "Tue, 15 Nov 1994 12:45:26 GMT"})
        else:
            self._send(404, b"not found")

    def do_POST(self) -> None:
        """Echoes the request body and the X-Kommune header."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._send(200, b"echo " + self.headers.get("X-Kommune", "").encode() + b": " + body)

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None  # keep test output clean


class HTTPTarget:
    """A threaded HTTP server on 127.0.0.1, optionally TLS with the given chain and key."""

    def __init__(
        self,
        cert_file: str | None = None,
        key_file: str | None = None,
        max_tls: ssl.TLSVersion | None = None,
    ) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.tls = cert_file is not None
        if cert_file:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert_file, key_file)
            if max_tls is not None:
                ctx.maximum_version = max_tls
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class HungListener:
    """Accepts TCP connections (the kernel completes the handshake) and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.sock.close()


class DNSResponder:
    """An authoritative-only DNS server for a few names, over UDP and TCP on one loopback port.

    ``records`` maps (name, type) to rdata texts. Unknown names get NXDOMAIN; known names asked
    for another type get an empty NOERROR with the zone's SOA. UDP answers larger than 512 bytes
    are sent truncated (TC bit), as a real server without EDNS would.
    """

    SOA = "ns1.test. hostmaster.test. 2024010101 3600 600 86400 300"

    def __init__(self, zone: str, records: dict[tuple[str, str], list[str]]) -> None:
        self.zone = zone
        self.records = records
        self.queries: Counter[str] = Counter()
        self._stop = threading.Event()
        self.udp, self.tcp = self._bind()
        self.port = self.udp.getsockname()[1]
        self.threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    @staticmethod
    def _bind() -> tuple[socket.socket, socket.socket]:
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            udp.settimeout(0.2)
            tcp.settimeout(0.2)
            return udp, tcp
        raise RuntimeError("no port free for both UDP and TCP")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, wire: bytes, max_size: int) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        rdatas = self.records.get((name, rdtype))
        if rdatas:
            response.answer.append(dns.rrset.from_text_list(name, 300, "IN", rdtype, rdatas))
        elif any(known == name for known, _ in self.records):
            response.authority.append(dns.rrset.from_text(self.zone, 300, "IN", "SOA", self.SOA))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(dns.rrset.from_text(self.zone, 300, "IN", "SOA", self.SOA))
        response.flags |= dns.flags.AA
        data = response.to_wire()
        if len(data) > max_size:
            response.answer, response.authority = [], []
            response.flags |= dns.flags.TC
            data = response.to_wire()
        return data

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.udp.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            self.queries["udp"] += 1
            with contextlib.suppress(OSError):
                self.udp.sendto(self.answer(wire, 512), peer)

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2)
                try:
                    size = struct.unpack("!H", _recv_exact(conn, 2))[0]
                    data = self.answer(_recv_exact(conn, size), 65535)
                    self.queries["tcp"] += 1
                    conn.sendall(struct.pack("!H", len(data)) + data)
                except (OSError, ValueError):
                    continue

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.udp.close()
        self.tcp.close()


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ValueError("connection closed")
        data += chunk
    return data


class InventoryFeed:
    """The service desk's HTTP-SD feed as the collectors see it: JSON groups behind a token."""

    def __init__(self, token: str, groups: list[dict[str, object]]) -> None:
        self.token = token
        self.groups = groups
        self.requests = 0
        feed = self

        class FeedHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                feed.requests += 1
                if self.headers.get("Authorization") != f"Bearer {feed.token}":
                    body, code = b'{"detail": "not authenticated"}', 401
                else:
                    body, code = json.dumps(feed.groups).encode(), 200
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/inventory/targets"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
