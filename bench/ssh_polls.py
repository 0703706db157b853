"""SSH host polls per CPU second: the collector's ssh probe against OpenSSH's ControlMaster.

    python -m bench.ssh_polls --rounds 7 --polls 100    # the figure for BENCHMARKS.md
    python -m bench.ssh_polls --small                   # the smoke run CI does

Both sides run the same command line (the collector's read-only node report,
``collectors.probes.node.report_command``) against the same sshd, started here on a loopback
port with a throw-away host key, one authorised ed25519 key and a known_hosts file.

* **ours**: ``bench.poller`` with one ssh target: ``Runner.poll`` on the probe's kept paramiko
  connection, one channel per poll, the output read and parsed into node_exporter metrics and
  stored. CPU: that process.
* **peer**: ``ssh -o ControlMaster=auto -o ControlPersist=...``: one master connection kept open,
  and for each poll one ``ssh`` client process that hands its command to the master over the
  control socket; the output lands in a pipe that this harness reads (and does not parse). CPU:
  every client process (``RUSAGE_CHILDREN``) plus the master (``/proc/<pid>/stat``).

The connection is set up before the measured rounds on both sides (warm-up), so the figure is
the steady state of a kept connection. Batches alternate (peer, ours, ours, peer, ...); the figure
is the median of the per-round ratios of polls per CPU second, ours/peer, with their range.

Further figures, each round (``--hosts``, default 100):

* **idle**: ``--hosts`` kept connections (one sshd listening on as many ports, so as many hosts
  to both clients) left alone for ``--idle`` seconds: ours in one bench.poller process with that
  many targets (keepalive after 120 s of silence), the peer as many ControlMasters with
  ``ServerAliveInterval=120``. With the per-poll cost this gives the CPU per poll at the default
  60 s interval, idle cost included: ``per poll + idle per connection-second x 60``.
* **connection per poll**: ours with the kept connection closed before each poll, and
  OpenSSH's ``ssh`` without a master, each doing the whole handshake.
* **host side**: what the monitored host spends per poll, against a node_exporter scrape
  (Debian's prometheus-node-exporter, default flags, scraped over HTTP; CPU from
  ``/proc/<pid>/stat``): the sshd processes of the kept connection (their own CPU, during our
  polls) plus the report command itself, run here with ``sh -c`` (``RUSAGE_CHILDREN``). The
  login shell that sshd starts the command with is left out: the bench account is root, whose
  ``.bashrc`` runs pyenv; the collector's account has ``/bin/sh``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.loopback import (
    SSHD,
    TICKS,
    children_cpu_seconds,
    cpu_seconds,
    free_port,
    node_exporter,
    sshd,
    summary,
)
from bench.probes import Ours
from collectors.probes.node import report_command

UNITS = ("ssh.service", "cron.service")
MASTER_PID = re.compile(r"pid=(\d+)")
TIMEOUT = 30  # seconds for one poll, both sides: generous, a loaded machine must not fail it


@dataclass
class Figures:
    peer: list[float] = field(default_factory=list)  # polls per CPU second, one per round
    ours: list[float] = field(default_factory=list)
    # CPU seconds, one per round: per connection-second idle, per poll with a new connection,
    # and on the host per poll (ours) and per node_exporter scrape
    idle_ours: list[float] = field(default_factory=list)
    idle_peer: list[float] = field(default_factory=list)
    fresh_ours: list[float] = field(default_factory=list)
    fresh_peer: list[float] = field(default_factory=list)
    host_ours: list[float] = field(default_factory=list)
    host_peer: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        return [o / p for o, p in zip(self.ours, self.peer, strict=True)]

    def at_interval(self, interval: float) -> tuple[list[float], list[float]]:
        """CPU seconds per poll at ``interval``, idle cost included: (ours, peer) per round."""
        ours = [1 / o + i * interval for o, i in zip(self.ours, self.idle_ours, strict=True)]
        peer = [1 / p + i * interval for p, i in zip(self.peer, self.idle_peer, strict=True)]
        return ours, peer


class OpenSSH:
    """``ssh`` with a persistent ControlMaster connection to ``server``."""

    def __init__(
        self, server: SSHD, directory: Path, address: str = "", master: bool = True
    ) -> None:
        port = int(address.rsplit(":", 1)[1]) if address else server.port
        self.base = [
            "ssh",
            "-F",
            "/dev/null",  # no user or system configuration
            "-o",
            f"ControlMaster={'auto' if master else 'no'}",
            "-o",
            "ServerAliveInterval=120",  # as our keepalive_seconds
            "-o",
            f"ControlPath={directory / 'cm-%C'}",
            "-o",
            "ControlPersist=yes",  # until -O exit: the idle masters outlive any round
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={server.known_hosts}",
            "-o",
            "IdentitiesOnly=yes",
            "-i",
            str(server.key),
            "-p",
            str(port),
            "-l",
            server.user,
            "127.0.0.1",
        ]
        self.command = report_command(UNITS)
        self.master = 0
        self._run()  # starts the master
        if not master:
            return
        check = subprocess.run([*self.base[:-1], "-O", "check", "127.0.0.1"], capture_output=True)
        found = MASTER_PID.search(check.stderr.decode())
        if found is None:
            self.close()
            raise RuntimeError(f"no ControlMaster running: {check.stderr.decode().strip()}")
        self.master = int(found.group(1))

    def _run(self) -> None:
        done = subprocess.run([*self.base, self.command], capture_output=True, timeout=TIMEOUT)
        if b"@@fellesdrift end" not in done.stdout:
            raise RuntimeError(f"ssh poll failed ({done.returncode}): {done.stderr.decode()}")

    def polls(self, n: int) -> float:
        """CPU seconds of n polls: the client processes and the master."""
        before = children_cpu_seconds() + self._master_cpu()
        for _ in range(n):
            self._run()
        return children_cpu_seconds() + self._master_cpu() - before

    def _master_cpu(self) -> float:
        return cpu_seconds(self.master) if self.master else 0.0

    def close(self) -> None:
        if self.master:
            subprocess.run([*self.base[:-1], "-O", "exit", "127.0.0.1"], capture_output=True)


def measure(rounds: int, polls: int, hosts: int = 100, idle: float = 10) -> Figures:
    figures = Figures()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ssh-")))
        server = stack.enter_context(sshd(tmp, ports=hosts))
        ours, many = (
            _ours(stack, server, [server.address]),
            _ours(stack, server, server.addresses),
        )
        peer = OpenSSH(server, tmp)
        stack.callback(peer.close)
        plain = OpenSSH(server, tmp, master=False)
        masters = [OpenSSH(server, tmp, address) for address in server.addresses]
        for master in masters:
            stack.callback(master.close)
        exporter_port = free_port()
        exporter = stack.enter_context(node_exporter(tmp, exporter_port))
        scrapes = httpx.Client(base_url=f"http://127.0.0.1:{exporter_port}", timeout=10)
        stack.callback(scrapes.close)
        peer.polls(min(10, polls))  # warm-up: the master and our connection exist after it
        ours.polls(min(10, polls))
        many.polls(1)  # every connection of the idle figure is open after it
        for number in range(rounds):
            sides = [
                lambda: figures.peer.append(_rate(polls, peer.polls(polls))),
                lambda: figures.ours.append(_rate(polls, _host(figures, server, ours, polls))),
                lambda: figures.fresh_peer.append(plain.polls(polls) / polls),
                lambda: figures.fresh_ours.append(_fresh(ours, polls)),
            ]
            for side in sides if number % 2 == 0 else sides[::-1]:
                side()
            figures.idle_ours.append(_idle([many.process.pid], idle) / hosts)
            figures.idle_peer.append(_idle([m.master for m in masters], idle) / hosts)
            before = cpu_seconds(exporter.pid)
            for _ in range(polls):
                scrapes.get("/metrics").raise_for_status()
            figures.host_peer.append((cpu_seconds(exporter.pid) - before) / polls)
    return figures


def _ours(stack: contextlib.ExitStack, server: SSHD, addresses: list[str]) -> Ours:
    targets = [arg for address in addresses for arg in ("--target", address)]
    ours = Ours(
        "ssh",
        targets[1],
        *targets[2:],
        "--ssh-key",
        str(server.key),
        "--known-hosts",
        str(server.known_hosts),
        "--options",
        json.dumps({"units": list(UNITS)}),
        "--timeout",
        str(TIMEOUT),
    )
    stack.callback(ours.close)
    return ours


def _fresh(ours: Ours, polls: int) -> float:
    cpu, answer = ours.command(f"fresh {polls}")
    if not answer.startswith("ok 0"):
        raise RuntimeError(f"our probe failed: {answer}")
    return cpu / polls


def _idle(pids: list[int], seconds: float) -> float:
    """CPU seconds per second of ``pids`` left alone for ``seconds``."""
    before = sum(cpu_seconds(pid) for pid in pids)
    time.sleep(seconds)
    return (sum(cpu_seconds(pid) for pid in pids) - before) / seconds


def _sshd_own_cpu(server: SSHD) -> float:
    """User + system CPU of sshd's processes themselves (not of what they ran)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, found = {server.process.pid}, True
    while found:
        found = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                found = True
    total = 0.0
    for pid in tree:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "sshd":
                total += cpu_seconds(pid)
    return total


def _host(figures: Figures, server: SSHD, ours: Ours, polls: int) -> float:
    """Our polls; records the host's CPU per poll; returns the collector's CPU seconds."""
    before = _sshd_own_cpu(server)
    cpu = ours.polls(polls)
    sshd_cpu = _sshd_own_cpu(server) - before
    command, started = report_command(UNITS), children_cpu_seconds()
    for _ in range(polls):
        subprocess.run(["sh", "-c", command], capture_output=True, check=True, timeout=TIMEOUT)
    figures.host_ours.append((sshd_cpu + children_cpu_seconds() - started) / polls)
    return cpu


def _rate(polls: int, cpu: float) -> float:
    """Polls per CPU second; CPU time is counted in clock ticks, so at least one tick."""
    return polls / max(cpu, 1 / TICKS)


def report(figures: Figures, rounds: int, polls: int, hosts: int) -> str:
    ms = 1000
    at60_ours, at60_peer = figures.at_interval(60)

    def med(values: list[float]) -> float:
        return statistics.median(values) * ms

    def ratio(ours: list[float], peer: list[float]) -> str:
        return summary([o / p for o, p in zip(ours, peer, strict=True)])

    return "\n".join(
        [
            f"rounds: {rounds}, polls per side per round: {polls}, idle hosts: {hosts}",
            "| figure | ours | OpenSSH / node_exporter | ratio ours/peer (CPU) |",
            "|---|---|---|---|",
            f"| CPU ms per poll, kept connection | {ms / statistics.median(figures.ours):.2f} "
            f"| {ms / statistics.median(figures.peer):.2f} (ControlMaster) "
            f"| {ratio([1 / o for o in figures.ours], [1 / p for p in figures.peer])} |",
            f"| idle CPU ms per connection-second | {med(figures.idle_ours):.4f} "
            f"| {med(figures.idle_peer):.4f} (ControlMaster, ServerAliveInterval 120) | |",
            f"| CPU ms per poll at 60 s, idle included | {med(at60_ours):.2f} "
            f"| {med(at60_peer):.2f} | **{ratio(at60_ours, at60_peer)}** |",
            f"| CPU ms per poll, new connection each | {med(figures.fresh_ours):.2f} "
            f"| {med(figures.fresh_peer):.2f} (ssh without master) "
            f"| {ratio(figures.fresh_ours, figures.fresh_peer)} |",
            f"| host CPU ms per poll / per scrape | {med(figures.host_ours):.2f} "
            f"| {med(figures.host_peer):.2f} (node_exporter scrape) "
            f"| **{ratio(figures.host_ours, figures.host_peer)}** |",
            "CPU per poll, kept connection / new connection (ours): "
            + ratio([1 / o for o in figures.ours], figures.fresh_ours),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--polls", type=int, default=100, help="polls per side per round")
    parser.add_argument("--hosts", type=int, default=100, help="kept connections left idle")
    parser.add_argument("--idle", type=float, default=10, help="seconds of idle measured")
    parser.add_argument("--small", action="store_true", help="3 rounds of 5 (a smoke run)")
    args = parser.parse_args()
    rounds, polls, hosts, idle = (
        (3, 5, 3, 1.0) if args.small else (args.rounds, args.polls, args.hosts, args.idle)
    )
    print(report(measure(rounds, polls, hosts, idle), rounds, polls, hosts))


if __name__ == "__main__":
    main()
