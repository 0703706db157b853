"""Parsers of the node report for the network collectors: netstat, sockstat, softnet, netclass
(/sys/class/net), udp_queues, arp and conntrack, under node_exporter's names, labels and units
(node_exporter 1.5.0's collector/*_linux.go and prometheus/procfs 0.8 are the reference)."""

from __future__ import annotations

import re

from collectors.metrics import Result, spec
from collectors.probes.node_common import Collector, Report, Unavailable, hex_fields

# node_exporter's default --collector.netstat.fields.
NETSTAT_FIELDS = re.compile(
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs"
    r"|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts"
    r"|RcvbufErrors|SndbufErrors))$"
)
PAGE_SIZE = 4096  # sockstat's mem is in pages; 4 KiB on every architecture Debian builds for
NET_CLASS = "/sys/class/net"
# The /sys/class/net/<device>/ files node_exporter's netclass collector reads.
NETCLASS_ATTRIBUTES = (
    "addr_assign_type address broadcast carrier carrier_changes carrier_down_count "
    "carrier_up_count dev_id dormant duplex flags ifalias ifindex iflink link_mode mtu "
    "name_assign_type netdev_group operstate speed tx_queue_len type"
).split()
# metric suffix -> (attribute, type, scale)
NETCLASS_VALUES = {
    "address_assign_type": ("addr_assign_type", "gauge", 1),
    "carrier": ("carrier", "gauge", 1),
    "carrier_changes_total": ("carrier_changes", "counter", 1),
    "carrier_up_changes_total": ("carrier_up_count", "counter", 1),
    "carrier_down_changes_total": ("carrier_down_count", "counter", 1),
    "device_id": ("dev_id", "gauge", 1),
    "dormant": ("dormant", "gauge", 1),
    "flags": ("flags", "gauge", 1),
    "iface_id": ("ifindex", "gauge", 1),
    "iface_link": ("iflink", "gauge", 1),
    "iface_link_mode": ("link_mode", "gauge", 1),
    "mtu_bytes": ("mtu", "gauge", 1),
    "name_assign_type": ("name_assign_type", "gauge", 1),
    "net_dev_group": ("netdev_group", "gauge", 1),
    "speed_bytes": ("speed", "gauge", 1000 * 1000 // 8),  # Mbit/s
    "transmit_queue_length": ("tx_queue_len", "gauge", 1),
    "protocol_type": ("type", "gauge", 1),
}
NETCLASS_SPECS = {
    name: spec(
        f"node_network_{name}",
        f"Network device property: {name}",
        "device",
        type="counter" if kind == "counter" else "gauge",
    )
    for name, (_, kind, _) in NETCLASS_VALUES.items()
}
NET_UP = spec("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", "device")
NET_INFO_LABELS = ("device", "address", "broadcast", "duplex", "operstate", "ifalias")
NET_INFO = spec(
    "node_network_info",
    "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
    *NET_INFO_LABELS,
)
SOFTNET = {
    "processed": spec(
        "node_softnet_processed_total", "Number of processed packets", "cpu", type="counter"
    ),
    "dropped": spec(
        "node_softnet_dropped_total", "Number of dropped packets", "cpu", type="counter"
    ),
    "times_squeezed": spec(
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
        "cpu",
        type="counter",
    ),
}
UDP_QUEUES = spec(
    "node_udp_queues",
    "Number of allocated memory in the kernel for UDP datagrams in bytes.",
    "queue",
    "ip",
)
ARP = spec("node_arp_entries", "ARP entries by device", "device")
CONNTRACK = "/proc/sys/net/netfilter/"
CONNTRACK_STAT = "/proc/net/stat/nf_conntrack"
CONNTRACK_COUNTS = {
    "entries": spec(
        "node_nf_conntrack_entries",
        "Number of currently allocated flow entries for connection tracking.",
    ),
    "entries_limit": spec(
        "node_nf_conntrack_entries_limit", "Maximum size of connection tracking table."
    ),
}
# (name, column of /proc/net/stat/nf_conntrack, help): summed over the CPUs, as procfs does.
CONNTRACK_STATS = (
    ("found", 2, "Number of searched entries which were successful."),
    ("invalid", 4, "Number of packets seen which can not be tracked."),
    ("ignore", 5, "Number of packets seen which are already connected to a conntrack entry."),
    ("insert", 8, "Number of entries inserted into the list."),
    ("insert_failed", 9, "Number of entries for which list insertion was attempted but failed."),
    ("drop", 10, "Number of packets dropped due to conntrack failure."),
    (
        "early_drop",
        11,
        "Number of dropped conntrack entries to make room for new ones, if maximum table size "
        "was reached.",
    ),
    (
        "search_restart",
        16,
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
)
CONNTRACK_STAT_SPECS = {
    name: spec(f"node_nf_conntrack_stat_{name}", text) for name, _, text in CONNTRACK_STATS
}


def _netstat_pairs(lines: list[str]) -> dict[str, str]:
    """/proc/net/netstat and /proc/net/snmp: a line of names, then a line of values."""
    pairs: dict[str, str] = {}
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        keys, numbers = names.split(), values.split()
        if len(keys) != len(numbers) or keys[0] != numbers[0]:
            raise ValueError(f"netstat lines do not pair: {keys[0]} {numbers[0]}")
        protocol = keys[0].rstrip(":")
        pairs.update((f"{protocol}_{k}", v) for k, v in zip(keys[1:], numbers[1:], strict=True))
    return pairs


def _netstat(out: Result, report: Report) -> None:
    pairs = _netstat_pairs(report.file("/proc/net/netstat"))
    pairs.update(_netstat_pairs(report.file("/proc/net/snmp")))
    for line in report.optional("/proc/net/snmp6") or []:  # absent with IPv6 off
        fields = line.split()
        six = fields[0].find("6") if len(fields) >= 2 else -1
        if six >= 0:
            pairs[f"{fields[0][: six + 1]}_{fields[0][six + 1 :]}"] = fields[1]
    for key, value in pairs.items():
        if NETSTAT_FIELDS.match(key):
            protocol, _, name = key.partition("_")
            metric = spec(f"node_netstat_{key}", f"Statistic {protocol}{name}.", type="untyped")
            out.set(metric, float(value))


def _sockstat(out: Result, report: Report) -> None:
    lines = report.file("/proc/net/sockstat") + (report.optional("/proc/net/sockstat6") or [])
    for line in lines:
        protocol, _, rest = line.partition(":")
        values = rest.split()
        pairs = dict(zip(values[::2], values[1::2], strict=True))
        if protocol == "sockets":
            metric = spec("node_sockstat_sockets_used", "Number of IPv4 sockets in use.")
            out.set(metric, float(pairs["used"]))
            continue
        if "mem" in pairs:
            pairs["mem_bytes"] = str(int(pairs["mem"]) * PAGE_SIZE)
        for name in ("inuse", "orphan", "tw", "alloc", "mem", "memory", "mem_bytes"):
            if name in pairs:
                metric = spec(
                    f"node_sockstat_{protocol}_{name}",
                    f"Number of {protocol} sockets in state {name}.",
                )
                out.set(metric, float(pairs[name]))


def _softnet(out: Result, report: Report) -> None:
    for cpu, line in enumerate(report.file("/proc/net/softnet_stat")):
        processed, dropped, squeezed = hex_fields(line)[:3]
        out.set(SOFTNET["processed"], processed, str(cpu))
        out.set(SOFTNET["dropped"], dropped, str(cpu))
        out.set(SOFTNET["times_squeezed"], squeezed, str(cpu))


def _netclass(out: Result, report: Report) -> None:
    attributes = {name: report.per_device(NET_CLASS, name) for name in NETCLASS_ATTRIBUTES}
    devices = sorted({device for values in attributes.values() for device in values})
    if not devices:
        raise Unavailable(NET_CLASS)
    for device in devices:
        text = {name: values.get(device) for name, values in attributes.items()}
        operstate = (text["operstate"] or "").strip()
        out.set(NET_UP, 1 if operstate == "up" else 0, device)
        info = [(text[name] or "").strip() for name in NET_INFO_LABELS[1:]]
        out.set(NET_INFO, 1, device, *info)
        for name, (attribute, _, scale) in NETCLASS_VALUES.items():
            value = (text[attribute] or "").strip()
            # procfs parses with base 0: flags and dev_id are printed in hex (0x1003).
            if re.fullmatch(r"-?(\d+|0x[0-9a-fA-F]+)", value):
                out.set(NETCLASS_SPECS[name], int(value, 0) * scale, device)


def _udp_summary(lines: list[str]) -> tuple[int, int]:
    tx = rx = 0
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > 4:
            queue_tx, _, queue_rx = fields[4].partition(":")
            tx, rx = tx + int(queue_tx, 16), rx + int(queue_rx, 16)
    return tx, rx


def _udp_queues(out: Result, report: Report) -> None:
    found = False
    for ip, path in (("v4", "/proc/net/udp"), ("v6", "/proc/net/udp6")):
        lines = report.optional(path)
        if lines is None:
            continue
        tx, rx = _udp_summary(lines)
        out.set(UDP_QUEUES, tx, "tx", ip)
        out.set(UDP_QUEUES, rx, "rx", ip)
        found = True
    if not found:
        raise Unavailable("/proc/net/udp")


def _arp(out: Result, report: Report) -> None:
    entries: dict[str, int] = {}
    for line in report.file("/proc/net/arp"):
        columns = line.split()
        if len(columns) < 6:
            raise ValueError("unexpected ARP table format")
        if columns[0] != "IP":
            entries[columns[-1]] = entries.get(columns[-1], 0) + 1
    for device, count in entries.items():
        out.set(ARP, count, device)


def _conntrack(out: Result, report: Report) -> None:
    out.set(CONNTRACK_COUNTS["entries"], float(report.file(CONNTRACK + "nf_conntrack_count")[0]))
    limit = float(report.file(CONNTRACK + "nf_conntrack_max")[0])
    out.set(CONNTRACK_COUNTS["entries_limit"], limit)
    totals = dict.fromkeys(CONNTRACK_STAT_SPECS, 0)
    for line in report.file(CONNTRACK_STAT)[1:]:
        values = hex_fields(line)
        if len(values) != 17:
            raise ValueError("invalid conntrack stat entry")
        for name, column, _ in CONNTRACK_STATS:
            totals[name] += values[column]
    for name, total in totals.items():
        out.set(CONNTRACK_STAT_SPECS[name], total)


COLLECTORS = (
    Collector("arp", _arp, ("/proc/net/arp",)),
    Collector(
        "conntrack",
        _conntrack,
        (CONNTRACK + "nf_conntrack_count", CONNTRACK + "nf_conntrack_max", CONNTRACK_STAT),
    ),
    Collector(
        "netclass", _netclass, tuple(f"{NET_CLASS}/*/{name}" for name in NETCLASS_ATTRIBUTES)
    ),
    Collector("netstat", _netstat, ("/proc/net/netstat", "/proc/net/snmp", "/proc/net/snmp6")),
    Collector("sockstat", _sockstat, ("/proc/net/sockstat", "/proc/net/sockstat6")),
    Collector("softnet", _softnet, ("/proc/net/softnet_stat",)),
    Collector("udp_queues", _udp_queues, ("/proc/net/udp", "/proc/net/udp6")),
)
