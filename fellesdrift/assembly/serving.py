"""Serving an ASGI app with uvicorn, one process or several workers.

Two things uvicorn's own ``--workers`` gets wrong, fixed here:

* Balance. uvicorn's workers share one listening socket, and asyncio accepts every pending
  connection in one go, so the worker that wakes first takes a whole burst of them: 32
  keep-alive clients all ended up on one worker while the other idled, for as long as the
  connections lived. Here each worker listens on its own socket with ``SO_REUSEPORT`` and the
  kernel spreads new connections over them.
* Nagle. uvicorn binds its socket as ``socket.socket(AF_INET)``, whose protocol number is 0;
  asyncio turns Nagle's algorithm off only on sockets whose protocol is TCP, so a response
  written in two pieces (headers, then body) waited for the client's delayed ACK: about
  40 ms added to every request on Linux. Our listening sockets get ``TCP_NODELAY``, which
  accepted connections inherit.

And one thing for any long-running Python server: the garbage collector. Each request makes
tens of thousands of objects; with the default threshold (700 new objects) the collector ran
dozens of times per request and took about a fifth of a page's CPU, and its full passes over
everything start-up made (modules, models, routes: some hundred thousand objects) stalled
every request in flight for 30-230 ms. A worker loads the app, then freezes what exists (the
collector skips it from then on) and collects the young generation every 20,000 objects.

    python -m fellesdrift.assembly.serving MODULE:APP [--factory] [--host H] [--port P] \
        [--workers N]

serves like ``fellesdrift serve`` does (the benchmarks serve their peers this way). The parent
process starts the workers, restarts one that dies, and on SIGINT or SIGTERM stops them all.
"""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import signal
import socket
import threading
import time
from typing import Any

import uvicorn

_log = logging.getLogger("uvicorn.error")


class _Config(uvicorn.Config):
    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def worker_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket of one worker: ``SO_REUSEPORT`` (the kernel balances connections
    over the workers' sockets) and ``TCP_NODELAY`` (inherited by accepted connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


#: The collector's thresholds once the app is loaded (Python's default is 700, 10, 10).
GC_THRESHOLDS = (20_000, 10, 10)


def _run(config: uvicorn.Config, sockets: list[socket.socket] | None = None) -> None:
    """Load the app, set the garbage collector aside from what loading made, and serve."""
    config.load()  # imports and makes the app; uvicorn does not load it twice
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    uvicorn.Server(config).run(sockets=sockets)


def _worker(app: Any, host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own socket, one uvicorn server (which handles SIGINT/SIGTERM
    by finishing the requests in flight)."""
    config = _Config(app, host=host, port=port, **options)
    _run(config, [worker_socket(host, port, config.backlog)])


#: A worker that dies within this many seconds of its start is not restarted: the app, its
#: settings or the address are broken, and would break the same way again.
_STARTUP_GRACE_SECONDS = 10.0


def _supervise(app: Any, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start() -> tuple[Any, float]:
        process = context.Process(target=_worker, args=(app, host, port, options))
        process.start()
        return process, time.monotonic()

    def stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = [start() for _ in range(workers)]
    failed = False
    try:
        while not stopping.wait(0.5):
            for index, (process, started) in enumerate(running):
                if process.is_alive():
                    continue
                process.join()
                if time.monotonic() - started < _STARTUP_GRACE_SECONDS:
                    _log.error(
                        "worker %s exited with %s at start; stopping", process.pid, process.exitcode
                    )
                    failed = True
                    stopping.set()
                    break
                _log.warning("worker %s died (%s); restarting", process.pid, process.exitcode)
                running[index] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn shuts down gracefully
        for process, _ in running:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise SystemExit(1)


def serve(app: Any, *, host: str, port: int, workers: int = 1, **options: Any) -> None:
    """Serve ``app`` (an app, or with ``workers`` > 1 an import string) until stopped."""
    if workers <= 1:
        _run(_Config(app, host=host, port=port, **options))
        return
    if not isinstance(app, str):
        raise ValueError("several workers need the app as an import string (MODULE:ATTRIBUTE)")
    _supervise(app, host, port, workers, options)


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
