"""The SSH report against Debian's node_exporter on the same host, series by series.

The ssh probe polls this machine through a real sshd on loopback; node_exporter (default flags)
is scraped between two polls. Every family the report exports must have exactly node_exporter's
series (names and label sets), and the values must agree: a counter read by node_exporter lies
between our two readings, a property that does not change (an MTU, a limit, a file system's
size) is equal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collectors.metrics import Result
from collectors.probes import ProbeEnv
from collectors.probes.ssh import SSHProbe
from tests.collectors.helpers import run_probe
from tests.collectors.node_exporter import node_exporter, scrape
from tests.collectors.sshd import SSHServer

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]

# The families of issue 17 item 4, besides what the report had before.
REQUIRED = (
    "node_pressure_cpu_waiting_seconds_total",
    "node_pressure_io_stalled_seconds_total",
    "node_pressure_memory_waiting_seconds_total",
    "node_netstat_Tcp_InSegs",
    "node_netstat_TcpExt_ListenDrops",
    "node_netstat_Udp_InDatagrams",
    "node_sockstat_TCP_inuse",
    "node_sockstat_sockets_used",
    "node_vmstat_pgfault",
    "node_filefd_allocated",
    "node_filefd_maximum",
    "node_entropy_available_bits",
    "node_entropy_pool_size_bits",
    "node_timex_sync_status",
    "node_timex_offset_seconds",
    "node_timex_maxerror_seconds",
    "node_nf_conntrack_entries",
    "node_nf_conntrack_entries_limit",
    "node_softnet_processed_total",
    "node_network_speed_bytes",
    "node_network_mtu_bytes",
    "node_network_carrier",
    "node_network_up",
    "node_network_info",
    "node_udp_queues",
    "node_arp_entries",
)
# Collectors whose selection differs by design: systemd (ours: the units asked for), and
# node_exporter's own health (its collectors are not ours).
NOT_COMPARED = ("node_scrape_collector_", "node_systemd_")
# node_exporter's families of the collectors the report implements: all of them must be there.
COVERED = (
    "node_arp_",
    "node_boot_time_",
    "node_context_switches_",
    "node_cpu_",
    "node_disk_",
    "node_entropy_",
    "node_filefd_",
    "node_filesystem_",
    "node_forks_",
    "node_intr_",
    "node_load",
    "node_memory_",
    "node_netstat_",
    "node_network_",
    "node_nf_conntrack_",
    "node_os_",
    "node_pressure_",
    "node_procs_",
    "node_sockstat_",
    "node_softnet_",
    "node_time_",
    "node_timex_",
    "node_udp_queues",
    "node_uname_",
    "node_vmstat_",
)
# ... but for node_disk_info (from the udev database, which the report does not read).
UNCOVERED = ("node_disk_info",)
# Values that must be equal: they do not change while the test runs.
STATIC = (
    "node_network_mtu_bytes",
    "node_network_speed_bytes",
    "node_network_flags",
    "node_network_iface_id",
    "node_network_protocol_type",
    "node_network_transmit_queue_length",
    "node_network_info",
    "node_network_up",
    "node_filefd_maximum",
    "node_entropy_pool_size_bits",
    "node_nf_conntrack_entries_limit",
    "node_filesystem_size_bytes",
    "node_filesystem_files",
    "node_filesystem_readonly",
    "node_filesystem_device_error",
    "node_timex_tick_seconds",
    "node_timex_status",
    "node_timex_sync_status",
    "node_boot_time_seconds",
    "node_memory_MemTotal_bytes",
    "node_uname_info",
    "node_os_info",
    "node_os_version",
    "node_time_zone_offset_seconds",
    "node_time_clocksource_current_info",
)


@pytest.fixture
def probe(sshd: SSHServer) -> Iterator[SSHProbe]:
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("parity"), ssh_key=sshd.keys["client"], ssh_user=sshd.user
    )
    probe = SSHProbe(env)
    yield probe
    probe.close()


def ours(result: Result) -> Series:
    return {
        (s.spec.name, frozenset(zip(s.spec.labels, s.label_values, strict=True))): s.value
        for s in result
        if s.spec.name.startswith("node_") and not s.spec.name.startswith(NOT_COMPARED)
    }


def theirs(text: str) -> Series:
    found: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(COVERED) and sample.name not in UNCOVERED:
                found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def poll(probe: SSHProbe, sshd: SSHServer) -> Series:
    result, error = run_probe("ssh", sshd.address, timeout=10, probe=probe)
    assert error is None, error
    return ours(result)


def test_every_series_as_node_exporter_has_it(
    sshd: SSHServer, probe: SSHProbe, tmp_path: Path
) -> None:
    with node_exporter(tmp_path) as url:
        first = poll(probe, sshd)
        reference = theirs(scrape(url))
        second = poll(probe, sshd)
    names = {name for name, _ in first}
    assert set(REQUIRED) <= names, sorted(set(REQUIRED) - names)
    only_ours, only_theirs = (
        sorted(set(first) - set(reference)),
        sorted(set(reference) - set(first)),
    )
    assert not only_ours and not only_theirs, f"only ours: {only_ours}\nonly theirs: {only_theirs}"
    unequal = [
        (key, first[key], reference[key])
        for key in first
        if key[0] in STATIC and first[key] != reference[key]
    ]
    assert not unequal, unequal
    counters = [key for key in first if key[0].endswith("_total")]
    assert len(counters) > 100
    outside = [
        (key, first[key], reference[key], second[key])
        for key in counters
        if not first[key] - 1e-6 <= reference[key] <= second.get(key, first[key]) + 1e-6
    ]
    assert not outside, outside
