"""The fixed read-only report an SSH target runs, and its parser into node_exporter metrics.

The report is one POSIX shell command line made only of reads (``cat`` of /proc and /etc files,
``date``, ``uname -m``, ``df``, and ``systemctl show`` for the units in the include list). Each
section starts with ``@@fellesdrift <name>`` and ends with ``@@rc <exit status>``, so one exec
per poll yields everything and a failing section (no systemd, say) fails alone, reported as
``node_scrape_collector_success{collector=...} 0`` as node_exporter does. The same text can be
installed on the host as the account's forced command (see collectors/README.md).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from collectors.metrics import MetricSpec, MetricType, Result, spec

MARK, RC, END = "@@fellesdrift ", "@@rc ", "@@fellesdrift end"
USER_HZ = 100.0  # what /proc/stat counts in, on every Linux architecture node_exporter supports
UNIT_NAME = re.compile(
    r"^[A-Za-z0-9:_.@\\-]+\.(service|socket|target|mount|timer|path|slice|scope|swap|device|automount)$"
)
UNIT_STATES = ("active", "activating", "deactivating", "inactive", "failed")
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# node_exporter's default exclusions (--collector.filesystem.{mount-points,fs-types}-exclude).
EXCLUDED_MOUNTS = re.compile(
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
EXCLUDED_FS = re.compile(
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$"
)
# node_exporter's default --collector.diskstats.device-exclude: partitions, loop and RAM disks.
EXCLUDED_DISKS = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
SECTOR_BYTES = 512.0  # /proc/diskstats counts 512-byte sectors whatever the device's block size

KERNEL = "/proc/sys/kernel/"
SECTIONS: tuple[tuple[str, str], ...] = (
    ("loadavg", "cat /proc/loadavg"),
    ("stat", "cat /proc/stat"),
    ("meminfo", "cat /proc/meminfo"),
    ("time", "date +%s.%N"),
    (
        "uname",
        "uname -m && cat "
        + " ".join(
            KERNEL + f for f in ("ostype", "hostname", "osrelease", "version", "domainname")
        ),
    ),
    ("os", "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release"),
    ("df", "timeout 10 df -P -T -B1"),
    ("df_inodes", "timeout 10 df -P -i"),
    ("mounts", "cat /proc/mounts"),
    ("netdev", "cat /proc/net/dev"),
    ("diskstats", "cat /proc/diskstats"),
)

LOAD = {n: spec(f"node_load{n}", f"{n}m load average.") for n in (1, 5, 15)}
CPU = spec(
    "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "cpu", "mode", type="counter"
)
CPU_GUEST = spec(
    "node_cpu_guest_seconds_total",
    "Seconds the CPUs spent in guests (VMs) for each mode.",
    "cpu",
    "mode",
    type="counter",
)
BOOT_TIME = spec("node_boot_time_seconds", "Node boot time, in unixtime.")
CONTEXT_SWITCHES = spec(
    "node_context_switches_total", "Total number of context switches.", type="counter"
)
FORKS = spec("node_forks_total", "Total number of forks.", type="counter")
INTR = spec("node_intr_total", "Total number of interrupts serviced.", type="counter")
PROCS_RUNNING = spec("node_procs_running", "Number of processes in runnable state.")
PROCS_BLOCKED = spec(
    "node_procs_blocked", "Number of processes blocked waiting for I/O to complete."
)
TIME = spec("node_time_seconds", "System time in seconds since epoch (1970).")
UNAME = spec(
    "node_uname_info",
    "Labeled system information as provided by the uname system call.",
    "domainname",
    "machine",
    "nodename",
    "release",
    "sysname",
    "version",
)
OS_LABELS = (
    "build_id",
    "id",
    "id_like",
    "image_id",
    "image_version",
    "name",
    "pretty_name",
    "variant",
    "variant_id",
    "version",
    "version_codename",
    "version_id",
)
OS_INFO = spec(
    "node_os_info",
    "A metric with a constant '1' value labeled by " + ", ".join(OS_LABELS) + ".",
    *OS_LABELS,
)
OS_VERSION = spec(
    "node_os_version",
    "Metric containing the major.minor part of the OS version.",
    "id",
    "id_like",
    "name",
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


def _disk_type(name: str) -> MetricType:
    return "counter" if name.endswith("_total") else "gauge"  # io_now is the one gauge


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
    for way, columns in NET_COLUMNS.items()
    for column in columns
}
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
UNIT_STATE = spec("node_systemd_unit_state", "Systemd unit", "name", "state", "type")
COLLECTOR_SUCCESS = spec(
    "node_scrape_collector_success", "node_exporter: Whether a collector succeeded.", "collector"
)


def check_units(units: Iterable[str]) -> tuple[str, ...]:
    units = tuple(units)
    for unit in units:
        if not UNIT_NAME.match(unit):
            raise ValueError(f"not a systemd unit name: {unit!r}")
    return units


def report_command(units: Iterable[str] = ()) -> str:
    """The one command line the ssh probe runs (or the host forces) for a poll."""
    sections = list(SECTIONS)
    units = check_units(units)
    if units:
        names = " ".join(shlex.quote(u) for u in units)
        sections.append(
            (
                "systemd",
                f"systemctl show --property=Id,LoadState,ActiveState,SubState,Type -- {names}",
            )
        )
    parts = ["export LC_ALL=C"]
    for name, command in sections:
        parts.append(f"echo '{MARK}{name}'; {{ {command}; }} 2>&1; echo \"{RC}$?\"")
    parts.append(f"echo '{END}'")
    return "; ".join(parts)


@dataclass
class Section:
    lines: list[str] = field(default_factory=list)
    rc: int | None = None


def split_sections(text: str) -> tuple[dict[str, Section], bool]:
    """Sections by name, and whether the end marker arrived (the report is complete)."""
    sections: dict[str, Section] = {}
    current: Section | None = None
    complete = False
    for line in text.splitlines():
        if line == END:
            complete = True
        elif line.startswith(MARK):
            current = sections.setdefault(line[len(MARK) :], Section())
        elif line.startswith(RC) and current is not None:
            current.rc = int(line[len(RC) :]) if line[len(RC) :].isdigit() else 1
            current = None
        elif current is not None:
            current.lines.append(line)
    return sections, complete


def parse_report(text: str, out: Result) -> bool:
    """Fill ``out`` with node metrics from a report; False if the report is incomplete."""
    sections, complete = split_sections(text)
    for collector, section_names, parse in _PARSERS:
        found = [sections.get(name) for name in section_names]
        main = found[0]
        if main is None:
            continue
        # df exits 1 when one mount (a stale NFS, say) fails; the others are still good.
        ok = main.rc == 0 or collector == ("filesystem",)
        part = Result()
        try:
            ok = ok and parse(part, *[s.lines if s else [] for s in found])
        except (ValueError, IndexError):
            ok = False
        if ok:
            out.samples.extend(part.samples)
        for name in collector:
            out.set(COLLECTOR_SUCCESS, 1 if ok else 0, name)
    return complete


def _loadavg(out: Result, lines: list[str]) -> bool:
    values = lines[0].split()
    for index, minutes in enumerate((1, 5, 15)):
        out.set(LOAD[minutes], float(values[index]))
    return True


def _stat(out: Result, lines: list[str]) -> bool:
    singles = {
        "ctxt": CONTEXT_SWITCHES,
        "processes": FORKS,
        "btime": BOOT_TIME,
        "procs_running": PROCS_RUNNING,
        "procs_blocked": PROCS_BLOCKED,
    }
    for line in lines:
        fields = line.split()
        if not fields:
            continue
        key = fields[0]
        if key.startswith("cpu") and key != "cpu":
            cpu = key[3:]
            ticks = [float(v) / USER_HZ for v in fields[1:]]
            for mode, value in zip(CPU_MODES, ticks, strict=False):
                out.set(CPU, value, cpu, mode)
            for mode, value in zip(("user", "nice"), ticks[8:10], strict=False):
                out.set(CPU_GUEST, value, cpu, mode)
        elif key == "intr":
            out.set(INTR, float(fields[1]))
        elif key in singles:
            out.set(singles[key], float(fields[1]))
    return True


def _meminfo(out: Result, lines: list[str]) -> bool:
    for line in lines:
        key, _, rest = line.partition(":")
        fields = rest.split()
        if not fields:
            continue
        key = key.strip().replace("(", "_").replace(")", "")
        value = float(fields[0])
        if len(fields) > 1 and fields[1] == "kB":
            value, key = value * 1024, key + "_bytes"
        try:
            metric = spec(f"node_memory_{key}", f"Memory information field {key}.")
        except ValueError:
            continue
        out.set(metric, value)
    return True


def _time(out: Result, lines: list[str]) -> bool:
    seconds, _, fraction = lines[0].strip().partition(".")
    out.set(TIME, float(f"{int(seconds)}.{fraction if fraction.isdigit() else 0}"))
    return True


def _uname(out: Result, lines: list[str]) -> bool:
    machine, sysname, nodename, release, version, domainname = lines[:6]
    out.set(UNAME, 1, domainname, machine, nodename, release, sysname, version)
    return True


def _os(out: Result, lines: list[str]) -> bool:
    values: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip():
            parsed = shlex.split(value, comments=False) if value.strip() else [""]
            values[key.strip().lower()] = " ".join(parsed)
    out.set(OS_INFO, 1, *(values.get(label, "") for label in OS_LABELS))
    match = re.match(r"^(\d+)(\.\d+)?", values.get("version_id", ""))
    version = float(match.group(0)) if match else 0.0
    out.set(
        OS_VERSION, version, values.get("id", ""), values.get("id_like", ""), values.get("name", "")
    )
    return True


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _filesystems(out: Result, df: list[str], inodes: list[str], mounts: list[str]) -> bool:
    readonly = {}
    for line in mounts:
        fields = line.split()
        if len(fields) >= 4:
            readonly[_unescape(fields[1])] = "ro" in fields[3].split(",")
    files = {}
    for line in inodes[1:]:
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[1].isdigit() and fields[3].isdigit():
            files[fields[5]] = (float(fields[1]), float(fields[3]))
    rows = 0
    for line in df[1:]:
        fields = line.split(None, 6)
        if len(fields) != 7 or not fields[2].isdigit():
            continue  # an error message from df about one mount
        device, fstype, size, used, avail, _, mountpoint = fields
        if EXCLUDED_FS.match(fstype) or EXCLUDED_MOUNTS.match(mountpoint):
            continue
        labels = (device, fstype, mountpoint)
        out.set(FS_SIZE, float(size), *labels)
        out.set(FS_FREE, float(size) - float(used), *labels)
        out.set(FS_AVAIL, float(avail), *labels)
        if mountpoint in files:
            out.set(FS_FILES, files[mountpoint][0], *labels)
            out.set(FS_FILES_FREE, files[mountpoint][1], *labels)
        out.set(FS_READONLY, 1 if readonly.get(mountpoint) else 0, *labels)
        rows += 1
    return rows > 0


def _systemd(out: Result, lines: list[str]) -> bool:
    blocks: list[dict[str, str]] = [{}]
    for line in lines:
        if not line.strip():
            blocks.append({})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            return False  # an error message instead of properties
        blocks[-1][key] = value
    for unit in blocks:
        if not unit.get("Id") or unit.get("LoadState") == "not-found":
            continue
        for state in UNIT_STATES:
            current = 1 if unit.get("ActiveState") == state else 0
            out.set(UNIT_STATE, current, unit["Id"], state, unit.get("Type", ""))
    return True


def _netdev(out: Result, lines: list[str]) -> bool:
    # The second header line names the columns ("face |bytes packets ...|bytes packets ...");
    # anything else there is not /proc/net/dev, and the unpacking fails the section.
    _, receive, transmit = lines[1].split("|")
    keys = [f"receive_{c}" for c in receive.split()] + [f"transmit_{c}" for c in transmit.split()]
    for line in lines[2:]:
        device, sep, rest = line.partition(":")
        device, values = device.strip(), rest.split()
        if not sep or not device or len(values) != len(keys) or not all(map(str.isdigit, values)):
            continue  # not an interface's line
        for key, value in zip(keys, values, strict=True):
            if key in NETDEV:
                out.set(NETDEV[key], float(value), device)
    return True


def _diskstats(out: Result, lines: list[str]) -> bool:
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
    return good > 0 or not any(line.strip() for line in lines)


# (collector names, the sections a parser reads (first one decides success), parser)
_PARSERS: tuple[tuple[tuple[str, ...], tuple[str, ...], Callable[..., bool]], ...] = (
    (("loadavg",), ("loadavg",), _loadavg),
    (("cpu", "stat"), ("stat",), _stat),
    (("meminfo",), ("meminfo",), _meminfo),
    (("time",), ("time",), _time),
    (("uname",), ("uname",), _uname),
    (("os",), ("os",), _os),
    (("filesystem",), ("df", "df_inodes", "mounts"), _filesystems),
    (("netdev",), ("netdev",), _netdev),
    (("diskstats",), ("diskstats",), _diskstats),
    (("systemd",), ("systemd",), _systemd),
)
