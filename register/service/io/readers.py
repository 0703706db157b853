"""Reading import files into records: one record per CSV row or YAML entry, each with the file
name and line number that errors will point to.

Everything is read as text and judged later by the API's input schemas, so ``0301``, ``yes`` or
``2026-01-01`` mean the same in a CSV cell and in YAML (PyYAML would otherwise turn ``0301`` into
the octal number 193). Nothing is written to disk.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fellesdrift.kernel.problems import FieldError
from register.service.io.formats import (
    CIS,
    ENTITIES,
    EXTENSIONS,
    MONITORING,
    SECRET_COLUMNS,
    YAML_KEYS,
    Entity,
    Kind,
    entity_for_file,
    error,
)

_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass
class Record:
    """One entry of a file: raw cell values by column, before any checks."""

    entity: Entity
    file: str
    line: int
    values: dict[str, Any]


@dataclass
class FileResult:
    records: list[Record]
    errors: list[FieldError]
    #: True when the file could not be read at all (then its records are not checked further).
    unreadable: bool = False


def read_file(name: str, data: bytes, entity: Entity | None = None) -> FileResult:
    """Read one upload; ``entity`` says what a CSV holds when its file name does not."""
    lowered = name.lower()
    if not lowered.endswith(EXTENSIONS):
        return FileResult([], [error(name, None, "file", "extension", name)], True)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = f"0x{data[exc.start]:02x}"
        return FileResult([], [error(name, line, "file", "encoding", byte=byte)], True)
    if not text.strip():
        return FileResult([], [error(name, None, "file", "empty")], True)
    if lowered.endswith(".csv"):
        entity = entity_for_file(name) or entity
        if entity is None:
            names = ", ".join(f"{e.name}.csv" for e in ENTITIES)
            return FileResult([], [error(name, None, "file", "entity", names=names)], True)
        return read_csv(name, text, entity)
    return read_yaml(name, text)


# ---- CSV ----------------------------------------------------------------------------------------


def _delimiter(header_line: str) -> str:
    """Comma or semicolon (Excel with Norwegian settings writes semicolons)."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _check_header(name: str, entity: Entity, header: list[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    for column in header:
        if column in SECRET_COLUMNS:
            errors.append(error(name, 1, column, "password"))
        elif column not in entity.columns:
            errors.append(error(name, 1, column, "unknown_column", column, entity=entity.name))
        elif header.count(column) > 1 and column not in {e.field for e in errors}:
            errors.append(error(name, 1, column, "duplicate_column", column))
    errors += [error(name, 1, c, "missing_column") for c in entity.key if c not in header]
    return errors


def read_csv(name: str, text: str, entity: Entity) -> FileResult:
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]), strict=True
    )
    try:
        header = [h.strip().lower() for h in next(reader)]
        errors = _check_header(name, entity, header)
        if errors:
            return FileResult([], errors, True)
        return _csv_rows(name, entity, header, reader)
    except csv.Error as exc:
        return FileResult([], [error(name, reader.line_num, "file", "csv", problem=str(exc))], True)


def _csv_rows(name: str, entity: Entity, header: list[str], reader: Any) -> FileResult:
    records, errors = [], []
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue  # blank lines, and Excel's rows of bare separators
        if len(row) > len(header) and any(c.strip() for c in row[len(header) :]):
            count, columns = len(row), len(header)
            errors.append(
                error(name, line, "file", "too_many_values", count=count, columns=columns)
            )
            continue
        # A short row (trailing empty cells left out) is read as if they were there.
        values = dict(zip(header, row + [""] * (len(header) - len(row)), strict=False))
        records.append(Record(entity, name, line, values))
    return FileResult(records, errors)


# ---- YAML ---------------------------------------------------------------------------------------


class _Shape(Exception):
    """A YAML structure the importer does not accept: where, which key, and why."""

    def __init__(self, line: int, code: str, column: str, value: Any = None, **params: Any):
        super().__init__(code)
        self.line, self.code, self.column = line, code, column
        self.value, self.params = value, params


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


def _plain(node: Node, seen: set[int]) -> Any:
    """A node as text, lists and dicts; aliases are refused (no billion laughs)."""
    if id(node) in seen:
        raise _Shape(_line(node), "alias", "file")
    seen.add(id(node))
    if isinstance(node, ScalarNode):
        return None if _is_null(node) else str(node.value)
    if isinstance(node, SequenceNode):
        return [_plain(item, seen) for item in node.value]
    assert isinstance(node, MappingNode)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _plain(key_node, seen)
        if not isinstance(key, str):
            raise _Shape(_line(key_node), "not_a_value", "file")
        if key in out:
            raise _Shape(_line(key_node), "duplicate_key", key, key)
        out[key] = _plain(value_node, seen)
    return out


def read_yaml(name: str, text: str) -> FileResult:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return FileResult([], [error(name, line, "file", "yaml", problem=problem)], True)
    except RecursionError:
        return FileResult([], [error(name, None, "file", "yaml", problem="nested too deep")], True)
    names = ", ".join(YAML_KEYS)
    if not isinstance(root, MappingNode):
        line = _line(root) if root is not None else None
        return FileResult([], [error(name, line, "file", "yaml_top", names=names)], True)
    result = FileResult([], [])
    seen: set[int] = set()
    for key_node, value_node in root.value:
        key = str(key_node.value) if isinstance(key_node, ScalarNode) else ""
        entity = YAML_KEYS.get(key)
        if entity is None:
            result.errors.append(error(name, _line(key_node), key, "yaml_top", key, names=names))
            result.unreadable = True
            continue
        _yaml_entries(name, entity, value_node, result, seen)
    return result


def _yaml_entries(
    name: str, entity: Entity, node: Node, result: FileResult, seen: set[int]
) -> None:
    if _is_null(node):
        return  # "users:" with nothing under it
    if not isinstance(node, SequenceNode):
        result.errors.append(error(name, _line(node), entity.name, "not_a_list"))
        result.unreadable = True
        return
    for item in node.value:
        try:
            result.records += _yaml_entry(name, entity, item, seen)
        except _Shape as bad:
            result.errors.append(
                error(name, bad.line, bad.column, bad.code, bad.value, **bad.params)
            )


#: Columns that may hold a list (or, for used_by, a mapping) in YAML.
_LIST_LIKE = frozenset(c for e in ENTITIES for c, kind in e.columns.items() if kind is Kind.LIST)


def _yaml_entry(name: str, entity: Entity, node: Node, seen: set[int]) -> list[Record]:
    if not isinstance(node, MappingNode):
        raise _Shape(_line(node), "not_a_mapping", entity.name)
    values = _plain(node, seen)
    nested = _nested_targets(name, node, values) if entity is CIS else []
    _check_entry(_line(node), entity, values)
    return [Record(entity, name, _line(node), values), *nested]


def _check_entry(line: int, entity: Entity, values: dict[str, Any]) -> None:
    for column, value in values.items():
        if column in SECRET_COLUMNS:
            raise _Shape(line, "password", column)
        if column not in entity.columns:
            raise _Shape(line, "unknown_column", column, column, entity=entity.name)
        if isinstance(value, (dict, list)) and column not in _LIST_LIKE:
            raise _Shape(line, "not_a_value", column)


def _nested_targets(name: str, node: MappingNode, values: dict[str, Any]) -> list[Record]:
    """A system's ``monitoring:`` list, as records of monitoring targets of that system."""
    targets = values.pop("monitoring", None)
    value_node = next((v for k, v in node.value if k.value == "monitoring"), None)
    if value_node is None or targets is None:
        return []
    if not isinstance(value_node, SequenceNode):
        raise _Shape(_line(value_node), "not_a_list", "monitoring")
    records = []
    for item, target in zip(value_node.value, targets, strict=True):
        if not isinstance(target, dict):
            raise _Shape(_line(item), "not_a_mapping", "monitoring")
        if "ci" in target:
            raise _Shape(_line(item), "unknown_column", "ci", "ci", entity="monitoring")
        _check_entry(_line(item), MONITORING, target)
        records.append(Record(MONITORING, name, _line(item), {"ci": values.get("key"), **target}))
    return records
