"""What the node report's parsers share: the parsed report and the shape of a collector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.metrics import Result


class Unavailable(Exception):
    """A collector's input is not in the report (the host lacks the file, or a program failed)."""


@dataclass
class Section:
    lines: list[str] = field(default_factory=list)
    rc: int | None = None


@dataclass
class Report:
    """One report: the shell sections by name and the files ``head`` printed, by path."""

    sections: dict[str, Section]
    files: dict[str, list[str]]
    _by_name: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def file(self, path: str) -> list[str]:
        """The lines of ``path``; Unavailable if the host did not print it or it was empty."""
        lines = self.files.get(path)
        if not lines:
            raise Unavailable(path)
        return lines

    def optional(self, path: str) -> list[str] | None:
        return self.files.get(path) or None

    def per_device(self, directory: str, name: str) -> dict[str, str]:
        """``{device: first line}`` of ``<directory>/<device>/<name>`` (a glob the report
        expanded), leaving out the files that could not be read (printed empty)."""
        index = self._by_name.get(directory)
        if index is None:  # one pass over the files for all the names of a directory
            index = self._by_name[directory] = {}
            prefix = directory.rstrip("/") + "/"
            for path, lines in self.files.items():
                if path.startswith(prefix) and lines:
                    device, _, rest = path[len(prefix) :].partition("/")
                    index.setdefault(rest, {})[device] = lines[0]
        return index.get(name, {})

    def section(self, name: str, ok_codes: tuple[int, ...] = (0,)) -> list[str]:
        """The output of a shell section that exited with one of ``ok_codes``."""
        found = self.sections.get(name)
        if found is None or found.rc not in ok_codes:
            raise Unavailable(name)
        return found.lines


Parser = Callable[[Result, Report], None]


@dataclass(frozen=True)
class Collector:
    """One node_exporter collector: its name, the files it reads, or the shell ``command`` of
    its own ``section`` (the files are all read by the report's one ``files`` section), and
    the parser, which raises (Unavailable, ValueError, IndexError, KeyError) on bad input."""

    name: str
    parse: Parser
    files: tuple[str, ...] = ()
    section: str = "files"
    command: str = ""


def hex_fields(line: str) -> list[int]:
    return [int(value, 16) for value in line.split()]
