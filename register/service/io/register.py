"""The register as the importer sees it: every row by its natural key."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from register.models import (
    CIRelation,
    CIResponsibility,
    CIUsage,
    ConfigItem,
    Kommune,
    MonitorTarget,
    RoleGrant,
    Site,
    User,
)


@dataclass
class Register:
    """Rows by natural key, read through the session's access rules. The writer adds what it
    creates, so later entries of the same import find them."""

    kommuner: dict[str, Kommune] = field(default_factory=dict)  #: by kommunenummer
    slugs: dict[str, str] = field(default_factory=dict)  #: slug -> kommunenummer
    orgnrs: dict[str, str] = field(default_factory=dict)  #: orgnr -> kommunenummer
    kommune_numbers: dict[int, str] = field(default_factory=dict)  #: id -> kommunenummer
    sites: dict[tuple[str, str], Site] = field(default_factory=dict)  #: (kommunenummer, code)
    users: dict[str, User] = field(default_factory=dict)  #: by username
    roles: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    cis: dict[str, ConfigItem] = field(default_factory=dict)  #: by key
    ci_keys: dict[int, str] = field(default_factory=dict)  #: id -> key
    #: (ci key, probe, target)
    targets: dict[tuple[str, str, str], MonitorTarget] = field(default_factory=dict)
    #: (ci id, kind) -> [(responsibility id, user id)]
    responsible: dict[tuple[int, str], list[tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    relations: set[tuple[int, int, str]] = field(default_factory=set)  #: (source, target, kind)
    usage: dict[tuple[int, int], int] = field(default_factory=dict)  #: (ci, kommune) -> users

    @classmethod
    def load(cls, session: Session) -> Register:
        reg = cls()
        for kommune in session.exec(select(Kommune)):
            reg.add_kommune(kommune)
        for site in session.exec(select(Site)):
            reg.add_site(site)
        for user in session.exec(select(User)):
            reg.users[user.username] = user
        for grant in session.exec(select(RoleGrant).order_by(RoleGrant.role)):
            reg.roles[grant.user_id].append(grant.role)
        for ci in session.exec(select(ConfigItem)):
            reg.add_ci(ci)
        for target in session.exec(select(MonitorTarget)):
            reg.add_target(target)
        reg._load_links(session)
        return reg

    def _load_links(self, session: Session) -> None:
        for r in session.exec(select(CIResponsibility)):
            self.responsible[(r.ci_id, r.kind)].append((r.id, r.user_id))  # type: ignore[arg-type]
        self.relations = {
            (r.source_id, r.target_id, r.kind) for r in session.exec(select(CIRelation))
        }
        self.usage = {(u.ci_id, u.kommune_id): u.users_count for u in session.exec(select(CIUsage))}

    def add_kommune(self, kommune: Kommune) -> None:
        number = kommune.kommunenummer
        self.kommuner[number] = kommune
        self.slugs[kommune.slug] = number
        self.orgnrs[kommune.orgnr] = number
        self.kommune_numbers[kommune.id] = number  # type: ignore[index]

    def add_site(self, site: Site) -> None:
        self.sites[(self.kommune_numbers[site.kommune_id], site.code)] = site

    def add_ci(self, ci: ConfigItem) -> None:
        self.cis[ci.key] = ci
        self.ci_keys[ci.id] = ci.key  # type: ignore[index]

    def add_target(self, target: MonitorTarget) -> None:
        self.targets[(self.ci_keys[target.ci_id], target.probe, target.target)] = target

    def kommune_id(self, number: str | None) -> int | None:
        return None if number is None else self.kommuner[number].id

    def site_id(self, key: tuple[str, str] | None) -> int | None:
        return None if key is None else self.sites[key].id


def stored_values(row: Any, schema: Any) -> dict[str, Any]:
    """The stored values of the schema's fields, for the fields an entry leaves out."""
    if row is None:
        return {}
    return {name: getattr(row, name) for name in schema.model_fields if hasattr(row, name)}
