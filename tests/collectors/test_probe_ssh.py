"""The ssh probe against a real OpenSSH sshd on loopback."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collectors.exposition import CachedCollector
from collectors.probes import ProbeEnv, Reason
from collectors.probes.ssh import SSHProbe
from collectors.runner import Runner
from collectors.state import Store
from collectors.targets import FILE, Builder
from tests.collectors.helpers import run_probe, wait_for
from tests.collectors.servers import HungListener
from tests.collectors.sshd import SSHServer, keygen
from tests.rig.base import free_port

# node_exporter's default --collector.diskstats.device-exclude.
NODE_EXPORTER_DISK_EXCLUDE = re.compile(r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")


@pytest.fixture
def probe(sshd: SSHServer) -> Iterator[SSHProbe]:
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("good"), ssh_key=sshd.keys["client"], ssh_user=sshd.user
    )
    probe = SSHProbe(env)
    yield probe
    probe.close()


def test_host_metrics_with_node_exporter_names(sshd: SSHServer, probe: SSHProbe) -> None:
    out, error = run_probe("ssh", sshd.address, probe=probe)
    assert error is None, error
    assert out.get("node_load1") is not None and out.get("node_load15") is not None
    total = out.get("node_memory_MemTotal_bytes")
    assert total is not None and total > 0 and total % 1024 == 0
    assert 0 < out.value("node_memory_MemAvailable_bytes") <= total
    assert out.value("node_cpu_seconds_total", cpu="0", mode="idle") > 0
    assert out.value("node_cpu_seconds_total", cpu=str((os.cpu_count() or 1) - 1), mode="user") > 0
    root = os.statvfs("/")
    assert out.get("node_filesystem_size_bytes", mountpoint="/") == root.f_blocks * root.f_frsize
    assert out.value("node_filesystem_avail_bytes", mountpoint="/") > 0
    assert out.get("node_filesystem_readonly", mountpoint="/") == 0
    assert abs(out.value("node_time_seconds") - time.time()) < 5
    assert out.value("node_boot_time_seconds") < time.time()
    assert out.get("node_uname_info", nodename=socket.gethostname(), sysname="Linux") == 1
    assert out.get("node_os_info", id="debian") == 1
    for collector in "loadavg cpu meminfo filesystem uname os time netdev diskstats".split():
        assert out.get("node_scrape_collector_success", collector=collector) == 1, collector


def _interfaces_received_bytes() -> dict[str, int]:
    """This machine's interfaces but lo (as Debian's node_exporter), with bytes received."""
    found = {}
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, _, counters = line.partition(":")
        if name.strip() != "lo":
            found[name.strip()] = int(counters.split()[0])
    return found


def _disks_sectors_read() -> dict[str, int]:
    """This machine's disks as node_exporter picks them, with the sectors read so far."""
    disks: dict[str, int] = {}
    for line in Path("/proc/diskstats").read_text().splitlines():
        fields = line.split()
        if not NODE_EXPORTER_DISK_EXCLUDE.match(fields[2]):
            disks[fields[2]] = int(fields[5])
    return disks


def test_network_and_disk_io_reach_the_exposition(sshd: SSHServer, probe: SSHProbe) -> None:
    """One poll through the runner, read back from /metrics' text as Prometheus would. The
    interfaces are this machine's but lo (Debian's node_exporter leaves it out), the disks are
    this machine's without partitions, loop and RAM disks (on the development machine: vda, a
    virtio disk, and zram0, beside loop0-7)."""
    received_before, disks_before = _interfaces_received_bytes(), _disks_sectors_read()
    target = Builder({"ssh": probe}).build(
        address=sshd.address, source=FILE, probe="ssh", interval=60, timeout=5
    )
    store = Store()
    store.put(target)
    Runner(store, {"ssh": probe}).poll(target.key)
    entry = store.get(target.key)
    assert entry is not None and entry.success, entry and entry.last_detail
    text = CachedCollector(store).text().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}

    received = families["node_network_receive_bytes"]
    assert received.type == "counter"
    assert received.documentation.startswith("Network device statistic receive_bytes.")
    after = {s.labels["device"]: s.value for s in received.samples}
    assert set(after) == set(received_before)
    assert all(after[device] >= before for device, before in received_before.items())
    sent = {s.labels["device"]: s.value for s in families["node_network_transmit_bytes"].samples}
    assert set(sent) == set(after)

    disks = {
        (s.name, s.labels["device"]): s.value
        for family in families.values()
        if family.name.startswith("node_disk_")
        for s in family.samples
    }
    assert {device for _, device in disks} == set(disks_before)
    for disk, sectors in disks_before.items():
        assert disks["node_disk_read_bytes_total", disk] >= sectors * 512, disk
        assert ("node_disk_written_bytes_total", disk) in disks, disk
        assert ("node_disk_io_now", disk) in disks, disk
    success = {
        s.labels["collector"]: s.value for s in families["node_scrape_collector_success"].samples
    }
    assert success["netdev"] == 1 and success["diskstats"] == 1


def test_connection_is_kept_between_polls(sshd: SSHServer, probe: SSHProbe) -> None:
    before = sshd.connections()
    reused = []
    for _ in range(3):
        out, error = run_probe("ssh", sshd.address, probe=probe)
        assert error is None, error
        reused.append(out.get("probe_ssh_connection_reused"))
    assert reused == [0, 1, 1]
    assert sshd.connections() == before + 1


def test_dropped_connection_is_replaced_within_the_poll(sshd: SSHServer, probe: SSHProbe) -> None:
    _, error = run_probe("ssh", sshd.address, probe=probe)
    assert error is None
    # End the per-connection sshd processes our server started (by pid), as a host reboot would.
    children = Path(f"/proc/{sshd.process.pid}/task/{sshd.process.pid}/children").read_text()
    for pid in children.split():
        os.kill(int(pid), signal.SIGTERM)
    wait_for(
        lambda: (
            not Path(f"/proc/{sshd.process.pid}/task/{sshd.process.pid}/children")
            .read_text()
            .split()
        )
    )
    out, error = run_probe("ssh", sshd.address, probe=probe)
    assert error is None, error
    assert out.get("probe_ssh_connection_reused") == 0


def test_host_key_mismatch_is_reported_and_never_accepted(sshd: SSHServer, tmp_path: Path) -> None:
    other = keygen(tmp_path / "other_host", "another host")
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("mismatch", other),
        ssh_key=sshd.keys["client"],
        ssh_user=sshd.user,
    )
    probe = SSHProbe(env)
    logins = sshd.log_text().count("Accepted publickey")
    try:
        _, error = run_probe("ssh", sshd.address, probe=probe)
    finally:
        probe.close()
    assert error is not None and error.reason == Reason.HOST_KEY_MISMATCH
    assert "does not match known_hosts" in error.detail
    assert sshd.log_text().count("Accepted publickey") == logins  # the key was never offered


def test_unknown_host_is_rejected(sshd: SSHServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    probe = SSHProbe(ProbeEnv(known_hosts=empty, ssh_key=sshd.keys["client"], ssh_user=sshd.user))
    try:
        _, error = run_probe("ssh", sshd.address, probe=probe)
    finally:
        probe.close()
    assert error is not None and error.reason == Reason.HOST_KEY_UNKNOWN
    assert empty.read_text() == ""  # nothing was added


def test_refused_login_backs_off(sshd: SSHServer) -> None:
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("good"), ssh_key=sshd.keys["stranger"], ssh_user=sshd.user
    )
    probe = SSHProbe(env)
    try:
        before = sshd.connections()
        _, error = run_probe("ssh", sshd.address, probe=probe, auth_retry_seconds=0.6)
        assert error is not None and error.reason == Reason.AUTH
        # Polls inside the backoff window fail at once without touching the server.
        for _ in range(5):
            _, error = run_probe("ssh", sshd.address, probe=probe, auth_retry_seconds=0.6)
            assert error is not None and error.reason == Reason.AUTH
            assert "next attempt in" in error.detail
        assert sshd.connections() == before + 1
        time.sleep(0.7)
        _, error = run_probe("ssh", sshd.address, probe=probe, auth_retry_seconds=0.6)
        assert error is not None and "next attempt" not in error.detail
        assert sshd.connections() == before + 2
        # The wait doubles: 1.2 s after the second refusal.
        time.sleep(0.7)
        _, error = run_probe("ssh", sshd.address, probe=probe, auth_retry_seconds=0.6)
        assert error is not None and "next attempt" in error.detail
        assert sshd.connections() == before + 2
    finally:
        probe.close()


def test_output_flood_is_cut_at_the_limit(sshd: SSHServer) -> None:
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("good"), ssh_key=sshd.keys["flood"], ssh_user=sshd.user
    )
    probe = SSHProbe(env)
    try:
        started = time.monotonic()
        _, error = run_probe("ssh", sshd.address, probe=probe, output_limit=100_000)
        assert error is not None and error.reason == Reason.OUTPUT_LIMIT
        assert time.monotonic() - started < 3
        # The connection survives: the next poll is cut the same way, on the same connection.
        out, error = run_probe("ssh", sshd.address, probe=probe, output_limit=100_000)
        assert error is not None and error.reason == Reason.OUTPUT_LIMIT
        assert out.get("probe_ssh_connection_reused") == 1
    finally:
        probe.close()


def test_forced_command_account(sshd: SSHServer) -> None:
    """The least-privilege setup of collectors/README.md: the key may only run the report."""
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("good"), ssh_key=sshd.keys["report"], ssh_user=sshd.user
    )
    probe = SSHProbe(env)
    try:
        out, error = run_probe("ssh", sshd.address, probe=probe)
    finally:
        probe.close()
    assert error is None, error
    assert out.value("node_memory_MemTotal_bytes") > 0
    # systemd is not PID 1 in this container: that collector fails alone, as in node_exporter.
    assert out.get("node_scrape_collector_success", collector="systemd") == 0
    assert out.get("node_scrape_collector_success", collector="meminfo") == 1


def test_hung_and_refused_hosts(hung_target: HungListener, probe: SSHProbe) -> None:
    address = hung_target.address
    started = time.monotonic()
    _, error = run_probe("ssh", address, probe=probe, timeout=0.5)
    assert error is not None and error.reason == Reason.TIMEOUT
    assert time.monotonic() - started < 1.0
    _, error = run_probe("ssh", f"127.0.0.1:{free_port()}", probe=probe)
    assert error is not None and error.reason == Reason.REFUSED


def test_target_and_options_are_checked(probe: SSHProbe) -> None:
    with pytest.raises(ValueError, match="port"):
        run_probe("ssh", "host:notaport", probe=probe)
    with pytest.raises(ValueError, match="systemd unit"):
        run_probe("ssh", "host", probe=probe, units=["nginx; rm -rf /"])
    with pytest.raises(ValueError, match="known_hosts"):
        run_probe("ssh", "host", probe=SSHProbe(ProbeEnv()))
