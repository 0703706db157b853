"""Parsers of the node report for the I/O collectors: filesystem (df and /proc/mounts), netdev
(/proc/net/dev) and diskstats (/proc/diskstats), under node_exporter's names and with the
default exclusions of the node_exporter Debian 12 ships (1.5.0): mount points under /dev, /proc,
/run, /sys, /mnt and /media, pseudo file systems, the loopback interface, and partitions, loop
and RAM disks (zram is kept)."""

from __future__ import annotations

import re

from collectors.metrics import MetricSpec, MetricType, Result, spec
from collectors.probes.node_common import Collector, Report

EXCLUDED_MOUNTS = re.compile(
    r"^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
EXCLUDED_FS_TYPES = (
    "autofs binfmt_misc bpf cgroup cgroup2 configfs debugfs devpts devtmpfs fusectl hugetlbfs "
    "iso9660 mqueue nsfs overlay proc procfs pstore rpc_pipefs securityfs selinuxfs squashfs "
    "sysfs tracefs"
).split()
EXCLUDED_DISKS = re.compile(r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
EXCLUDED_NETDEV = re.compile(r"^lo$")
SECTOR_BYTES = 512.0  # /proc/diskstats counts 512-byte sectors whatever the device's block size
# df -a lists every mount (node_exporter statfs's each one of /proc/mounts), except the
# excluded types, which it never stat()s (an autofs mount point is not triggered).
DF = "timeout 10 df -a -B1 --output=source,fstype,size,used,avail,itotal,iavail,target " + " ".join(
    f"-x {kind}" for kind in EXCLUDED_FS_TYPES
)

FS = ("device", "fstype", "mountpoint")
FS_SIZE = spec("node_filesystem_size_bytes", "Filesystem size in bytes.", *FS)
FS_FREE = spec("node_filesystem_free_bytes", "Filesystem free space in bytes.", *FS)
FS_AVAIL = spec(
    "node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", *FS
)
FS_FILES = spec("node_filesystem_files", "Filesystem total file nodes.", *FS)
FS_FILES_FREE = spec("node_filesystem_files_free", "Filesystem total free file nodes.", *FS)
FS_READONLY = spec("node_filesystem_readonly", "Filesystem read-only status.", *FS)
FS_ERROR = spec(
    "node_filesystem_device_error",
    "Whether an error occurred while getting statistics for the given device.",
    *FS,
)

# /proc/net/dev's columns, under node_exporter's (non-detailed) names.
NET_COLUMNS = {
    "receive": ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast"),
    "transmit": ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed"),
}
NETDEV = {
    f"{way}_{column}": spec(
        f"node_network_{way}_{column}_total",
        f"Network device statistic {way}_{column}.",
        "device",
        type="counter",
    )
    for way, columns in {**NET_COLUMNS, "receive": (*NET_COLUMNS["receive"], "nohandler")}.items()
    for column in columns
}
NET_CLASS = "/sys/class/net"


def _disk_type(name: str) -> MetricType:
    return "counter" if name.endswith("_total") else "gauge"  # io_now is the one gauge


# The fields of /proc/diskstats after major, minor and name, in order (the kernel's
# Documentation/admin-guide/iostats.rst), as node_exporter names them: (metric, unit, help).
# Sectors become bytes and milliseconds seconds, except discarded sectors (as node_exporter).
DISK_FIELDS = (
    ("reads_completed_total", "", "The total number of reads completed successfully."),
    ("reads_merged_total", "", "The total number of reads merged."),
    ("read_bytes_total", "sectors", "The total number of bytes read successfully."),
    ("read_time_seconds_total", "ms", "The total number of seconds spent by all reads."),
    ("writes_completed_total", "", "The total number of writes completed successfully."),
    ("writes_merged_total", "", "The number of writes merged."),
    ("written_bytes_total", "sectors", "The total number of bytes written successfully."),
    ("write_time_seconds_total", "ms", "This is the total number of seconds spent by all writes."),
    ("io_now", "", "The number of I/Os currently in progress."),
    ("io_time_seconds_total", "ms", "Total seconds spent doing I/Os."),
    ("io_time_weighted_seconds_total", "ms", "The weighted # of seconds spent doing I/Os."),
    # Linux 4.18 and later:
    ("discards_completed_total", "", "The total number of discards completed successfully."),
    ("discards_merged_total", "", "The total number of discards merged."),
    ("discarded_sectors_total", "", "The total number of sectors discarded successfully."),
    (
        "discard_time_seconds_total",
        "ms",
        "This is the total number of seconds spent by all discards.",
    ),
    # Linux 5.5 and later:
    ("flush_requests_total", "", "The total number of flush requests completed successfully"),
    (
        "flush_requests_time_seconds_total",
        "ms",
        "This is the total number of seconds spent by all flush requests.",
    ),
)
DISK: tuple[tuple[MetricSpec, str], ...] = tuple(
    (spec(f"node_disk_{name}", text, "device", type=_disk_type(name)), unit)
    for name, unit, text in DISK_FIELDS
)


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _filesystem(out: Result, report: Report) -> None:
    mounts: dict[str, tuple[str, str, bool]] = {}  # mount point -> (device, fstype, read-only)
    for line in report.file("/proc/mounts"):
        fields = line.split()
        if len(fields) >= 4:
            readonly = "ro" in fields[3].split(",")
            mounts[_unescape(fields[1])] = (_unescape(fields[0]), fields[2], readonly)
    df = report.section("df", ok_codes=(0, 1))  # 1: df could not stat one of them
    seen: set[tuple[str, ...]] = set()
    for line in df[1:]:
        fields = line.split(None, 7)
        if len(fields) == 8 and fields[2].isdigit():
            device, fstype, size, used, avail, files, files_free, mountpoint = fields
            if EXCLUDED_MOUNTS.match(mountpoint) or (device, fstype, mountpoint) in seen:
                continue
            labels = (device, fstype, mountpoint)
            seen.add(labels)
            out.set(FS_ERROR, 0, *labels)
            out.set(FS_SIZE, float(size), *labels)
            out.set(FS_FREE, float(size) - float(used), *labels)
            out.set(FS_AVAIL, float(avail), *labels)
            out.set(FS_FILES, float(files) if files.isdigit() else 0.0, *labels)
            out.set(FS_FILES_FREE, float(files_free) if files_free.isdigit() else 0.0, *labels)
            out.set(FS_READONLY, 1 if mounts.get(mountpoint, ("", "", False))[2] else 0, *labels)
        elif line.startswith("df: ") and line.count(": ") >= 2:
            failed = line[4:].rsplit(": ", 1)[0].strip("'‘’")  # df: /mnt/nfs: Stale file handle
            device, fstype, _ = mounts.get(failed, ("", "", False))
            if fstype and not EXCLUDED_MOUNTS.match(failed) and fstype not in EXCLUDED_FS_TYPES:
                out.set(FS_ERROR, 1, device, fstype, failed)


def _netdev(out: Result, report: Report) -> None:
    lines = report.file("/proc/net/dev")
    # The second header line names the columns ("face |bytes packets ...|bytes packets ...");
    # anything else there is not /proc/net/dev, and the unpacking fails the section.
    _, receive, transmit = lines[1].split("|")
    keys = [f"receive_{c}" for c in receive.split()] + [f"transmit_{c}" for c in transmit.split()]
    nohandler = report.per_device(NET_CLASS, "statistics/rx_nohandler")
    for line in lines[2:]:
        device, sep, rest = line.partition(":")
        device, values = device.strip(), rest.split()
        if not sep or not device or len(values) != len(keys) or not all(map(str.isdigit, values)):
            continue  # not an interface's line
        if EXCLUDED_NETDEV.match(device):
            continue
        for key, value in zip(keys, values, strict=True):
            if key in NETDEV:
                out.set(NETDEV[key], float(value), device)
        if nohandler.get(device, "").strip().isdigit():
            out.set(NETDEV["receive_nohandler"], float(nohandler[device]), device)


def _diskstats(out: Result, report: Report) -> None:
    lines = report.optional("/proc/diskstats") or []
    good = 0
    for line in lines:
        fields = line.split()
        counters = fields[3:]
        # Every kernel since 2.6.25 prints at least 11 counters per device, partitions included.
        if len(counters) < 11 or not all(map(str.isdigit, fields[:2] + counters)):
            continue
        good += 1
        if EXCLUDED_DISKS.match(fields[2]):
            continue
        for (metric, unit), text in zip(DISK, counters, strict=False):
            value = float(text)
            if unit == "sectors":
                value *= SECTOR_BYTES
            elif unit == "ms":
                value /= 1000
            out.set(metric, value, fields[2])
    # No devices at all is a valid answer; lines none of which parse are not diskstats.
    if not good and any(line.strip() for line in lines):
        raise ValueError("not /proc/diskstats")


COLLECTORS = (
    Collector("diskstats", _diskstats, ("/proc/diskstats",)),
    Collector("filesystem", _filesystem, ("/proc/mounts",), "df", DF),
    Collector("netdev", _netdev, ("/proc/net/dev", f"{NET_CLASS}/*/statistics/rx_nohandler")),
)
