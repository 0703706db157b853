"""A real OpenSSH sshd for the ssh probe tests, from the local binary, in a temporary directory.

It listens on a loopback port with its own host key, config, authorized_keys and log; it never
touches the machine's own sshd or ``~/.ssh``. Keys: ``client`` may log in normally; ``flood``
is forced to print far more than the output limit; ``report`` is forced to run the report as an
installed script (the least-privilege setup of collectors/README.md); ``stranger`` is not
authorised at all.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from collectors.probes.node import report_command
from tests.rig.base import free_port, missing

SSHD = "/usr/sbin/sshd"
FLOOD = "yes fellesdrift-flood | head -c 3000000"
REPORT_UNITS = ("ssh.service", "cron.service")


def keygen(path: Path, comment: str) -> str:
    """An ed25519 key pair at ``path``; returns the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class SSHServer:
    dir: Path
    port: int
    user: str
    process: subprocess.Popen[bytes]
    host_public: str
    keys: dict[str, Path]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.dir / "sshd.log"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def known_hosts(self, name: str, public: str | None = None) -> Path:
        """A known_hosts file with this server's host key (or ``public`` instead)."""
        kind, blob = (public or self.host_public).split()[:2]
        path = self.dir / f"known_hosts.{name}"
        path.write_text(f"[127.0.0.1]:{self.port} {kind} {blob}\n")
        return path

    def connections(self) -> int:
        return self.log_text().count("Connection from 127.0.0.1")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _config(directory: Path, port: int) -> str:
    return "\n".join(
        [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {directory / 'host_ed25519'}",
            f"PidFile {directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {directory / 'authorized_keys'}",
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "LogLevel VERBOSE",
            "MaxStartups 100:30:200",
            "MaxSessions 50",
            "",
        ]
    )


def start_sshd(directory: Path) -> SSHServer:
    if not Path(SSHD).exists():
        missing("OpenSSH sshd (/usr/sbin/sshd)", "openssh-server")
    if shutil.which("ssh-keygen") is None:
        missing("ssh-keygen", "openssh-client")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    host_public = keygen(directory / "host_ed25519", "test host")
    keys = {
        name: directory / f"{name}_ed25519" for name in ("client", "flood", "report", "stranger")
    }
    publics = {name: keygen(path, name) for name, path in keys.items()}
    script = directory / "fellesdrift-report"
    script.write_text("#!/bin/sh\n" + report_command(REPORT_UNITS) + "\n")
    script.chmod(0o755)
    (directory / "authorized_keys").write_text(
        f"{publics['client']}\n"
        f'restrict,command="{FLOOD}" {publics["flood"]}\n'
        f'restrict,command="{script}" {publics["report"]}\n'
    )
    for _ in range(5):
        port = free_port()
        (directory / "sshd_config").write_text(_config(directory, port))
        cmd = [SSHD, "-D", "-f", str(directory / "sshd_config"), "-E", str(directory / "sshd.log")]
        process = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        server = SSHServer(directory, port, getpass.getuser(), process, host_public, keys)
        if _wait_for_banner(server):
            assert process.stderr is not None
            process.stderr.close()
            return server
        server.stop()
        assert process.stderr is not None
        process.stderr.close()
    raise RuntimeError(f"sshd did not start; its log:\n{server.log_text()}")


def _wait_for_banner(server: SSHServer) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False
