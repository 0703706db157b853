"""The SSH report's parser on recorded input (as client_python tests its process collector), and
the report command run for real on this machine."""

from __future__ import annotations

import subprocess

import pytest

from collectors.metrics import Result
from collectors.probes.node import parse_report, report_command, split_sections

STAT = """cpu  100 0 50 1000 5 0 1 0 0 0
cpu0 60 1 30 500 3 0 1 2 7 1
cpu1 40 0 20 500 2 0 0 0 0 0
intr 123456 1 2 3
ctxt 987654
btime 1700000000
processes 4242
procs_running 3
procs_blocked 1
"""
MEMINFO = """MemTotal:       16318424 kB
MemFree:         1048576 kB
MemAvailable:    8159212 kB
Active(anon):     204800 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""
DF = """Filesystem     Type      1-blocks        Used   Available Capacity Mounted on
/dev/sda1      ext4  105089261568 52544630784 47159701504      53% /
tmpfs          tmpfs     1673998336     1294336  1672704000       1% /run
/dev/sdb1      xfs   1099511627776 99511627776 1000000000000  10% /srv/med mellomrom
df: /mnt/nfs: Stale file handle
overlay        overlay  105089261568 52544630784 47159701504 53% /var/lib/docker/overlay2/x/merged
devtmpfs       devtmpfs   8000000000           0  8000000000       0% /dev
"""
DF_INODES = """Filesystem       Inodes   IUsed    IFree IUse% Mounted on
/dev/sda1       6553600  400000  6153600    7% /
/dev/sdb1     107374182   10000 107364182    1% /srv/med mellomrom
"""
MOUNTS = """/dev/sda1 / ext4 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev 0 0
/dev/sdb1 /srv/med\\040mellomrom xfs ro,relatime 0 0
"""
SYSTEMD = """Type=notify
Id=nginx.service
LoadState=loaded
ActiveState=active
SubState=running

Type=simple
Id=fellesdrift-worker.service
LoadState=loaded
ActiveState=failed
SubState=failed

Id=nfs-client.target
LoadState=loaded
ActiveState=inactive
SubState=dead

Type=
Id=ghost.service
LoadState=not-found
ActiveState=inactive
SubState=dead
"""
OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""
# As the kernel prints them: the lines are wider than ours. The last line of NET_DEV is cut
# short, as by a read racing a device going away; dm-0 is printed as by a kernel before 4.18
# (11 counters); sdb and dm-1 are malformed.
NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 4697072007 13971760    0    0    0     0          0         0 4697072007 13971760    0    0    0     0       0          0
 ens18: 98765432101 54321098    3   17    1     2          0      1234 12345678901 43210987    4    5    6     7       8          0
docker0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth1: 12 34
"""  # noqa: E501
DISKSTATS = """   7       0 loop0 57 0 2154 12 0 0 0 0 0 28 12 0 0 0 0 0 0
   8       0 sda 1521 318 147322 1234 2206 1877 96412 5678 2 4321 7012 10 0 2048 3 400 55
   8       1 sda1 1402 318 140154 1100 2206 1877 96412 5678 0 4200 6900 10 0 2048 3 0 0
 259       0 nvme0n1 883421 12 52136418 164201 1634250 981273 125781936 2813117 0 1285372 3054311 61512 0 487265144 11732 130845 65261
 259       1 nvme0n1p1 883000 12 52000000 164000 1634000 981000 125000000 2813000 0 1285000 3054000 61512 0 487265144 11732 0 0
 253       0 dm-0 1000 0 16000 250 3000 0 24000 900 0 800 1150
   8      16 sdb 12 34 56
 253       1 dm-1 1 2 three 4 5 6 7 8 9 10 11
"""  # noqa: E501


def report(sections: dict[str, tuple[str, int]], complete: bool = True) -> str:
    parts = []
    for name, (body, rc) in sections.items():
        parts.append(f"@@fellesdrift {name}\n{body.rstrip()}\n@@rc {rc}\n")
    return "".join(parts) + ("@@fellesdrift end\n" if complete else "")


RECORDED = {
    "loadavg": ("0.52 0.58 0.59 2/1234 56789", 0),
    "stat": (STAT, 0),
    "meminfo": (MEMINFO, 0),
    "time": ("1700001234.500000000", 0),
    "uname": (
        "x86_64\nLinux\nsrv-felles-01\n6.1.0-18-amd64\n#1 SMP PREEMPT_DYNAMIC Debian\n(none)",
        0,
    ),
    "os": (OS_RELEASE, 0),
    "df": (DF, 1),  # df exits 1 because of the stale NFS mount
    "df_inodes": (DF_INODES, 1),
    "mounts": (MOUNTS, 0),
    "netdev": (NET_DEV, 0),
    "diskstats": (DISKSTATS, 0),
    "systemd": (SYSTEMD, 0),
}


@pytest.fixture
def parsed() -> Result:
    return parse_with()


def parse_with(**changed: tuple[str, int]) -> Result:
    """The recorded report with the ``changed`` sections' output and exit status, parsed (a
    whole report: every section ran)."""
    out = Result()
    assert parse_report(report(RECORDED | changed), out)
    return out


def test_load_cpu_and_stat(parsed: Result) -> None:
    assert [parsed.get(f"node_load{n}") for n in (1, 5, 15)] == [0.52, 0.58, 0.59]
    assert parsed.get("node_cpu_seconds_total", cpu="0", mode="user") == 0.6
    assert parsed.get("node_cpu_seconds_total", cpu="1", mode="idle") == 5.0
    assert parsed.get("node_cpu_seconds_total", cpu="0", mode="steal") == 0.02
    assert parsed.get("node_cpu_guest_seconds_total", cpu="0", mode="user") == 0.07
    assert parsed.get("node_cpu_seconds_total", cpu="", mode="user") is None  # no aggregate
    assert parsed.get("node_boot_time_seconds") == 1700000000
    assert parsed.get("node_context_switches_total") == 987654
    assert parsed.get("node_forks_total") == 4242
    assert parsed.get("node_intr_total") == 123456
    assert parsed.get("node_procs_running") == 3 and parsed.get("node_procs_blocked") == 1
    assert parsed.get("node_time_seconds") == 1700001234.5


def test_memory_fields_like_node_exporter(parsed: Result) -> None:
    assert parsed.get("node_memory_MemTotal_bytes") == 16318424 * 1024
    assert parsed.get("node_memory_MemAvailable_bytes") == 8159212 * 1024
    assert parsed.get("node_memory_Active_anon_bytes") == 204800 * 1024
    assert parsed.get("node_memory_HugePages_Total") == 0  # no unit, no _bytes


def test_filesystems(parsed: Result) -> None:
    root = {"device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
    assert parsed.get("node_filesystem_size_bytes", **root) == 105089261568
    assert parsed.get("node_filesystem_avail_bytes", **root) == 47159701504
    assert parsed.get("node_filesystem_free_bytes", **root) == 105089261568 - 52544630784
    assert parsed.get("node_filesystem_files", **root) == 6553600
    assert parsed.get("node_filesystem_files_free", **root) == 6153600
    assert parsed.get("node_filesystem_readonly", **root) == 0
    spaced = {"mountpoint": "/srv/med mellomrom"}
    assert parsed.get("node_filesystem_readonly", **spaced) == 1
    assert parsed.get("node_filesystem_files", **spaced) == 107374182
    mounts = {s.label_values[2] for s in parsed if s.spec.name == "node_filesystem_size_bytes"}
    assert mounts == {"/", "/run", "/srv/med mellomrom"}  # overlay and /dev excluded
    assert parsed.get("node_scrape_collector_success", collector="filesystem") == 1


def test_network_devices_like_node_exporter(parsed: Result) -> None:
    assert parsed.get("node_network_receive_bytes_total", device="ens18") == 98765432101
    assert parsed.get("node_network_transmit_bytes_total", device="ens18") == 12345678901
    assert parsed.get("node_network_receive_packets_total", device="ens18") == 54321098
    assert parsed.get("node_network_transmit_packets_total", device="ens18") == 43210987
    assert parsed.get("node_network_receive_errs_total", device="ens18") == 3
    assert parsed.get("node_network_receive_drop_total", device="ens18") == 17
    assert parsed.get("node_network_receive_multicast_total", device="ens18") == 1234
    assert parsed.get("node_network_transmit_errs_total", device="ens18") == 4
    assert parsed.get("node_network_transmit_drop_total", device="ens18") == 5
    assert parsed.get("node_network_transmit_colls_total", device="ens18") == 7
    assert parsed.get("node_network_transmit_carrier_total", device="ens18") == 8
    assert parsed.get("node_network_receive_bytes_total", device="lo") == 4697072007
    devices = {s.label_values[0] for s in parsed if s.spec.name.startswith("node_network_")}
    assert devices == {"lo", "ens18", "docker0"}  # lo kept, as node_exporter; eth1 cut short
    series = [s for s in parsed if s.spec.name.startswith("node_network_")]
    assert len(series) == 3 * 16  # every column of /proc/net/dev, per device
    assert {s.spec.type for s in series} == {"counter"}
    assert {s.spec.labels for s in series} == {("device",)}
    assert series[0].spec.help == "Network device statistic receive_bytes."
    assert parsed.get("node_scrape_collector_success", collector="netdev") == 1


def test_disks_like_node_exporter(parsed: Result) -> None:
    devices = {s.label_values[0] for s in parsed if s.spec.name.startswith("node_disk_")}
    assert devices == {"sda", "nvme0n1", "dm-0"}  # no partitions, no loop devices
    sda = {s.spec.name: s.value for s in parsed if s.label_values == ("sda",)}
    assert sda == {
        "node_disk_reads_completed_total": 1521,
        "node_disk_reads_merged_total": 318,
        "node_disk_read_bytes_total": 147322 * 512,
        "node_disk_read_time_seconds_total": 1.234,
        "node_disk_writes_completed_total": 2206,
        "node_disk_writes_merged_total": 1877,
        "node_disk_written_bytes_total": 96412 * 512,
        "node_disk_write_time_seconds_total": 5.678,
        "node_disk_io_now": 2,
        "node_disk_io_time_seconds_total": 4.321,
        "node_disk_io_time_weighted_seconds_total": 7.012,
        "node_disk_discards_completed_total": 10,
        "node_disk_discards_merged_total": 0,
        "node_disk_discarded_sectors_total": 2048,  # sectors, as node_exporter reports them
        "node_disk_discard_time_seconds_total": 0.003,
        "node_disk_flush_requests_total": 400,
        "node_disk_flush_requests_time_seconds_total": 0.055,
    }
    assert parsed.get("node_disk_written_bytes_total", device="nvme0n1") == 125781936 * 512
    assert parsed.get("node_disk_io_time_seconds_total", device="nvme0n1") == 1285.372
    assert parsed.get("node_disk_read_bytes_total", device="dm-0") == 16000 * 512
    assert parsed.get("node_disk_io_time_weighted_seconds_total", device="dm-0") == 1.15
    assert parsed.get("node_disk_discards_completed_total", device="dm-0") is None  # pre-4.18
    kinds = {s.spec.name: s.spec.type for s in parsed if s.spec.name.startswith("node_disk_")}
    assert kinds["node_disk_io_now"] == "gauge"
    assert {kind for name, kind in kinds.items() if name != "node_disk_io_now"} == {"counter"}
    read = next(s.spec for s in parsed if s.spec.name == "node_disk_read_bytes_total")
    assert (read.help, read.labels) == ("The total number of bytes read successfully.", ("device",))
    assert parsed.get("node_scrape_collector_success", collector="diskstats") == 1


def test_io_sections_fail_alone() -> None:
    out = parse_with(
        netdev=("cat: /proc/net/dev: No such file or directory", 1),
        diskstats=("something that is not diskstats\nat all", 0),
    )
    assert out.get("node_scrape_collector_success", collector="netdev") == 0
    assert out.get("node_scrape_collector_success", collector="diskstats") == 0
    assert not [s for s in out if s.spec.name.startswith(("node_network_", "node_disk_"))]
    assert out.get("node_scrape_collector_success", collector="meminfo") == 1
    # A /proc/net/dev without its header is not trusted; a host without block devices is fine.
    out = parse_with(
        netdev=("    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", 0), diskstats=("", 0)
    )
    assert out.get("node_scrape_collector_success", collector="netdev") == 0
    assert out.get("node_network_receive_bytes_total") is None
    assert out.get("node_scrape_collector_success", collector="diskstats") == 1


def test_systemd_unit_states(parsed: Result) -> None:
    states = {
        (s.label_values[0], s.label_values[1]): (s.value, s.label_values[2])
        for s in parsed
        if s.spec.name == "node_systemd_unit_state"
    }
    assert states[("nginx.service", "active")] == (1, "notify")
    assert states[("nginx.service", "failed")] == (0, "notify")
    assert states[("fellesdrift-worker.service", "failed")] == (1, "simple")
    assert states[("nfs-client.target", "inactive")] == (1, "")
    units = {name for name, _ in states}
    assert units == {"nginx.service", "fellesdrift-worker.service", "nfs-client.target"}
    assert len(states) == 3 * 5  # one series per state, as node_exporter


def test_uname_and_os(parsed: Result) -> None:
    assert (
        parsed.get(
            "node_uname_info",
            nodename="srv-felles-01",
            machine="x86_64",
            release="6.1.0-18-amd64",
            sysname="Linux",
            domainname="(none)",
        )
        == 1
    )
    assert (
        parsed.get(
            "node_os_info",
            id="debian",
            version_id="12",
            pretty_name="Debian GNU/Linux 12 (bookworm)",
        )
        == 1
    )
    assert parsed.get("node_os_version", id="debian") == 12


def test_a_failing_section_fails_alone() -> None:
    out = parse_with(
        systemd=("System has not been booted with systemd as init system (PID 1).", 1),
        os=("cat: /usr/lib/os-release: No such file or directory", 1),
    )
    assert out.get("node_scrape_collector_success", collector="systemd") == 0
    assert out.get("node_scrape_collector_success", collector="os") == 0
    assert out.get("node_os_info") is None
    assert out.get("node_scrape_collector_success", collector="meminfo") == 1


def test_incomplete_report_is_noticed() -> None:
    out = Result()
    assert not parse_report(report(RECORDED, complete=False), out)
    sections, complete = split_sections("garbage\nmore garbage")
    assert sections == {} and not complete


def test_report_command_runs_for_real_here() -> None:
    command = report_command(["ssh.service"])
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
    out = Result()
    assert parse_report(done.stdout, out)
    assert out.value("node_memory_MemTotal_bytes") > 0
    assert out.get("node_scrape_collector_success", collector="cpu") == 1
    assert out.get("node_scrape_collector_success", collector="filesystem") == 1
    assert out.get("node_scrape_collector_success", collector="netdev") == 1
    assert out.get("node_scrape_collector_success", collector="diskstats") == 1
    assert out.get("node_network_transmit_bytes_total", device="lo") is not None


def test_report_command_rejects_odd_unit_names() -> None:
    for bad in ("nginx", "a b.service", "x.service;reboot", "$(id).service"):
        with pytest.raises(ValueError):
            report_command([bad])
