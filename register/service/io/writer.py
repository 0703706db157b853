"""Phase two of an import: write the checked entries through the service functions, so the
access layer checks every write and the audit trail records every change.

Each entry is compared with the register first; only a real difference calls a service, so an
import of unchanged data writes nothing and records no audit event. Each service call runs in
its own savepoint: a refusal (a cycle of relations, a conflict) is collected with the entry's
file and line and the remaining entries are still tried. The caller rolls everything back when
anything was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from fellesdrift.kernel.problems import FieldError, Problem
from register.choices import RelationKind, Responsibility
from register.models import ConfigItem
from register.schemas import (
    CIUpdate,
    KommuneEnd,
    KommuneUpdate,
    RelationIn,
    ResponsibilityIn,
    SiteUpdate,
    TargetIn,
    UsageIn,
    UserUpdate,
)
from register.service import cmdb, kommuner, people
from register.service.io.formats import CIS, KOMMUNER, MONITORING, USERS
from register.service.io.plan import RESPONSIBLE_COLUMNS, Item, Plan
from register.service.io.register import Register

#: A write to make: runs a service call and says whether it "created" or "updated".
Write = Callable[[], str]
_KINDS = dict(zip(RESPONSIBLE_COLUMNS, Responsibility, strict=True))


def changes(
    stored: Any, model: BaseModel, given: frozenset[str], update: type[BaseModel]
) -> dict[str, Any]:
    """The given fields whose value differs from the stored row, limited to what ``update``
    (the API's update schema) may change."""
    values = model.model_dump()
    return {
        name: values[name]
        for name in sorted(given)
        if name in update.model_fields
        and hasattr(stored, name)
        and getattr(stored, name) != values[name]
    }


class Writer:
    def __init__(self, session: Session, plan: Plan, register: Register) -> None:
        self.s = session
        self.plan = plan
        self.reg = register
        self.errors: list[FieldError] = []
        self.deactivate_last: list[Item] = []

    def run(self) -> list[FieldError]:
        """Write everything in dependency order; returns the refusals (empty when all went in)."""
        items = self.plan.items
        steps: list[tuple[Any, Callable[[Item], Write | None]]] = [
            (items[KOMMUNER.name].values(), self._kommune),
            (items[KOMMUNER.name].values(), self._kommune_end),
            (self.plan.site_order, self._site),
            (items[USERS.name].values(), self._user),
            (items[CIS.name].values(), self._ci),
        ]
        for entries, make in steps:
            for item in entries:
                self._step(item, partial(make, item))
        for item in items[CIS.name].values():
            self._ci_links(item)
        for item in items[MONITORING.name].values():
            self._step(item, partial(self._target, item))
        for item in self.deactivate_last:
            self._step(item, partial(self._deactivate, item))
        return self.errors

    # ---- running one write ----------------------------------------------------------------------

    def _step(
        self, item: Item, make: Callable[[], Write | None], column: str = "", value: Any = None
    ) -> None:
        """Decide what to write for an entry and write it in a savepoint."""
        try:
            write = make()
        except KeyError:
            if self.errors:
                return  # it refers to an entry the service refused; that refusal is reported
            raise
        if write is None:
            return
        try:
            with self.s.begin_nested():
                status = write()
        except Problem as problem:
            self._refused(item, problem.errors or [FieldError("", problem.detail)], column, value)
        except IntegrityError:
            # Someone else wrote the same natural key while this import ran.
            message = "was changed by someone else during the import; try again"
            refusal = FieldError("", message, code="io.err.concurrent")
            self._refused(item, [refusal], column, value)
        else:
            if item.status != "created":
                item.status = status

    def _refused(self, item: Item, errors: list[FieldError], column: str, value: Any) -> None:
        """A service's refusal, told in the file's terms: its column and the value written
        there (not the database id the service saw)."""
        record = item.record
        for err in errors:
            name = column or record.entity.column_of(err.field) or record.entity.key[-1]
            shown = value if column else record.values.get(name, err.value)
            self.errors.append(
                FieldError(name, err.message, shown, record.line, record.file, err.code, err.params)
            )

    # ---- kommuner and sites ---------------------------------------------------------------------

    def _kommune(self, item: Item) -> Write | None:
        stored = self.reg.kommuner.get(item.key)
        if stored is None:

            def create() -> str:
                self.reg.add_kommune(kommuner.create_kommune(self.s, item.model))
                return "created"

            return create
        diff = changes(stored, item.model, item.given, KommuneUpdate)
        if not diff:
            return None
        return _updated(kommuner.update_kommune, self.s, stored.id, KommuneUpdate(**diff))

    def _kommune_end(self, item: Item) -> Write | None:
        """An ended kommune, and its successor in a merger (through ``end_kommune``)."""
        stored = self.reg.kommuner[item.key]
        valid_to = item.model.valid_to if "valid_to" in item.given else stored.valid_to
        successor = stored.successor_id
        if "successor" in item.refs:
            successor = self.reg.kommune_id(item.refs["successor"])
        if valid_to is None or (valid_to, successor) == (stored.valid_to, stored.successor_id):
            return None
        end = KommuneEnd(valid_to=valid_to, successor_id=successor)
        return _updated(kommuner.end_kommune, self.s, stored.id, end)

    def _site(self, item: Item) -> Write | None:
        ids = {"kommune_id": self.reg.kommune_id(item.key[0])}
        if "parent" in item.refs:
            ids["parent_id"] = self.reg.site_id(item.refs["parent"])
        model = item.model.model_copy(update=ids)
        stored = self.reg.sites.get(item.key)
        if stored is None:

            def create() -> str:
                self.reg.add_site(kommuner.create_site(self.s, model))
                return "created"

            return create
        diff = changes(stored, model, item.given, SiteUpdate)
        return (
            _updated(kommuner.update_site, self.s, stored.id, SiteUpdate(**diff)) if diff else None
        )

    # ---- users ----------------------------------------------------------------------------------

    def _user(self, item: Item) -> Write | None:
        ids = {"kommune_id": self.reg.kommune_id(item.refs["kommune"])}
        if "site" in item.refs:
            ids["site_id"] = self.reg.site_id(item.refs["site"])
        model = item.model.model_copy(update=ids)
        given = item.given
        if model.active is False and "active" in given and item.key in self.plan.named_users:
            # Only active people can be named on a system: deactivate after the naming.
            model = model.model_copy(update={"active": True})
            given = given - {"active"}
            self.deactivate_last.append(item)
        stored = self.reg.users.get(item.key)
        if stored is None:
            return partial(self._create_user, model)
        diff = changes(stored, model, given, UserUpdate)
        wanted = sorted({r.value for r in model.roles})
        if "roles" in given and wanted != sorted(self.reg.roles.get(stored.id or 0, [])):
            diff["roles"] = wanted
        return _updated(people.update_user, self.s, stored.id, UserUpdate(**diff)) if diff else None

    def _create_user(self, model: Any) -> str:
        # Imported people get no password: an admin sets one, or they sign in through SSO.
        user = people.create_user(self.s, model.model_copy(update={"password": None}))
        self.reg.users[user.username] = user
        return "created"

    def _deactivate(self, item: Item) -> Write | None:
        stored = self.reg.users[item.key]
        if not stored.active:
            return None
        return _updated(people.update_user, self.s, stored.id, UserUpdate(active=False))

    # ---- systems --------------------------------------------------------------------------------

    def _ci(self, item: Item) -> Write | None:
        ids = {}
        if "owner_kommune" in item.refs:
            ids["owner_kommune_id"] = self.reg.kommune_id(item.refs["owner_kommune"])
        model = item.model.model_copy(update=ids)
        stored = self.reg.cis.get(item.key)
        if stored is None:

            def create() -> str:
                self.reg.add_ci(cmdb.create_ci(self.s, model))
                return "created"

            return create
        diff = changes(stored, model, item.given, CIUpdate)
        return _updated(cmdb.update_ci, self.s, stored.id, CIUpdate(**diff)) if diff else None

    def _ci_links(self, item: Item) -> None:
        """Who answers for the system, what it runs on and depends on, who uses it. Links in
        the file are added; links only in the register stay (an import never deletes), except
        the one systemeier, who is replaced."""
        ci = self.reg.cis.get(item.key)
        if ci is None:
            return  # the system itself was refused; that is reported
        for column, kind in _KINDS.items():
            for username in item.refs[column]:
                make = partial(self._responsibility, ci, kind, username)
                self._step(item, make, column, username)
        for column in ("runs_on", "depends_on"):
            for target in item.refs[column]:
                make = partial(self._relation, ci, RelationKind(column), target)
                self._step(item, make, column, target)
        for number, count in item.refs["used_by"].items():
            value = f"{number}:{count}"
            self._step(item, partial(self._usage, ci, number, count), "used_by", value)

    def _responsibility(self, ci: ConfigItem, kind: Responsibility, username: str) -> Write | None:
        user_id = self.reg.users[username].id
        current = self.reg.responsible[(ci.id, kind.value)]  # type: ignore[index]
        if any(holder == user_id for _, holder in current):
            return None

        def assign() -> str:
            if kind is Responsibility.SYSTEMEIER:
                for row_id, _ in current:
                    cmdb.remove_responsibility(self.s, row_id)
            data = ResponsibilityIn(user_id=user_id, kind=kind)  # type: ignore[arg-type]
            row = cmdb.add_responsibility(self.s, ci.id, data)  # type: ignore[arg-type]
            if kind is Responsibility.SYSTEMEIER:
                current.clear()
            current.append((row.id, user_id))  # type: ignore[arg-type]
            return "updated"

        return assign

    def _relation(self, ci: ConfigItem, kind: RelationKind, target_key: str) -> Write | None:
        target_id = self.reg.cis[target_key].id
        if (ci.id, target_id, kind.value) in self.reg.relations:
            return None

        def relate() -> str:
            cmdb.add_relation(self.s, ci.id, RelationIn(target_id=target_id, kind=kind))  # type: ignore[arg-type]
            self.reg.relations.add((ci.id, target_id, kind.value))  # type: ignore[arg-type]
            return "updated"

        return relate

    def _usage(self, ci: ConfigItem, number: str, count: int) -> Write | None:
        kommune_id = self.reg.kommune_id(number)
        if self.reg.usage.get((ci.id, kommune_id)) == count:  # type: ignore[arg-type]
            return None
        data = UsageIn(kommune_id=kommune_id, users_count=count)  # type: ignore[arg-type]
        return _updated(cmdb.set_usage, self.s, ci.id, data)

    def _target(self, item: Item) -> Write | None:
        stored = self.reg.targets.get(item.key)
        if stored is None:
            ci_id = self.reg.cis[item.refs["ci"]].id

            def create() -> str:
                self.reg.add_target(cmdb.add_target(self.s, ci_id, item.model))  # type: ignore[arg-type]
                return "created"

            return create
        if not changes(stored, item.model, item.given, TargetIn):
            return None
        return _updated(cmdb.update_target, self.s, stored.id, item.model)


def _updated(service: Callable[..., Any], *args: Any) -> Write:
    def write() -> str:
        service(*args)
        return "updated"

    return write
