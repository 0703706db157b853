"""The SSH report's parser on recorded input (as client_python tests its process collector), and
the report command run for real on this machine."""

from __future__ import annotations

import subprocess

import pytest

from collectors.metrics import Result
from collectors.probes.node import Arrivals, parse_report, report_command, split_sections

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


DF = """Filesystem     Type         1B-blocks        Used       Avail    Inodes     IFree Mounted on
/dev/sda1      ext4      105089261568 52544630784 47159701504   6553600   6153600 /
tmpfs          tmpfs       1673998336     1294336  1672704000    409600    408000 /run
/dev/sdb1      xfs      1099511627776 99511627776 1000000000000 107374182 107364182 /srv/med mellomrom
/dev/sdb1      xfs      1099511627776 99511627776 1000000000000 107374182 107364182 /srv/med mellomrom
df: /srv/nfs: Stale file handle
/dev/sdc1      vfat         536870912    10485760   526385152         -         - /boot/efi
/dev/sdd1      ext4        1000000000   500000000   450000000     65536     60000 /mnt/usb
"""  # noqa: E501
MOUNTS = """/dev/sda1 / ext4 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev 0 0
/dev/sdb1 /srv/med\\040mellomrom xfs ro,relatime 0 0
/dev/sdb1 /srv/med\\040mellomrom xfs ro,relatime 0 0
nas:/export /srv/nfs nfs4 rw,relatime 0 0
/dev/sdc1 /boot/efi vfat rw 0 0
/dev/sdd1 /mnt/usb ext4 rw 0 0
"""


def report(
    sections: dict[str, tuple[str, int]], files: dict[str, str], complete: bool = True
) -> str:
    """A report as the host prints it: ``files`` under head's headers, then the sections."""
    heads = "\n".join(f"==> {path} <==\n{body.rstrip()}\n" for path, body in files.items())
    parts = [f"@@fellesdrift files\n{heads}@@rc 0\n"]
    for name, (body, rc) in sections.items():
        parts.append(f"@@fellesdrift {name}\n{body.rstrip()}\n@@rc {rc}\n")
    return "".join(parts) + ("@@fellesdrift end\n" if complete else "")


KERNEL = "/proc/sys/kernel/"
FILES = {
    "/proc/loadavg": "0.52 0.58 0.59 2/1234 56789",
    "/proc/stat": STAT,
    "/proc/meminfo": MEMINFO,
    "/etc/os-release": OS_RELEASE,
    KERNEL + "ostype": "Linux",
    KERNEL + "hostname": "srv-felles-01",
    KERNEL + "osrelease": "6.1.0-18-amd64",
    KERNEL + "version": "#1 SMP PREEMPT_DYNAMIC Debian",
    KERNEL + "domainname": "(none)",
    "/proc/mounts": MOUNTS,
    "/proc/net/dev": NET_DEV,
    "/proc/diskstats": DISKSTATS,
}
SECTIONS = {
    "time": ("1700001234.500000000 CET +0100", 0),
    "uname": ("x86_64", 0),
    "df": (DF, 1),  # df exits 1 because of the stale NFS mount
    "systemd": (SYSTEMD, 0),
}


@pytest.fixture
def parsed() -> Result:
    return parse_with()


def parse_with(files: dict[str, str | None] | None = None, **changed: tuple[str, int]) -> Result:
    """The recorded report with ``files`` changed or added (None: left out) and the
    ``changed`` sections' output and exit status, parsed (a whole report)."""
    merged = {k: v for k, v in (FILES | (files or {})).items() if v is not None}
    out = Result()
    assert parse_report(report(SECTIONS | changed, merged), out)
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
    assert parsed.get("node_filesystem_device_error", **root) == 0
    spaced = {"mountpoint": "/srv/med mellomrom"}
    assert parsed.get("node_filesystem_readonly", **spaced) == 1
    assert parsed.get("node_filesystem_files", **spaced) == 107374182
    assert parsed.get("node_filesystem_files", mountpoint="/boot/efi") == 0  # vfat: no inodes
    # The stale mount: an error, no sizes (as node_exporter when statfs fails).
    nfs = {"device": "nas:/export", "fstype": "nfs4", "mountpoint": "/srv/nfs"}
    assert parsed.get("node_filesystem_device_error", **nfs) == 1
    assert parsed.get("node_filesystem_size_bytes", mountpoint="/srv/nfs") is None
    sizes = [s.label_values[2] for s in parsed if s.spec.name == "node_filesystem_size_bytes"]
    assert sizes == ["/", "/srv/med mellomrom", "/boot/efi"]  # /run, /mnt excluded; no twins
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
    devices = {s.label_values[0] for s in parsed if s.spec.name.startswith("node_network_")}
    assert devices == {"ens18", "docker0"}  # lo left out, as Debian's node_exporter; eth1 cut
    series = [s for s in parsed if s.spec.name.startswith("node_network_")]
    assert len(series) == 2 * 16  # every column of /proc/net/dev, per device
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
        {"/proc/net/dev": None, "/proc/diskstats": "something that is not diskstats\nat all"}
    )
    assert out.get("node_scrape_collector_success", collector="netdev") == 0
    assert out.get("node_scrape_collector_success", collector="diskstats") == 0
    assert not [s for s in out if s.spec.name.startswith(("node_network_", "node_disk_"))]
    assert out.get("node_scrape_collector_success", collector="meminfo") == 1
    # A /proc/net/dev without its header is not trusted; a host without block devices is fine.
    out = parse_with(
        {"/proc/net/dev": "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", "/proc/diskstats": ""}
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
        files={"/etc/os-release": None},
    )
    assert out.get("node_scrape_collector_success", collector="systemd") == 0
    assert out.get("node_scrape_collector_success", collector="os") == 0
    assert out.get("node_os_info") is None
    assert out.get("node_scrape_collector_success", collector="meminfo") == 1


def test_incomplete_report_is_noticed() -> None:
    out = Result()
    assert not parse_report(report(SECTIONS, FILES, complete=False), out)
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
    assert out.get("node_network_mtu_bytes", device="lo") == 65536
    for collector in ("pressure", "netstat", "sockstat", "vmstat", "filefd", "entropy", "timex"):
        assert out.get("node_scrape_collector_success", collector=collector) == 1, collector
    for collector in ("softnet", "netclass", "udp_queues", "arp", "time", "uname"):
        assert out.get("node_scrape_collector_success", collector=collector) == 1, collector


def test_report_command_rejects_odd_unit_names() -> None:
    for bad in ("nginx", "a b.service", "x.service;reboot", "$(id).service"):
        with pytest.raises(ValueError):
            report_command([bad])


NEW_FILES: dict[str, str | None] = {
    "/proc/pressure/cpu": "some avg10=0.00 avg60=0.00 avg300=0.00 total=15932010\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0",
    "/proc/pressure/io": "some avg10=0.00 avg60=0.00 avg300=0.00 total=3380994\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=2720443",
    "/proc/pressure/memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0",
    "/proc/net/netstat": "TcpExt: ListenDrops TCPTimeouts\nTcpExt: 3 2\nIpExt: InOctets\nIpExt: 99",
    "/proc/net/snmp": "Tcp: RtoMin CurrEstab InSegs\nTcp: 200 4 26557",
    "/proc/net/snmp6": "Ip6InOctets                     \t128\nUdp6InDatagrams 7",
    "/proc/net/sockstat": "sockets: used 20\nTCP: inuse 6 orphan 0 tw 1 alloc 6 mem 3\n"
    "FRAG: inuse 0 memory 0",
    "/proc/net/softnet_stat": "00000018 00000000 00000002 0 0 0 0 0 0 0 0 0 0\n"
    "000067eb 00000001 00000000 0 0 0 0 0 0 0 0 0 1",
    "/proc/sys/fs/file-nr": "677\t0\t2466239",
    "/proc/net/udp": "  sl  local_address rem_address   st tx_queue rx_queue tr\n"
    "   0: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000",
    "/proc/net/arp": "IP address       HW type     Flags       HW address            Mask     "
    "Device\n"
    "10.0.0.1         0x1         0x2         02:fc:00:00:00:02     *        eth0",
    "/sys/class/net/eth0/mtu": "1400",
    "/sys/class/net/eth0/speed": "1000",
    "/sys/class/net/eth0/operstate": "up",
    "/sys/class/net/ifb0/speed": "",  # unreadable: the link is down
    "/sys/class/net/ifb0/operstate": "down",
    "/proc/net/stat/nf_conntrack": "entries clashres found new invalid ignore delete x insert "
    "insert_failed drop early_drop icmp_error expect_new expect_create expect_delete "
    "search_restart\n" + " ".join(["00000001"] * 17) + "\n" + " ".join(["00000010"] * 17),
    "/proc/sys/net/netfilter/nf_conntrack_count": "5",
    "/proc/sys/net/netfilter/nf_conntrack_max": "262144",
}


def test_families_beyond_the_basics() -> None:
    out = parse_with(
        NEW_FILES,
        timex=("5 0 0 0 16000000 16000000 64 2 1 32768000 1 2 10000 0 0 0 0 0 0 0 0 37", 0),
    )
    assert out.get("node_pressure_cpu_waiting_seconds_total") == 15.93201
    assert out.get("node_pressure_io_stalled_seconds_total") == 2.720443
    assert out.get("node_netstat_TcpExt_ListenDrops") == 3
    assert out.get("node_netstat_Tcp_CurrEstab") == 4
    assert out.get("node_netstat_Tcp_RtoMin") is None  # not in node_exporter's default fields
    assert out.get("node_netstat_Ip6_InOctets") == 128
    assert out.get("node_sockstat_TCP_mem_bytes") == 3 * 4096
    assert out.get("node_sockstat_sockets_used") == 20
    assert out.get("node_softnet_processed_total", cpu="1") == 0x67EB
    assert out.get("node_filefd_maximum") == 2466239
    assert out.get("node_udp_queues", queue="rx", ip="v4") == 0x200
    assert out.get("node_arp_entries", device="eth0") == 1
    assert out.get("node_network_speed_bytes", device="eth0") == 125_000_000
    assert out.get("node_network_speed_bytes", device="ifb0") is None
    assert out.get("node_network_up", device="eth0") == 1
    assert out.get("node_network_up", device="ifb0") == 0
    assert out.get("node_nf_conntrack_stat_found") == 0x11
    assert out.get("node_nf_conntrack_entries_limit") == 262144
    assert out.get("node_timex_sync_status") == 0  # TIME_ERROR: not synchronised
    assert out.get("node_timex_maxerror_seconds") == 16
    assert out.get("node_timex_tick_seconds") == 0.01
    assert out.get("node_timex_tai_offset_seconds") == 37
    assert out.get("node_time_zone_offset_seconds", time_zone="CET") == 3600
    # A host without PSI or conntrack, a perl that cannot adjtimex: those fail alone.
    out = parse_with(
        {**NEW_FILES, "/proc/pressure/io": None, CONNTRACK_STAT: "header\n00000001 2"},
        timex=("adjtimex: Operation not permitted", 2),
    )
    for collector in ("pressure", "conntrack", "timex"):
        assert out.get("node_scrape_collector_success", collector=collector) == 0, collector
    assert out.get("node_pressure_cpu_waiting_seconds_total") is None
    assert out.get("node_scrape_collector_success", collector="netstat") == 1


CONNTRACK_STAT = "/proc/net/stat/nf_conntrack"


def test_section_durations_from_when_the_output_arrived() -> None:
    data = report({"df": ("Filesystem", 0), "systemd": ("Id=x.service", 0)}, FILES).encode()
    df_end = data.index(b"@@rc 0\n", data.index(b"@@fellesdrift df")) + 6
    # Sent at 100.0; the files and df arrived at 100.01, systemd only at 102.51 (slow).
    arrivals = Arrivals(100.0, [(df_end, 100.01), (len(data), 102.51)])
    durations = arrivals.durations(data)
    assert durations == pytest.approx({"files": 0.01, "df": 0.0, "systemd": 2.5})
    out = Result()
    assert parse_report(data.decode(), out, durations)
    duration = "node_scrape_collector_duration_seconds"
    assert out.get(duration, collector="systemd") == pytest.approx(2.5)
    assert out.get(duration, collector="meminfo") == pytest.approx(0.01)  # the head's time
