"""Our side of the probe and SSH benchmarks: one collector target, polled on command.

    python -m bench.poller --probe http --target http://127.0.0.1:8080/

A separate process, so its CPU time can be read from ``/proc/<pid>/stat`` exactly as the peer's
is. It builds what the collector service builds (the probe registry, the store, the runner) with
one target, then reads commands from stdin, one a line, and answers each with one line:

* ``poll N``: N polls of the target through ``Runner.poll`` (the scheduler's job function: probe
  run, deadline, store update); answers ``ok <failed polls> <last reason>``;
* ``fresh N``: like ``poll N``, but every poll on a new connection (the probe's kept connections
  are closed before each one): the cost of a connection per poll;
* ``scrape N``: N renders of ``/metrics`` from the store, through the collector's own WSGI app
  (text format, gzip-compressed as for Prometheus, which asks for gzip), without the HTTP server;
* ``quit``.

Between commands the process sleeps on stdin and spends no CPU (no scheduler, no watchdog), so a
CPU reading taken around one command is that command's cost.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from collectors.exposition import CachedCollector, metrics_app
from collectors.probes import ProbeEnv, build_probes
from collectors.runner import Runner
from collectors.state import Store
from collectors.targets import FILE, Builder


def build(args: argparse.Namespace) -> tuple[Runner, list[str]]:
    env = ProbeEnv(known_hosts=args.known_hosts, ssh_key=args.ssh_key, ssh_user=args.ssh_user)
    probes = build_probes(env)
    store = Store()
    for address in args.target:
        target = Builder(probes).build(
            address=address,
            source=FILE,
            probe=args.probe,
            options=json.loads(args.options),
            interval=60,
            timeout=args.timeout,
        )
        store.put(target)
    return Runner(store, probes), [t.target.key for t in store.targets.values()]


def scrape(app: Any) -> int:
    """One GET /metrics through the collector's WSGI app, gzip accepted as Prometheus does."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "HTTP_ACCEPT_ENCODING": "gzip"}
    return sum(len(part) for part in app(environ, lambda status, headers: None))


def serve(runner: Runner, keys: list[str]) -> None:
    app = metrics_app(CachedCollector(runner.store))
    for line in sys.stdin:
        command, _, count = line.strip().partition(" ")
        if command == "quit":
            break
        n = int(count or "1")
        if command in ("poll", "fresh"):
            failed, reason = 0, ""
            for _ in range(n):
                for key in keys:
                    if command == "fresh":
                        runner.probes[runner.store.targets[key].target.probe].close()
                    runner.poll(key)
                    entry = runner.store.get(key)
                    if entry is not None and not entry.success:
                        failed, reason = failed + 1, f"{entry.last_reason}: {entry.last_detail}"
            print(f"ok {failed} {reason}".strip(), flush=True)
        elif command == "scrape":
            size = sum(scrape(app) for _ in range(n))
            print(f"ok {size}", flush=True)
        else:
            print(f"error unknown command {command!r}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probe", required=True)
    parser.add_argument("--target", required=True, action="append", help="one or more")
    parser.add_argument("--options", default="{}", help="the target's probe options, as JSON")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--ssh-key", type=Path)
    parser.add_argument("--known-hosts", type=Path)
    parser.add_argument("--ssh-user", default="fellesdrift")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    runner, keys = build(args)
    print("ready", flush=True)
    serve(runner, keys)
    for probe in runner.probes.values():
        probe.close()


if __name__ == "__main__":
    main()
