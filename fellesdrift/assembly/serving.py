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
process starts the workers, restarts one that crashes (with backoff, never stopping the others),
exits 1 when the first workers cannot start, and on SIGINT or SIGTERM stops them all.
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
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
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


class _Server(uvicorn.Server):
    """A uvicorn server that tells its supervisor, through ``ready``, once it serves."""

    def __init__(self, config: uvicorn.Config, ready: Connection | None = None) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._ready is not None:
            self._ready.send(True)
            self._ready.close()


def _run(
    config: uvicorn.Config,
    sockets: Callable[[], list[socket.socket]] | None = None,
    ready: Connection | None = None,
) -> None:
    """Load the app, set the garbage collector aside from what loading made, and serve."""
    config.load()  # imports and makes the app; uvicorn does not load it twice
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    _Server(config, ready).run(sockets=sockets() if sockets else None)


def _worker(app: Any, host: str, port: int, options: dict[str, Any], ready: Connection) -> None:
    """One worker process: its own socket, one uvicorn server (which handles SIGINT/SIGTERM
    by finishing the requests in flight). The socket is bound once the app is loaded, so the
    kernel sends no connection to a worker that is still starting (or fails to)."""
    config = _Config(app, host=host, port=port, **options)
    _run(config, lambda: [worker_socket(host, port, config.backlog)], ready)


#: A worker that crashes is restarted after a delay that doubles with each crash of its slot
#: in a row (0, 0.5, 1, 2, ... s, at most _BACKOFF_MAX_SECONDS), so a crash loop costs little
#: CPU and fills no log, while the other workers go on serving.
_BACKOFF_FIRST_SECONDS = 0.5
_BACKOFF_MAX_SECONDS = 30.0
#: A worker that has served this long has recovered: its slot's next crash starts over at 0.
_STABLE_SECONDS = 60.0


def _backoff(crashes: int) -> float:
    if crashes <= 1:
        return 0.0
    return min(_BACKOFF_MAX_SECONDS, _BACKOFF_FIRST_SECONDS * 2 ** (crashes - 2))


def _heard_ready(reader: Connection) -> bool:
    try:
        return bool(reader.poll() and reader.recv() is True)
    except (EOFError, OSError):  # the worker died without saying it serves
        return False


@dataclass
class _Slot:
    """One worker's place: its current process (None while waiting to restart it)."""

    process: Any = None
    ready: Connection | None = None
    started: float = 0.0
    served: bool = False
    crashes: int = 0
    restart_at: float = 0.0


class _Supervisor:
    """Starts the workers and keeps them running.

    A worker that exits before it ever served while no worker has served yet is a broken
    start-up (the app, its settings or the address are broken and would break the same way
    again): every worker is stopped and the server exits 1. Any other exit is a crash: that
    worker alone is restarted, with backoff; the healthy workers are never stopped for it.
    """

    def __init__(self, app: Any, host: str, port: int, workers: int, options: dict[str, Any]):
        self._context = multiprocessing.get_context("spawn")
        self._args = (app, host, port, options)
        self.slots = [_Slot() for _ in range(workers)]
        self.served = False

    def start(self, slot: _Slot) -> None:
        reader, writer = self._context.Pipe(duplex=False)
        slot.process = self._context.Process(target=_worker, args=(*self._args, writer))
        slot.process.start()
        writer.close()
        slot.ready, slot.started, slot.served = reader, time.monotonic(), False

    def check(self, slot: _Slot, now: float) -> bool:
        """Look after one slot; False for a broken start-up."""
        if slot.process is None:
            if now >= slot.restart_at:
                self.start(slot)
            return True
        if not slot.served and slot.ready is not None and _heard_ready(slot.ready):
            slot.served = self.served = True
        if slot.process.is_alive():
            if slot.served and now - slot.started > _STABLE_SECONDS:
                slot.crashes = 0
            return True
        return self._exited(slot, now)

    def _exited(self, slot: _Slot, now: float) -> bool:
        process, when = slot.process, "after serving" if slot.served else "before it served"
        process.join()
        if slot.ready is not None:
            slot.ready.close()
        if not slot.served and not self.served:
            _log.error("worker %s exited with %s at start; stopping", process.pid, process.exitcode)
            return False
        slot.crashes += 1
        delay = _backoff(slot.crashes)
        _log.warning(
            "worker %s exited with %s %s; restarting in %.1f s",
            *(process.pid, process.exitcode, when, delay),
        )
        slot.process, slot.ready, slot.restart_at = None, None, now + delay
        return True

    def stop(self) -> None:
        running = [slot.process for slot in self.slots if slot.process is not None]
        for process in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn shuts down gracefully
        for process in running:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()


def _supervise(app: Any, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    stopping = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    supervisor = _Supervisor(app, host, port, workers, options)
    failed = False
    try:
        for slot in supervisor.slots:
            supervisor.start(slot)
        while not failed and not stopping.wait(0.2):
            now = time.monotonic()
            failed = not all([supervisor.check(slot, now) for slot in supervisor.slots])
    finally:
        supervisor.stop()
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
