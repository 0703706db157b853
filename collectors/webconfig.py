"""``--web-config-file``: TLS and authentication for the collector's /metrics, in the format of
the Prometheus exporter toolkit's web configuration file (as node_exporter and
blackbox_exporter read it), plus a bearer token::

    tls_server_config:
      cert_file: /etc/fellesdrift/collector.crt   # chain, leaf first
      key_file: /etc/fellesdrift/collector.key
    basic_auth_users:                              # user: bcrypt hash (htpasswd -nBC 10 "" ...)
      prometheus: $2y$10$...
    bearer_token_file: /etc/fellesdrift/collector.token   # fellesdrift's own addition

Either kind of credential admits a scrape when any is configured; without a file /metrics is
open, as before (listen on loopback then). The labels name kommuner, systems and target
addresses, so a collector listening beyond loopback should use this file.
"""

from __future__ import annotations

import base64
import hmac
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

WsgiApp = Callable[[dict[str, Any], Any], list[bytes]]
KNOWN_KEYS = frozenset({"tls_server_config", "basic_auth_users", "bearer_token_file"})


@dataclass(frozen=True)
class WebConfig:
    cert_file: str = ""
    key_file: str = ""
    users: dict[str, bytes] = field(default_factory=dict)
    bearer_token: str = ""

    @property
    def auth_required(self) -> bool:
        return bool(self.users or self.bearer_token)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.cert_file:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def admits(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header carries one of the configured credentials."""
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and self.bearer_token:
            return hmac.compare_digest(value.strip().encode(), self.bearer_token.encode())
        if scheme.lower() == "basic" and self.users:
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            hashed = self.users.get(user)
            return hashed is not None and bcrypt.checkpw(password.encode(), hashed)
        return False


def load(path: Path) -> WebConfig:
    """Read and check the file; a ``ValueError`` names what is wrong (the collector then
    refuses to start, rather than serve /metrics openly by mistake)."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"--web-config-file {path}: {exc}") from None
    if not isinstance(raw, dict) or set(raw) - KNOWN_KEYS:
        unknown = sorted(set(raw) - KNOWN_KEYS) if isinstance(raw, dict) else raw
        raise ValueError(f"--web-config-file {path}: unknown keys {unknown}")
    tls = raw.get("tls_server_config") or {}
    if bool(tls.get("cert_file")) != bool(tls.get("key_file")):
        raise ValueError(f"--web-config-file {path}: TLS needs both cert_file and key_file")
    users = {}
    for user, hashed in (raw.get("basic_auth_users") or {}).items():
        if not str(hashed).startswith(("$2a$", "$2b$", "$2y$")):
            raise ValueError(f"--web-config-file {path}: user {user!r} needs a bcrypt hash")
        users[str(user)] = str(hashed).encode()
    token = ""
    if raw.get("bearer_token_file"):
        try:
            token = Path(raw["bearer_token_file"]).read_text().strip()
        except OSError as exc:
            raise ValueError(f"--web-config-file {path}: {exc}") from None
        if len(token) < 32:
            raise ValueError(f"--web-config-file {path}: the bearer token is shorter than 32")
    config = WebConfig(tls.get("cert_file", ""), tls.get("key_file", ""), users, token)
    try:
        config.ssl_context()  # unreadable certificate or key: refuse now, not at a scrape
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"--web-config-file {path}: TLS certificate or key: {exc}") from None
    return config


def guarded(app: WsgiApp, config: WebConfig) -> WsgiApp:
    """``app`` behind the configured credentials: 401 with a challenge without them."""
    if not config.auth_required:
        return app
    challenge = 'Basic realm="fellesdrift-collector"' if config.users else "Bearer"

    def check(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if config.admits(environ.get("HTTP_AUTHORIZATION", "")):
            return app(environ, start_response)
        headers = [("Content-Type", "text/plain"), ("WWW-Authenticate", challenge)]
        start_response("401 Unauthorized", headers)
        return [b"401 Unauthorized\n"]

    return check


def secured(app: WsgiApp, config: WebConfig | None, serve: Callable[[WsgiApp], Any]) -> Any:
    """Serve ``app`` with ``serve(app) -> server`` behind the credentials and over TLS where
    ``config`` asks for them (``None``: plain HTTP, no credentials)."""
    server = serve(guarded(app, config) if config is not None else app)
    context = config.ssl_context() if config is not None else None
    if context is not None:
        # The handshake happens on the first read, in the request's own thread: a slow or
        # silent client then holds up only itself, not the accepting loop.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    return server
