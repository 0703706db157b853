"""Phase one of an import: check every entry of every file, write nothing.

Each entry goes through the API's own input schema (the stored values fill in the columns a file
leaves out), then through the rules that need the whole import: natural keys given twice,
references to things that are neither in the register nor in the files, roles that do not fit
where a person belongs, and values an import may not change. Every problem is collected with its
file and line; the writer runs only when there are none.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fellesdrift.kernel.problems import FieldError, from_validation_errors
from register.schemas import CICreate, KommuneCreate, SiteIn, TargetIn, UsageIn, UserCreate
from register.service.io.formats import (
    ABSENT,
    CIS,
    ENTITIES,
    KOMMUNER,
    MONITORING,
    SITES,
    USERS,
    Entity,
    cell,
    error,
)
from register.service.io.readers import Record
from register.service.io.register import Register, stored_values
from register.service.people import role_problems

S = TypeVar("S", bound=BaseModel)
#: A reference that could not be resolved (the error is already recorded).
UNRESOLVED = object()
RESPONSIBLE_COLUMNS = ("systemeier", "systemadministratorer", "tekniske_systemadministratorer")


@dataclass
class Item:
    """A checked entry: its natural key, the validated input schema (ids of referenced rows are
    placeholders until the writer knows them) and the natural keys it refers to."""

    record: Record
    key: Any
    model: Any
    #: Fields of the schema the entry gives; the others keep their stored value on update.
    given: frozenset[str]
    refs: dict[str, Any] = field(default_factory=dict)
    status: str = "unchanged"


@dataclass
class Plan:
    items: dict[str, dict[Any, Item]]
    site_order: list[Item]
    #: Users named on a system in the files (they must be active while they are assigned).
    named_users: set[str]
    errors: list[FieldError]


class Planner:
    def __init__(self, register: Register) -> None:
        self.reg = register
        self.items: dict[str, dict[Any, Item]] = {e.name: {} for e in ENTITIES}
        #: Every entry, with or without errors: the rules between entries check them all.
        self.entries: dict[str, list[Item]] = defaultdict(list)
        #: Keys of entries with errors: references to them are not reported a second time.
        self.broken: dict[str, set[Any]] = defaultdict(set)
        self.file_slugs: dict[str, Item] = {}
        self.file_orgnrs: dict[str, Item] = {}
        self.site_order: list[Item] = []
        self.errors: list[FieldError] = []

    def plan(self, records: list[Record]) -> Plan:
        checks = {
            KOMMUNER.name: self._kommune, SITES.name: self._site, USERS.name: self._user,
            CIS.name: self._ci, MONITORING.name: self._target,
        }  # fmt: skip
        for entity in ENTITIES:
            for record in records:
                if record.entity is entity:
                    values = self._cells(record)
                    if values is not None:
                        checks[entity.name](record, values)
            self._after(entity)
        named = {u for item in self.items[CIS.name].values() for u in _named(item)}
        return Plan(self.items, self.site_order, named, self.errors)

    # ---- shared steps ---------------------------------------------------------------------------

    def _fail(self, record: Record, column: str, code: str, value: Any = None, **kw: Any) -> None:
        self.errors.append(error(record.file, record.line, column, code, value, **kw))

    def _cells(self, record: Record) -> dict[str, Any] | None:
        entity = record.entity
        values = {}
        for column, raw in record.values.items():
            value = cell(entity.columns[column], raw)
            if value is not ABSENT:
                values[column] = value
        missing = [c for c in entity.key if c not in values]
        for column in missing:
            self._fail(record, column, "missing")
        return None if missing else values

    def _validate(
        self, record: Record, schema: type[S], values: dict[str, Any], stored: Any
    ) -> tuple[S | None, frozenset[str]]:
        """The entry through ``schema``, over the stored values; ids of references are 0 here."""
        entity = record.entity
        given: dict[str, Any] = {}
        for column, value in values.items():
            name = entity.field_of(column)
            if name in schema.model_fields:
                given[name] = (0 if value is not None else None) if column in entity.refs else value
        try:
            model = schema.model_validate(stored_values(stored, schema) | given)
        except ValidationError as exc:
            for err in from_validation_errors(exc.errors()):
                err.field = entity.column_of(err.field.split(".")[0])
                err.file, err.line = record.file, record.line
                self.errors.append(err)
            return None, frozenset(given)
        return model, frozenset(given)

    def _add(self, entity: Entity, key: Any, item: Item, mark: int) -> None:
        """Keep a checked entry, unless it had errors (then remember its key as broken)."""
        self.entries[entity.name].append(item)
        first = self.items[entity.name].get(key)
        if first is not None:
            where = first.record
            self._fail(item.record, entity.key[-1], "duplicate", _shown(key),
                       file=where.file, line=where.line)  # fmt: skip
        elif len(self.errors) == mark:
            self.items[entity.name][key] = item
            return
        self.broken[entity.name].add(key)

    def _kommune_ref(self, record: Record, column: str, raw: Any) -> Any:
        """The kommunenummer of a kommune named by number or slug, in the files or the register."""
        text = str(raw).strip().lower()
        if re.fullmatch(r"\d{4}", text):
            if text in self.items[KOMMUNER.name] or text in self.reg.kommuner:
                return text
        elif text in self.file_slugs:
            return self.file_slugs[text].key
        elif text in self.reg.slugs:
            return self.reg.slugs[text]
        if text not in self.broken[KOMMUNER.name]:
            self._fail(record, column, "dangling", str(raw), what="kommune")
        return UNRESOLVED

    def _ref(
        self, record: Record, column: str, entity: Entity, stored: Any, key: Any, shown: Any
    ) -> Any:
        """``key`` if it names an entry of the files or a stored row; ``shown`` is how the
        file wrote it."""
        if key in self.items[entity.name] or key in stored:
            return key
        if key not in self.broken[entity.name]:
            what = {USERS.name: "user", CIS.name: "system", SITES.name: "site"}[entity.name]
            self._fail(record, column, "dangling", str(shown), what=what)
        return UNRESOLVED

    # ---- kommuner -------------------------------------------------------------------------------

    def _kommune(self, record: Record, values: dict[str, Any]) -> None:
        mark = len(self.errors)
        stored = self.reg.kommuner.get(str(values["kommunenummer"]).strip())
        model, given = self._validate(record, KommuneCreate, values, stored)
        if model is None:
            self.broken[KOMMUNER.name].add(str(values["kommunenummer"]).strip())
            self.broken[KOMMUNER.name].add(str(values.get("slug", "")).strip().lower())
            return
        item = Item(record, model.kommunenummer, model, given)
        if "successor" in values:
            item.refs["successor"] = values["successor"]
        if stored is not None:
            self._kommune_unchangeable(record, model, given, stored)
        else:
            self._kommune_unique(record, model)
        self._add(KOMMUNER, model.kommunenummer, item, mark)
        if model.kommunenummer in self.items[KOMMUNER.name]:
            self.file_slugs.setdefault(model.slug, item)
            self.file_orgnrs.setdefault(model.orgnr, item)

    def _kommune_unchangeable(
        self, record: Record, model: KommuneCreate, given: frozenset[str], stored: Any
    ) -> None:
        for name in ("slug", "orgnr", "valid_from"):
            if name in given and getattr(model, name) != getattr(stored, name):
                current = str(getattr(stored, name))
                self._fail(record, name, "immutable", str(getattr(model, name)), current=current)
        if "valid_to" in given and model.valid_to is None and stored.valid_to is not None:
            self._fail(record, "valid_to", "reopen")

    def _kommune_unique(self, record: Record, model: KommuneCreate) -> None:
        for name, in_file, in_register in (
            ("slug", self.file_slugs, self.reg.slugs),
            ("orgnr", self.file_orgnrs, self.reg.orgnrs),
        ):
            value = getattr(model, name)
            if value in in_file and in_file[value].key != model.kommunenummer:
                where = in_file[value].record
                self._fail(record, name, "duplicate", value, file=where.file, line=where.line)
            elif value in in_register:
                self._fail(record, name, "taken", value, other=in_register[value])

    # ---- sites ----------------------------------------------------------------------------------

    def _site(self, record: Record, values: dict[str, Any]) -> None:
        mark = len(self.errors)
        number = self._kommune_ref(record, "kommune", values["kommune"])
        code = str(values["code"]).strip().lower()
        stored = self.reg.sites.get((number, code))
        model, given = self._validate(record, SiteIn, values, stored)
        if model is None or number is UNRESOLVED:
            self.broken[SITES.name].add((number, code))
            return
        item = Item(record, (number, model.code), model, given)
        if "parent" in values:
            item.refs["parent"] = values["parent"]
        self._add(SITES, item.key, item, mark)

    def _site_parents(self) -> None:
        sites = self.items[SITES.name]
        for (number, code), item in sites.items():
            raw = item.refs.get("parent")
            if raw is None:
                continue
            key = (number, str(raw).strip().lower())
            if key[1] == code:
                self._fail(item.record, "parent", "self", raw)
                item.refs["parent"] = UNRESOLVED
            else:
                item.refs["parent"] = self._ref(
                    item.record, "parent", SITES, self.reg.sites, key, raw
                )
        self._order_sites(sites)

    def _order_sites(self, sites: dict[Any, Item]) -> None:
        """Parents before their sub-units; a cycle of parents is an error."""
        done: set[Any] = set()
        for item in sites.values():
            chain: list[Item] = []
            current: Item | None = item
            while current is not None and current.key not in done:
                if any(link is current for link in chain):
                    self._fail(current.record, "parent", "cycle", current.refs["parent"][1])
                    break
                chain.append(current)
                current = sites.get(current.refs.get("parent"))
            for link in reversed(chain):
                if link.key not in done:
                    done.add(link.key)
                    self.site_order.append(link)

    # ---- users ----------------------------------------------------------------------------------

    def _user(self, record: Record, values: dict[str, Any]) -> None:
        mark = len(self.errors)
        username = str(values["username"]).strip().lower()
        stored = self.reg.users.get(username)
        current = self.reg.kommune_numbers.get(stored.kommune_id or 0) if stored else None
        number = current
        if "kommune" in values:
            raw = values["kommune"]
            number = None if raw is None else self._kommune_ref(record, "kommune", raw)
            if stored is not None and number not in (current, UNRESOLVED):
                self._fail(record, "kommune", "moved", raw, current=current or "-")
        base = dict(values)
        if stored is not None and "roles" not in values:
            base["roles"] = self.reg.roles.get(stored.id or 0, [])
        model, given = self._validate(record, UserCreate, base, stored)
        if model is not None:
            for problem in role_problems(model.roles, model.kommune_id):
                self._fail_with(record, problem)
        # Stored roles filled in above are not "given": only the file's own roles column is.
        item = Item(record, username, model, (given - {"roles"}) | _given(values, "roles"))
        if values.get("site") is not None:
            item.refs["site"] = self._user_site(record, number, values["site"])
        elif "site" in values:
            item.refs["site"] = None
        item.refs["kommune"] = number
        self._add(USERS, username, item, mark)

    def _user_site(self, record: Record, number: Any, raw: Any) -> Any:
        if number is None:
            self._fail(record, "site", "site_without_kommune", raw)
            return UNRESOLVED
        if number is UNRESOLVED:
            return UNRESOLVED
        key = (number, str(raw).strip().lower())
        return self._ref(record, "site", SITES, self.reg.sites, key, raw)

    def _fail_with(self, record: Record, problem: FieldError) -> None:
        problem.file, problem.line = record.file, record.line
        self.errors.append(problem)

    # ---- systems --------------------------------------------------------------------------------

    def _ci(self, record: Record, values: dict[str, Any]) -> None:
        mark = len(self.errors)
        key = str(values["key"]).strip().lower()
        stored = self.reg.cis.get(key)
        model, given = self._validate(record, CICreate, values, stored)
        stored_kind = stored.kind if stored is not None else None
        if model is not None and "kind" in given and stored_kind not in (None, model.kind):
            self._fail(record, "kind", "immutable", model.kind.value, current=stored_kind)
        item = Item(record, key, model, given)
        if values.get("owner_kommune") is not None:
            item.refs["owner_kommune"] = self._kommune_ref(
                record, "owner_kommune", values["owner_kommune"]
            )
        elif "owner_kommune" in values:
            item.refs["owner_kommune"] = None
        for column in RESPONSIBLE_COLUMNS:
            names = _as_list(values.get(column))
            item.refs[column] = [
                self._ref(record, column, USERS, self.reg.users, str(n).strip().lower(), n)
                for n in names
            ]
        item.refs["used_by"] = self._usage(record, _as_list(values.get("used_by")))
        for column in ("runs_on", "depends_on"):
            item.refs[column] = [str(k).strip().lower() for k in _as_list(values.get(column))]
        self._add(CIS, key, item, mark)

    def _usage(self, record: Record, entries: list[Any]) -> dict[str, int]:
        """``kristiansand:1200`` entries as kommunenummer -> number of users."""
        usage: dict[str, int] = {}
        for entry in entries:
            ref, sep, count = str(entry).rpartition(":")
            if not sep or not ref.strip():
                self._fail(record, "used_by", "pair", str(entry))
                continue
            number = self._kommune_ref(record, "used_by", ref)
            try:
                users = UsageIn.model_validate({"kommune_id": 0, "users_count": count.strip()})
            except ValidationError:
                self._fail(record, "used_by", "count", str(entry))
                continue
            if number is not UNRESOLVED:
                usage[number] = users.users_count
        return usage

    def _ci_relations(self) -> None:
        for item in self.entries[CIS.name]:
            for column in ("runs_on", "depends_on"):
                resolved = []
                for target in item.refs[column]:
                    if target == item.key:
                        self._fail(item.record, column, "self", target)
                        continue
                    ref = self._ref(item.record, column, CIS, self.reg.cis, target, target)
                    resolved.append(ref)
                item.refs[column] = resolved

    # ---- monitoring targets ---------------------------------------------------------------------

    def _target(self, record: Record, values: dict[str, Any]) -> None:
        mark = len(self.errors)
        ci_key = str(values["ci"]).strip().lower()
        ci = self._ref(record, "ci", CIS, self.reg.cis, ci_key, values["ci"])
        probe = str(values["probe"]).strip().lower()
        stored = self.reg.targets.get((ci, probe, str(values["target"]).strip()))
        model, given = self._validate(record, TargetIn, values | {"probe": probe}, stored)
        if model is None or ci is UNRESOLVED:
            return
        key = (ci, model.probe.value, model.target)
        self._add(MONITORING, key, Item(record, key, model, given, {"ci": ci}), mark)

    def _after(self, entity: Entity) -> None:
        """Rules between entries of one kind, once all of them are read."""
        if entity is KOMMUNER:
            self._successors()
        elif entity is SITES:
            self._site_parents()
        elif entity is CIS:
            self._ci_relations()

    def _successors(self) -> None:
        for item in self.entries[KOMMUNER.name]:
            if "successor" not in item.refs or item.refs["successor"] is None:
                continue
            raw = item.refs["successor"]
            successor = self._kommune_ref(item.record, "successor", raw)
            if successor == item.key:
                self._fail(item.record, "successor", "self", raw)
            elif item.model.valid_to is None:
                self._fail(item.record, "successor", "successor_needs_end", raw)
            item.refs["successor"] = successor


def _as_list(value: Any) -> list[Any]:
    """A list column's entries; a single name (the systemeier) as a list of one."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _given(values: dict[str, Any], name: str) -> frozenset[str]:
    return frozenset({name}) if name in values else frozenset()


def _named(item: Item) -> set[str]:
    return {u for column in RESPONSIBLE_COLUMNS for u in item.refs.get(column, [])}


def _shown(key: Any) -> str:
    return ":".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
