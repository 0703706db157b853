"""``--workers W``: one collector as W processes, so polls use every core.

Python runs one thread at a time per process, so a single collector process is capped near one
core. With ``--workers W`` the process started by systemd is a supervisor: it starts W workers
(``python -m collectors.cli <same options> --worker j/W --listen 127.0.0.1:0``), each polling
part ``j`` of ``W`` of the collector's shard (``Shard.part``: hashmod by N*W, so every target is
in exactly one worker and the split is the one Prometheus's ``hashmod`` would make), restarts a
worker that dies, passes SIGHUP on, and serves ``/metrics`` as the union of the workers'
expositions: each family's HELP and TYPE once, then the samples of every worker. Per-target
series come from exactly one worker; the collector's own series carry ``worker``.
``fellesdrift_collector_worker_up{worker}`` is 0 for a worker whose /metrics could not be read.

Each worker reads the target sources itself (W reads of the file and the feed per refresh).
"""

from __future__ import annotations

import gzip
import logging
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from collectors.webconfig import WebConfig, secured

log = logging.getLogger(__name__)
UP = "fellesdrift_collector_worker_up"


def merge(texts: list[str]) -> str:
    """Union of expositions in the text format 0.0.4 (as ``exposition._Families.text`` writes
    them: a ``# HELP`` and a ``# TYPE`` line, then the family's samples). Label values never hold
    a raw newline (they are escaped), so every ``\\n# HELP `` starts a family."""
    heads: dict[str, str] = {}
    bodies: dict[str, list[str]] = {}
    for text in texts:
        for block in ("\n" + text).split("\n# HELP ")[1:]:
            first = block.find("\n")
            second = block.find("\n", first + 1)
            if first < 0 or second < 0:
                continue  # a cut-off exposition: its last family is left out
            name = block[: block.find(" ")]
            heads.setdefault(name, "# HELP " + block[: second + 1])
            body = block[second + 1 :]
            if body and not body.endswith("\n"):
                body += "\n"
            bodies.setdefault(name, []).append(body)
    return "".join(heads[name] + "".join(bodies[name]) for name in heads)


class Worker:
    def __init__(self, index: int, count: int, argv: list[str]) -> None:
        self.index, self.count, self.argv = index, count, argv
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> None:
        command = [
            sys.executable,
            "-m",
            "collectors.cli",
            *self.argv,
            "--worker",
            f"{self.index}/{self.count}",
            "--listen",
            "127.0.0.1:0",
        ]
        # Our own interpreter and module, with the options the operator gave the supervisor.
        process = subprocess.Popen(  # noqa: S603
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
        )
        self.process = process
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line.isdigit():
            raise RuntimeError(f"worker {self.index} did not start (exit {process.poll()})")
        self.url = f"http://127.0.0.1:{line}/metrics"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Workers:
    """The supervisor's side: start, watch, scrape and stop the worker processes."""

    def __init__(self, argv: list[str], count: int) -> None:
        self.workers = [Worker(j, count, argv) for j in range(count)]
        self._stop = threading.Event()
        self._fetch = ThreadPoolExecutor(count, thread_name_prefix="worker-scrape")
        self._watch = threading.Thread(target=self._restart_dead, name="workers", daemon=True)

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        self._watch.start()

    def reload(self) -> None:
        for worker in self.workers:
            worker.signal(signal.SIGHUP)

    def stop(self) -> None:
        self._stop.set()
        for worker in self.workers:
            worker.stop()
        self._fetch.shutdown(wait=False)

    def text(self) -> bytes:
        """The merged /metrics of all workers (the interface of exposition.metrics_app)."""
        results = list(self._fetch.map(_scrape, [w.url for w in self.workers]))
        texts = [t for t in results if t is not None]
        up = "".join(
            f'{UP}{{worker="{w.index}"}} {1.0 if t is not None else 0.0}\n'
            for w, t in zip(self.workers, results, strict=True)
        )
        head = f"# HELP {UP} Whether the worker's /metrics could be read.\n# TYPE {UP} gauge\n"
        return (merge(texts) + head + up).encode()

    def _restart_dead(self) -> None:
        while not self._stop.wait(1.0):
            for worker in self.workers:
                if not worker.alive() and not self._stop.is_set():
                    code = worker.process.returncode if worker.process else None
                    log.error("worker %d ended (exit %s); restarting it", worker.index, code)
                    try:
                        worker.start()
                    except RuntimeError as exc:
                        log.error("%s", exc)
                        time.sleep(5)


def _scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
            return str(response.read().decode())
    except OSError as exc:
        log.warning("cannot read %s: %s", url, exc)
        return None


# The supervisor's own small /metrics server (the same answers as exposition.metrics_app), so it
# need not import prometheus-client, the probes and the scheduler just to serve text.
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--listen {text!r}: expected host:port, e.g. 127.0.0.1:9700")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - only when asked for


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


Start = Callable[[str, list[tuple[str, str]]], Any]


def serve_text(
    workers: Workers, listen: str, web: WebConfig | None = None
) -> tuple[WSGIServer, threading.Thread]:
    host, port = parse_listen(listen)

    def app(environ: dict[str, Any], start_response: Start) -> list[bytes]:
        body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else workers.text()
        headers = [("Content-Type", TEXT_FORMAT)]
        if body and "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    server_class = type("Server", (_Server,), {"address_family": _family(host)})
    server: WSGIServer = secured(
        app, web, lambda guarded_app: make_server(host, port, guarded_app, server_class, _Quiet)
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return server, thread


def _family(host: str) -> int:
    import socket

    return socket.AF_INET6 if ":" in host else socket.AF_INET
