"""``fellesdrift-collector``: poll targets and serve their metrics at /metrics.

Example::

    fellesdrift-collector --inventory-url https://drift.example/api/v1/inventory/targets \\
        --inventory-token-file /etc/fellesdrift/inventory-token \\
        --targets-file /etc/fellesdrift/targets.yaml --listen 127.0.0.1:9700 --shard 0/2 \\
        --known-hosts /etc/fellesdrift/known_hosts --ssh-key /etc/fellesdrift/id_ed25519

SIGHUP reloads every target source at once; SIGTERM and SIGINT stop.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from collectors import webconfig
from collectors.sharding import Shard

if TYPE_CHECKING:  # imported where used: the --workers supervisor needs none of them
    from collectors.scheduler import CollectorService, Settings

log = logging.getLogger("collectors")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fellesdrift-collector", description=__doc__.split("\n")[0])
    p.add_argument("--targets-file", type=Path, help="YAML file of targets and modules")
    p.add_argument("--inventory-url", help="the service desk's HTTP-SD inventory feed")
    p.add_argument("--inventory-token-file", type=Path, help="file holding the feed's bearer token")
    p.add_argument("--inventory-refresh", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--listen", default="127.0.0.1:9700", help="host:port for /metrics")
    p.add_argument(
        "--web-config-file",
        type=Path,
        help="TLS and basic/bearer auth for /metrics (exporter-toolkit format, see deploy/)",
    )
    p.add_argument(
        "--shard",
        type=Shard.parse,
        default=Shard(),
        metavar="i/N",
        help="poll only targets whose hashmod(address, N) is i (default 0/1)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=64,
        help="polls active at once at most (a poll waiting on a slow target frees its slot)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes polling parts of this shard (use every core; default 1)",
    )
    p.add_argument("--worker", type=Shard.parse, help=argparse.SUPPRESS)  # set by --workers
    p.add_argument("--known-hosts", type=Path, help="known_hosts file for SSH host keys")
    p.add_argument("--ssh-key", type=Path, help="private key for SSH targets")
    p.add_argument("--ssh-user", default="fellesdrift", help="SSH user unless a target names one")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument(
        "--print-ssh-command",
        nargs="*",
        metavar="UNIT",
        help="print the read-only report command for SSH hosts (with these systemd "
        "units) for use as a forced command, and exit",
    )
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    from collectors.probes import ProbeEnv
    from collectors.scheduler import Settings

    env = ProbeEnv(known_hosts=args.known_hosts, ssh_key=args.ssh_key, ssh_user=args.ssh_user)
    return Settings(
        targets_file=args.targets_file,
        inventory_url=args.inventory_url,
        inventory_token_file=args.inventory_token_file,
        shard=args.shard,
        concurrency=args.concurrency,
        worker=args.worker,
        inventory_refresh_seconds=args.inventory_refresh,
        env=env,
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.print_ssh_command is not None:
        from collectors.probes.node import report_command

        try:
            sys.stdout.write(report_command(args.print_ssh_command) + "\n")
        except ValueError as exc:
            sys.stderr.write(f"fellesdrift-collector: {exc}\n")
            return 2
        return 0
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.log_level != "DEBUG":
        # One line per job at start-up and paramiko's tracebacks for every unreachable host
        # would drown the collector's own log; each failure is in the metrics with its reason.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    if args.workers < 1:
        sys.stderr.write("fellesdrift-collector: --workers must be at least 1\n")
        return 2
    if args.workers > 1 and args.worker is None:
        return supervise(_worker_argv(argv if argv is not None else sys.argv[1:]), args)
    from collectors.exposition import parse_listen
    from collectors.scheduler import CollectorService

    try:
        parse_listen(args.listen)
        web = webconfig.load(args.web_config_file) if args.web_config_file else None
        service = CollectorService(settings_from(args))
    except ValueError as exc:
        sys.stderr.write(f"fellesdrift-collector: {exc}\n")
        return 2
    return run(service, args.listen, web)


# A thread whose socket has data waits for the GIL until the running thread gives it up: by
# default after up to 5 ms. With polls and scrapes running beside each other, that hand-over
# lands inside the timed phases and made probe_duration_seconds about 2.3 times blackbox's for
# the same request. 0.5 ms keeps the wait below the exchange it times.
SWITCH_INTERVAL = 0.0005


def run(service: CollectorService, listen: str, web: webconfig.WebConfig | None = None) -> int:
    """Poll and serve /metrics until stopped. ``web`` guards what is served; a worker of
    ``--workers`` serves its supervisor on loopback and the supervisor applies it."""
    from collectors.exposition import new_registry, serve

    stop = threading.Event()
    sys.setswitchinterval(SWITCH_INTERVAL)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            log.info("SIGHUP: reloading targets")
            threading.Thread(target=service.reload, name="reload", daemon=True).start()
        else:
            stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    service.start()
    server, thread = serve(
        new_registry(service.store), listen, web if service.settings.worker is None else None
    )
    if service.settings.worker is not None:  # tell the supervisor where /metrics is
        sys.stdout.write(f"{server.server_port}\n")
        sys.stdout.flush()
        _stop_when_orphaned(stop)
    log.info("serving /metrics on %s", listen)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        service.stop()
    return 0


def _stop_when_orphaned(stop: threading.Event) -> None:
    """A worker whose supervisor is gone (killed, crashed) stops too, instead of polling on
    unseen: its parent changes when the supervisor ends."""
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                log.error("the supervisor (pid %d) is gone: stopping", parent)
                stop.set()

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def _worker_argv(argv: list[str]) -> list[str]:
    """The supervisor's options without --workers and --listen (each worker gets its own) and
    --web-config-file (the supervisor serves the outside; workers answer it on loopback)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--workers", "--listen", "--web-config-file"):
            skip = True
        elif not arg.startswith(("--workers=", "--listen=", "--web-config-file=")):
            out.append(arg)
    return out


def supervise(worker_argv: list[str], args: argparse.Namespace) -> int:
    """--workers W: start the workers and serve their merged /metrics (collectors.workers).
    It imports neither the probes nor the scheduler: it holds no more memory than it needs."""
    from collectors.workers import Workers, parse_listen, serve_text

    try:
        parse_listen(args.listen)
        web = webconfig.load(args.web_config_file) if args.web_config_file else None
    except ValueError as exc:
        sys.stderr.write(f"fellesdrift-collector: {exc}\n")
        return 2
    workers = Workers(worker_argv, args.workers)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            workers.reload()
        else:
            stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        workers.start()
        server, thread = serve_text(workers, args.listen, web)
    except (RuntimeError, OSError) as exc:
        workers.stop()
        sys.stderr.write(f"fellesdrift-collector: {exc}\n")
        return 1
    log.info("serving the /metrics of %d workers on %s", args.workers, args.listen)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        workers.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
