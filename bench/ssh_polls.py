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
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.loopback import SSHD, TICKS, children_cpu_seconds, cpu_seconds, sshd, summary
from bench.probes import Ours
from collectors.probes.node import report_command

UNITS = ("ssh.service", "cron.service")
MASTER_PID = re.compile(r"pid=(\d+)")
TIMEOUT = 30  # seconds for one poll, both sides: generous, a loaded machine must not fail it


@dataclass
class Figures:
    peer: list[float] = field(default_factory=list)  # polls per CPU second, one per round
    ours: list[float] = field(default_factory=list)

    def ratios(self) -> list[float]:
        return [o / p for o, p in zip(self.ours, self.peer, strict=True)]


class OpenSSH:
    """``ssh`` with a persistent ControlMaster connection to ``server``."""

    def __init__(self, server: SSHD, directory: Path) -> None:
        self.base = [
            "ssh",
            "-F",
            "/dev/null",  # no user or system configuration
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={directory / 'cm-%C'}",
            "-o",
            "ControlPersist=600",
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
            str(server.port),
            "-l",
            server.user,
            "127.0.0.1",
        ]
        self.command = report_command(UNITS)
        self._run()  # starts the master
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
        before = children_cpu_seconds() + cpu_seconds(self.master)
        for _ in range(n):
            self._run()
        return children_cpu_seconds() + cpu_seconds(self.master) - before

    def close(self) -> None:
        subprocess.run([*self.base[:-1], "-O", "exit", "127.0.0.1"], capture_output=True)


def measure(rounds: int, polls: int) -> Figures:
    figures = Figures()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ssh-")))
        server = stack.enter_context(sshd(tmp))
        options = json.dumps({"units": list(UNITS)})
        ours = Ours(
            "ssh",
            server.address,
            "--ssh-key",
            str(server.key),
            "--known-hosts",
            str(server.known_hosts),
            "--options",
            options,
            "--timeout",
            str(TIMEOUT),
        )
        stack.callback(ours.close)
        peer = OpenSSH(server, tmp)
        stack.callback(peer.close)
        peer.polls(min(10, polls))  # warm-up: the master and our connection exist after it
        ours.polls(min(10, polls))
        for number in range(rounds):
            if number % 2 == 0:
                figures.peer.append(_rate(polls, peer.polls(polls)))
                figures.ours.append(_rate(polls, ours.polls(polls)))
            else:
                figures.ours.append(_rate(polls, ours.polls(polls)))
                figures.peer.append(_rate(polls, peer.polls(polls)))
    return figures


def _rate(polls: int, cpu: float) -> float:
    """Polls per CPU second; CPU time is counted in clock ticks, so at least one tick."""
    return polls / max(cpu, 1 / TICKS)


def report(figures: Figures, rounds: int, polls: int) -> str:
    return "\n".join(
        [
            f"rounds: {rounds}, polls per side per round: {polls}",
            "| side | polls per CPU second (median) | CPU ms per poll |",
            "|---|---|---|",
            f"| ours (paramiko, kept connection) | {statistics.median(figures.ours):.0f} "
            f"| {1000 / statistics.median(figures.ours):.2f} |",
            f"| OpenSSH ssh, ControlMaster | {statistics.median(figures.peer):.0f} "
            f"| {1000 / statistics.median(figures.peer):.2f} |",
            f"ratio ours/OpenSSH (polls per CPU second): {summary(figures.ratios())}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--polls", type=int, default=100, help="polls per side per round")
    parser.add_argument("--small", action="store_true", help="3 rounds of 5 (a smoke run)")
    args = parser.parse_args()
    rounds, polls = (3, 5) if args.small else (args.rounds, args.polls)
    print(report(measure(rounds, polls), rounds, polls))


if __name__ == "__main__":
    main()
