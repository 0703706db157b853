"""What the collector benchmarks share: servers on loopback, CPU clocks and the figures.

Each server runs from the local binary in a temporary directory with its own configuration and
is stopped again by the context manager that started it; nothing listens beyond 127.0.0.1.
CPU time is read the same way for both sides of a comparison: from ``/proc/<pid>/stat`` (user +
system, in clock ticks) for a running process, and from ``RUSAGE_CHILDREN`` for short-lived
child processes that have been waited for.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
NGINX = "/usr/sbin/nginx"
SSHD_BIN = "/usr/sbin/sshd"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PAGE = b"<!doctype html><html><body><h1>Velkommen</h1><p>fellesdrift benchmark</p></body></html>\n"


class Missing(RuntimeError):
    """A program the benchmark needs is not installed; says which package provides it."""

    def __init__(self, program: str, package: str) -> None:
        super().__init__(f"{program} not found: apt-get install -y {package}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def children_cpu_seconds() -> float:
    """CPU seconds of all waited-for children of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:g}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _require(path: str, package: str) -> None:
    if not Path(path).exists():
        raise Missing(path, package)


@contextlib.contextmanager
def nginx(directory: Path, ports: Sequence[int]) -> Iterator[subprocess.Popen[bytes]]:
    """nginx (one worker) serving a small static page on each of ``ports`` of 127.0.0.1."""
    _require(NGINX, "nginx")
    root = directory / "www"
    root.mkdir(exist_ok=True)
    (root / "index.html").write_bytes(PAGE)
    listens = "".join(f"    listen 127.0.0.1:{port} reuseport;\n" for port in ports)
    temp = "".join(
        f"  {kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = directory / "nginx.conf"
    user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
    config.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'nginx-error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n  access_log off;\n  keepalive_timeout 0;\n"
        f"{temp}  server {{\n{listens}    root {root};\n"
        "    location / { try_files $uri /index.html; }\n  }\n}\n"
    )
    root.chmod(0o755)
    directory.chmod(0o755)
    process = subprocess.Popen(
        [NGINX, "-c", str(config), "-p", str(directory)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for port in ports:
            wait_for_port(port, process, "nginx")
        yield process
    finally:
        stop(process)


@contextlib.contextmanager
def blackbox(directory: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Debian's prometheus-blackbox-exporter with the stock http_2xx and tcp_connect modules."""
    _require(BLACKBOX, "prometheus-blackbox-exporter")
    config = directory / "blackbox.yml"
    config.write_text(
        "modules:\n"
        "  http_2xx:\n    prober: http\n    timeout: 5s\n"
        "  tcp_connect:\n    prober: tcp\n    timeout: 5s\n"
    )
    process = subprocess.Popen(
        [
            BLACKBOX,
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GOMAXPROCS": str(os.cpu_count() or 1)},
    )
    try:
        wait_for_port(port, process, "blackbox_exporter")
        yield process
    finally:
        stop(process)


@contextlib.contextmanager
def node_exporter(directory: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Debian's prometheus-node-exporter with its default collectors on a loopback port."""
    _require(NODE_EXPORTER, "prometheus-node-exporter")
    process = subprocess.Popen(
        [
            NODE_EXPORTER,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--collector.textfile.directory={directory}",
            "--log.level=warn",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, "node_exporter")
        yield process
    finally:
        stop(process)


@dataclass
class SSHD:
    port: int
    user: str
    key: Path
    known_hosts: Path
    process: subprocess.Popen[bytes]
    ports: tuple[int, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    @property
    def addresses(self) -> list[str]:
        """One address per listening port: as many hosts, as far as a client can tell."""
        return [f"{self.user}@127.0.0.1:{port}" for port in self.ports]


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


@contextlib.contextmanager
def sshd(directory: Path, ports: int = 1) -> Iterator[SSHD]:
    """OpenSSH sshd on ``ports`` loopback ports with a throw-away host key and one authorised
    key."""
    _require(SSHD_BIN, "openssh-server")
    if shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        raise Missing("ssh and ssh-keygen", "openssh-client")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    host = _keygen(directory / "host_ed25519")
    client = directory / "client_ed25519"
    (directory / "authorized_keys").write_text(_keygen(client) + "\n")
    numbers = tuple(dict.fromkeys(free_port() for _ in range(ports)))
    known = directory / "known_hosts"
    kind, blob = host.split()[:2]
    known.write_text("".join(f"[127.0.0.1]:{n} {kind} {blob}\n" for n in numbers))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # sshd listens on at most 16 sockets (MAX_LISTEN_SOCKS): one sshd per 16 ports.
        for first in range(0, len(numbers), 16):
            group = numbers[first : first + 16]
            config = directory / f"sshd_config.{first}"
            config.write_text(
                "".join(f"Port {n}\n" for n in group)
                + f"ListenAddress 127.0.0.1\nHostKey {directory / 'host_ed25519'}\n"
                f"PidFile {directory / f'sshd.{first}.pid'}\n"
                f"AuthorizedKeysFile {directory / 'authorized_keys'}\n"
                "StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "PubkeyAuthentication yes\nLogLevel ERROR\nMaxSessions 100\n"
                "MaxStartups 100:30:200\n"
            )
            processes.append(
                subprocess.Popen(
                    [SSHD_BIN, "-D", "-f", str(config), "-E", str(directory / "sshd.log")],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            for port in group:
                wait_for_port(port, processes[-1], "sshd")
        yield SSHD(numbers[0], getpass.getuser(), client, known, processes[0], numbers)
    finally:
        for process in processes:
            stop(process)


@contextlib.contextmanager
def prometheus(directory: Path, config: dict[str, object]) -> Iterator[str]:
    """A Prometheus on loopback with this configuration, its data in ``directory``; yields its
    URL and stops it afterwards."""
    import yaml

    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, "prometheus")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def summary(values: Sequence[float]) -> str:
    """``median (min-max)`` of per-round figures."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
