"""Serving an ASGI app with uvicorn, one process or several workers.

With ``--workers`` uvicorn binds the listening socket itself as ``socket.socket(AF_INET)``,
whose protocol number is 0; asyncio turns Nagle's algorithm off only on sockets whose protocol
is TCP, so every connection a worker accepted kept it on. A response written in two pieces
(headers, then body) then waits for the client's delayed ACK: about 40 ms added to every
request on Linux. Here the listening socket gets TCP_NODELAY, which accepted connections
inherit.

    python -m fellesdrift.serving MODULE:APP [--factory] [--host H] [--port P] [--workers N]

serves like ``fellesdrift serve`` does (the benchmarks serve their peers this way).
"""

from __future__ import annotations

import argparse
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess


class _Config(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def serve(app: Any, *, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """Serve ``app`` (an app, or with ``workers`` > 1 an import string) until stopped."""
    config = _Config(app, host=host, port=port, workers=workers, **options)
    server = uvicorn.Server(config)
    if workers <= 1:
        server.run()
        return
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="MODULE:ATTRIBUTE")
    parser.add_argument("--factory", action="store_true", help="APP is a function making it")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    serve(
        args.app,
        factory=args.factory,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
