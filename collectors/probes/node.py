"""The fixed read-only report an SSH target runs, and its parse into node_exporter metrics.

The report is one POSIX shell command line of reads, so a poll costs the host one exec: a single
``head`` prints every /proc and /sys file the collectors need, each under a ``==> path <==``
header (a file the host lacks, such as /proc/pressure on an old kernel, is simply absent, and
an unreadable one, such as the speed of a link that is down, is empty), and a few programs do
what no file offers: ``date`` (the clock and its zone), ``uname -m``, ``df`` (statfs of every
mount, under ``timeout 10`` for stale NFS), ``perl`` for adjtimex(2) (perl-base is essential
on Debian; without perl only the timex collector fails) and ``systemctl show`` for the units in
the include list. Each shell section starts with ``@@fellesdrift <name>`` and ends with
``@@rc <exit status>``.

The parsers (``node_system``, ``node_io``, ``node_net``) turn the report into node_exporter's
metric names, labels and units, one collector at a time: a collector whose input is missing or
malformed fails alone, as ``node_scrape_collector_success{collector=...} 0``, and every
collector reports ``node_scrape_collector_duration_seconds``: the wall time of the shell
section that produced it, as the collector saw its output arrive (so the file-reading
collectors share the time of the one ``head``). The same text can be installed on the host as
the account's forced command (see collectors/README.md).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from collectors.metrics import Result, spec
from collectors.probes import node_io, node_net, node_system
from collectors.probes.node_common import Collector, Report, Section, Unavailable

MARK, RC, END = "@@fellesdrift ", "@@rc ", "@@fellesdrift end"
HEADER = re.compile(r"^==> (.*) <==$")
MARKERS = re.compile(rb"^@@(?:fellesdrift (\S+)|rc \d+)$", re.M)
UNIT_NAME = re.compile(
    r"^[A-Za-z0-9:_.@\\-]+\.(service|socket|target|mount|timer|path|slice|scope|swap|device|automount)$"
)
FILES_SECTION = "files"

# Every collector, in the order node_exporter names them on a scrape.
COLLECTORS: tuple[Collector, ...] = (
    *node_system.COLLECTORS,
    *node_io.COLLECTORS,
    *node_net.COLLECTORS,
)
FILES = tuple(dict.fromkeys(path for c in COLLECTORS for path in c.files))

COLLECTOR_SUCCESS = spec(
    "node_scrape_collector_success", "node_exporter: Whether a collector succeeded.", "collector"
)
COLLECTOR_DURATION = spec(
    "node_scrape_collector_duration_seconds",
    "node_exporter: Duration of a collector scrape.",
    "collector",
)


def check_units(units: Iterable[str]) -> tuple[str, ...]:
    units = tuple(units)
    for unit in units:
        if not UNIT_NAME.match(unit):
            raise ValueError(f"not a systemd unit name: {unit!r}")
    return units


def report_command(units: Iterable[str] = ()) -> str:
    """The one command line the ssh probe runs (or the host forces) for a poll."""
    # head, unlike tail, carries on after a file it cannot read; its complaints are dropped so
    # they cannot interleave with the contents.
    files = " ".join(FILES)
    sections = [(FILES_SECTION, f"head -n 100000000 {files} 2>/dev/null; true")]
    sections += [(c.section, c.command) for c in COLLECTORS if c.command]
    sections = list(dict.fromkeys(sections))
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


def split_files(lines: list[str]) -> dict[str, list[str]]:
    """The contents of ``head``'s files by path. head separates files by an empty line, which
    is dropped; no file the report reads ends in an empty line of its own."""
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        found = HEADER.match(line)
        if found:
            if current and not current[-1]:
                current.pop()
            current = files.setdefault(found.group(1), [])
        elif current is not None:
            current.append(line)
    if current and not current[-1]:
        current.pop()
    return files


@dataclass
class Arrivals:
    """When the report's output arrived: (bytes received so far, monotonic time) per chunk,
    after ``started`` (when the command was sent)."""

    started: float
    chunks: list[tuple[int, float]] = field(default_factory=list)

    def durations(self, data: bytes) -> dict[str, float]:
        """Per shell section: from the end of the section before it to its own end."""
        result: dict[str, float] = {}
        previous, name = self.started, None
        for found in MARKERS.finditer(data):
            if found.group(1) is not None:
                name = found.group(1).decode(errors="replace")
            elif name is not None:
                end = self._time_at(found.end())
                result[name], previous, name = max(0.0, end - previous), end, None
        return result

    def _time_at(self, offset: int) -> float:
        for size, when in self.chunks:
            if size >= offset:
                return when
        return self.chunks[-1][1] if self.chunks else self.started


def parse_report(text: str, out: Result, durations: Mapping[str, float] | None = None) -> bool:
    """Fill ``out`` with node metrics from a report; False if the report is incomplete."""
    sections, complete = split_sections(text)
    files_section = sections.get(FILES_SECTION)
    report = Report(sections, split_files(files_section.lines) if files_section else {})
    durations = durations or {}
    for collector in COLLECTORS:
        if collector.section not in sections:
            continue  # not asked for (systemd without units) or the report was cut short
        part = Result()
        try:
            collector.parse(part, report)
            ok = True
        except (Unavailable, ValueError, IndexError, KeyError):
            ok = False
        if ok:
            out.samples.extend(part.samples)
        out.set(COLLECTOR_SUCCESS, 1 if ok else 0, collector.name)
        if collector.section in durations:
            out.set(COLLECTOR_DURATION, durations[collector.section], collector.name)
    return complete
