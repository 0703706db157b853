"""Parsers of the node report for the system collectors: loadavg, cpu, stat, meminfo, vmstat,
pressure, filefd, entropy, time, timex, uname, os and systemd, under node_exporter's names
(its collector/*_linux.go files and prometheus/procfs are the reference)."""

from __future__ import annotations

import re
import shlex

from collectors.metrics import Result, spec
from collectors.probes.node_common import Collector, Report, Unavailable

USER_HZ = 100.0  # what /proc/stat counts in, on every Linux architecture node_exporter supports
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
UNIT_STATES = ("active", "activating", "deactivating", "inactive", "failed")
KERNEL = "/proc/sys/kernel/"
# node_exporter's default --collector.vmstat.fields.
VMSTAT_FIELDS = re.compile(r"^(oom_kill|pgpg|pswp|pg.*fault).*")
CLOCKSOURCE = "/sys/devices/system/clocksource/clocksource0/"

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
STAT = {
    "ctxt": spec(
        "node_context_switches_total", "Total number of context switches.", type="counter"
    ),
    "processes": spec("node_forks_total", "Total number of forks.", type="counter"),
    "btime": spec("node_boot_time_seconds", "Node boot time, in unixtime."),
    "procs_running": spec("node_procs_running", "Number of processes in runnable state."),
    "procs_blocked": spec(
        "node_procs_blocked", "Number of processes blocked waiting for I/O to complete."
    ),
    "intr": spec("node_intr_total", "Total number of interrupts serviced.", type="counter"),
}
TIME = spec("node_time_seconds", "System time in seconds since epoch (1970).")
ZONE = spec("node_time_zone_offset_seconds", "System time zone offset in seconds.", "time_zone")
CLOCK_AVAILABLE = spec(
    "node_time_clocksource_available_info",
    "Available clocksources read from '/sys/devices/system/clocksource'.",
    "device",
    "clocksource",
)
CLOCK_CURRENT = spec(
    "node_time_clocksource_current_info",
    "Current clocksource read from '/sys/devices/system/clocksource'.",
    "device",
    "clocksource",
)
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
PRESSURE = {
    ("cpu", "some"): "cpu_waiting",
    ("io", "some"): "io_waiting",
    ("io", "full"): "io_stalled",
    ("memory", "some"): "memory_waiting",
    ("memory", "full"): "memory_stalled",
}
PRESSURE_HELP = {
    "cpu_waiting": "Total time in seconds that processes have waited for CPU time",
    "io_waiting": "Total time in seconds that processes have waited due to IO congestion",
    "io_stalled": "Total time in seconds no process could make progress due to IO congestion",
    "memory_waiting": "Total time in seconds that processes have waited for memory",
    "memory_stalled": "Total time in seconds no process could make progress due to memory "
    "congestion",
}
FILEFD = {
    name: spec(f"node_filefd_{name}", f"File descriptor statistics: {name}.")
    for name in ("allocated", "maximum")
}
ENTROPY_AVAILABLE = spec("node_entropy_available_bits", "Bits of available entropy.")
ENTROPY_POOL = spec("node_entropy_pool_size_bits", "Bits of entropy pool.")
UNIT_STATE = spec("node_systemd_unit_state", "Systemd unit", "name", "state", "type")

# adjtimex(2) from perl (perl-base is essential on Debian): the kernel's state, then struct
# timex's fields in order, native longs and ints with their alignment. The syscall's number is
# the machine's (which the uname section keeps in $m): loading perl's Config for it
# would double perl's start-up.
TIMEX_PERL = (
    'my$m=shift//"";my$n=$m eq"x86_64"?159:$m=~/^(aarch64|riscv64)$/?171:'
    "$m=~/^(i[3-6]86|arm|ppc|s390)/?124:-1;"
    'my$b="\\0"x512;my$s=syscall($n,$b);die"adjtimex: $!\\n"if$s<0;'
    'print join(" ",$s,unpack("i x![l!] l!4 i x![l!] l!3 l!2 l!3 i x![l!] l!5 i",$b)),"\\n"'
)
TIMEX_FIELDS = (
    "state modes offset freq maxerror esterror status constant precision tolerance time_sec "
    "time_usec tick ppsfreq jitter shift stabil jitcnt calcnt errcnt stbcnt tai"
).split()
TIME_ERROR, STA_NANO, PPM16 = 5, 0x2000, 1e6 * 65536.0
# (name, help, field, divisor: "offset" = ns or µs by STA_NANO, else a number)
TIMEX: tuple[tuple[str, str, str, float | str], ...] = (
    ("offset_seconds", "Time offset in between local system and reference clock.", "offset", "ns"),
    ("frequency_adjustment_ratio", "Local clock frequency adjustment.", "freq", PPM16),
    ("maxerror_seconds", "Maximum error in seconds.", "maxerror", 1e6),
    ("estimated_error_seconds", "Estimated error in seconds.", "esterror", 1e6),
    ("status", "Value of the status array bits.", "status", 1),
    ("loop_time_constant", "Phase-locked loop time constant.", "constant", 1),
    ("tick_seconds", "Seconds between clock ticks.", "tick", 1e6),
    ("pps_frequency_hertz", "Pulse per second frequency.", "ppsfreq", PPM16),
    ("pps_jitter_seconds", "Pulse per second jitter.", "jitter", "ns"),
    ("pps_shift_seconds", "Pulse per second interval duration.", "shift", 1),
    (
        "pps_stability_hertz",
        "Pulse per second stability, average of recent frequency changes.",
        "stabil",
        PPM16,
    ),
    ("pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", "jitcnt", 1),
    ("pps_calibration_total", "Pulse per second count of calibration intervals.", "calcnt", 1),
    ("pps_error_total", "Pulse per second count of calibration errors.", "errcnt", 1),
    (
        "pps_stability_exceeded_total",
        "Pulse per second count of stability limit exceeded events.",
        "stbcnt",
        1,
    ),
    ("tai_offset_seconds", "International Atomic Time (TAI) offset.", "tai", 1),
)
TIMEX_SPECS = {
    name: spec(f"node_timex_{name}", text, type="counter" if name.endswith("_total") else "gauge")
    for name, text, _, _ in TIMEX
}
SYNC_STATUS = spec(
    "node_timex_sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no)."
)


def _loadavg(out: Result, report: Report) -> None:
    values = report.file("/proc/loadavg")[0].split()
    for index, minutes in enumerate((1, 5, 15)):
        out.set(LOAD[minutes], float(values[index]))


def _cpu(out: Result, report: Report) -> None:
    for line in report.file("/proc/stat"):
        fields = line.split()
        if not fields or not fields[0].startswith("cpu") or fields[0] == "cpu":
            continue
        cpu = fields[0][3:]
        ticks = [float(v) / USER_HZ for v in fields[1:]]
        for mode, value in zip(CPU_MODES, ticks, strict=False):
            out.set(CPU, value, cpu, mode)
        for mode, value in zip(("user", "nice"), ticks[8:10], strict=False):
            out.set(CPU_GUEST, value, cpu, mode)


def _stat(out: Result, report: Report) -> None:
    for line in report.file("/proc/stat"):
        fields = line.split()
        if fields and fields[0] in STAT:
            out.set(STAT[fields[0]], float(fields[1]))


def _meminfo(out: Result, report: Report) -> None:
    for line in report.file("/proc/meminfo"):
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


def _vmstat(out: Result, report: Report) -> None:
    for line in report.file("/proc/vmstat"):
        name, _, value = line.partition(" ")
        if VMSTAT_FIELDS.match(name):
            metric = spec(
                f"node_vmstat_{name}", f"/proc/vmstat information field {name}.", type="untyped"
            )
            out.set(metric, float(value))


def _pressure(out: Result, report: Report) -> None:
    for resource in ("cpu", "io", "memory"):
        for line in report.file(f"/proc/pressure/{resource}"):
            kind, *pairs = line.split()
            name = PRESSURE.get((resource, kind))
            if name is None:
                continue  # "full" of cpu, which kernels 5.13 and later print as zeros
            total = dict(pair.split("=", 1) for pair in pairs)["total"]
            metric = spec(
                f"node_pressure_{name}_seconds_total", PRESSURE_HELP[name], type="counter"
            )
            out.set(metric, float(total) / 1e6)


def _filefd(out: Result, report: Report) -> None:
    allocated, _, maximum = report.file("/proc/sys/fs/file-nr")[0].split("\t")
    out.set(FILEFD["allocated"], float(allocated))
    out.set(FILEFD["maximum"], float(maximum))


def _entropy(out: Result, report: Report) -> None:
    out.set(ENTROPY_AVAILABLE, float(report.file(KERNEL + "random/entropy_avail")[0]))
    out.set(ENTROPY_POOL, float(report.file(KERNEL + "random/poolsize")[0]))


def _time(out: Result, report: Report) -> None:
    stamp, zone, offset = report.section("time")[0].split()
    seconds, _, fraction = stamp.partition(".")
    out.set(TIME, float(f"{int(seconds)}.{fraction if fraction.isdigit() else 0}"))
    sign = -1 if offset.startswith("-") else 1
    out.set(ZONE, sign * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60), zone)
    available = report.optional(CLOCKSOURCE + "available_clocksource")
    current = report.optional(CLOCKSOURCE + "current_clocksource")
    for name in available[0].split() if available else ():
        out.set(CLOCK_AVAILABLE, 1, "0", name)
    if current:
        out.set(CLOCK_CURRENT, 1, "0", current[0].strip())


def _timex(out: Result, report: Report) -> None:
    values = dict(zip(TIMEX_FIELDS, map(int, report.section("timex")[0].split()), strict=True))
    nano = 1e9 if values["status"] & STA_NANO else 1e6
    out.set(SYNC_STATUS, 0 if values["state"] == TIME_ERROR else 1)
    for name, _, field, divisor in TIMEX:
        value = values[field] / (nano if divisor == "ns" else float(divisor))
        if field == "freq":
            value += 1
        out.set(TIMEX_SPECS[name], value)


def _uname(out: Result, report: Report) -> None:
    machine = report.section("uname")[0].strip()
    sysname, nodename, release, version, domainname = (
        report.file(KERNEL + name)[0]
        for name in ("ostype", "hostname", "osrelease", "version", "domainname")
    )
    out.set(UNAME, 1, domainname, machine, nodename, release, sysname, version)


def _os(out: Result, report: Report) -> None:
    lines = report.optional("/etc/os-release") or report.file("/usr/lib/os-release")
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


def _systemd(out: Result, report: Report) -> None:
    blocks: list[dict[str, str]] = [{}]
    for line in report.section("systemd"):
        if not line.strip():
            blocks.append({})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise Unavailable("systemctl printed an error instead of properties")
        blocks[-1][key] = value
    for unit in blocks:
        if not unit.get("Id") or unit.get("LoadState") == "not-found":
            continue
        for state in UNIT_STATES:
            current = 1 if unit.get("ActiveState") == state else 0
            out.set(UNIT_STATE, current, unit["Id"], state, unit.get("Type", ""))


UNAME_FILES = tuple(
    KERNEL + name for name in ("ostype", "hostname", "osrelease", "version", "domainname")
)
COLLECTORS = (
    Collector("cpu", _cpu, ("/proc/stat",)),
    Collector("entropy", _entropy, (KERNEL + "random/entropy_avail", KERNEL + "random/poolsize")),
    Collector("filefd", _filefd, ("/proc/sys/fs/file-nr",)),
    Collector("loadavg", _loadavg, ("/proc/loadavg",)),
    Collector("meminfo", _meminfo, ("/proc/meminfo",)),
    Collector("os", _os, ("/etc/os-release", "/usr/lib/os-release")),
    Collector("pressure", _pressure, tuple(f"/proc/pressure/{r}" for r in ("cpu", "io", "memory"))),
    Collector("stat", _stat, ("/proc/stat",)),
    Collector(
        "time",
        _time,
        (CLOCKSOURCE + "available_clocksource", CLOCKSOURCE + "current_clocksource"),
        "time",
        "date '+%s.%N %Z %z'",
    ),
    # /proc/sys/kernel/arch (Linux 6.1 and later) is read by the shell itself: no uname to exec.
    Collector(
        "uname",
        _uname,
        UNAME_FILES,
        "uname",
        '{ read m < /proc/sys/kernel/arch || m=$(uname -m); } 2>/dev/null; echo "$m"',
    ),
    Collector("timex", _timex, (), "timex", f"perl -e '{TIMEX_PERL}' \"$m\""),
    Collector("vmstat", _vmstat, ("/proc/vmstat",)),
    Collector("systemd", _systemd, (), "systemd"),
)
