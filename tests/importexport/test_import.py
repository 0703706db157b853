"""Importing a realistic register from YAML and from CSV: what is stored, re-imports that change
nothing, updates that change only what differs, dry runs, and who may import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from fellesdrift.kernel.problems import Problem
from register.access import Principal
from register.choices import Role
from register.models import (
    AuditEvent,
    CIRelation,
    CIResponsibility,
    CIUsage,
    ConfigItem,
    Kommune,
    MonitorTarget,
    Site,
    User,
)
from register.service.io import import_files
from tests.importexport.conftest import (
    CSV_SET,
    SYSTEM,
    YAML_SET,
    export,
    principal,
    row_counts,
    run_import,
    session_as,
)
from tests.support.factories import Factory

EXPECTED = {
    "kommuner": 5, "sites": 4, "users": 5, "cis": 5, "monitoring": 3,
}  # fmt: skip


@pytest.mark.parametrize("files", [YAML_SET, CSV_SET], ids=["yaml", "csv"])
def test_a_realistic_register_is_imported(
    make: Factory, admin: Principal, files: list[Path]
) -> None:
    report = run_import(make.engine, admin, files)

    assert {name: c.created for name, c in report.entities.items()} == EXPECTED
    assert report.totals.updated == report.totals.unchanged == 0 and not report.dry_run
    with session_as(make.engine, SYSTEM) as s:
        kommuner = {k.slug: k for k in s.exec(select(Kommune))}
        # "0928" unquoted in YAML stays a kommunenummer, not the octal number 608.
        assert kommuner["birkenes"].kommunenummer == "0928"
        assert kommuner["birkenes"].orgnr == "964965137"  # "NO 964 965 137 MVA", normalised
        krs = kommuner["kristiansand"]
        assert kommuner["sogne"].successor_id == krs.id
        assert str(kommuner["songdalen"].valid_to) == "2019-12-31"
        helse = s.exec(select(Site).where(Site.code == "helse")).one()
        radhus = s.exec(select(Site).where(Site.code == "radhus", Site.kommune_id == krs.id)).one()
        assert helse.parent_id == radhus.id and helse.kind == "org_unit"

        users = {u.username: u for u in s.exec(select(User))}
        assert users["nina.krs"].site_id == helse.id and users["lars.ven"].language == "en"
        imported = [u for name, u in users.items() if name != "ada.admin"]
        assert all(u.password_hash is None for u in imported), "passwords are never imported"

        visma = s.exec(select(ConfigItem).where(ConfigItem.key == "visma")).one()
        assert visma.owner_kommune_id == krs.id and visma.finance_payroll
        assert visma.description.endswith("den 12. hver måned.")
        named = s.exec(select(CIResponsibility).where(CIResponsibility.ci_id == visma.id)).all()
        by_kind = sorted((r.kind, users_by_id(users)[r.user_id]) for r in named)
        assert by_kind == [
            ("systemadministrator", "lars.ven"), ("systemadministrator", "nina.krs"),
            ("systemeier", "anne.krs"),
            ("teknisk_systemadministrator", "ola.drift"),
            ("teknisk_systemadministrator", "per.drift"),
        ]  # fmt: skip
        assert len(s.exec(select(CIRelation).where(CIRelation.source_id == visma.id)).all()) == 3
        usage = {
            u.kommune_id: u.users_count
            for u in s.exec(select(CIUsage).where(CIUsage.ci_id == visma.id))
        }
        assert usage == {krs.id: 1200, kommuner["vennesla"].id: 300, kommuner["birkenes"].id: 80}
        tcp = s.exec(
            select(MonitorTarget).where(
                MonitorTarget.probe == "tcp", MonitorTarget.ci_id == visma.id
            )
        ).one()
        assert (tcp.interval_seconds, tcp.timeout_seconds, tcp.enabled) == (30, 5, True)


def users_by_id(users: dict[str, User]) -> dict[int | None, str]:
    return {u.id: name for name, u in users.items()}


def test_every_write_is_audited_as_the_importing_admin(make: Factory, admin: Principal) -> None:
    already = row_counts(make.engine)["AuditEvent"]  # the admin, made by the factory
    run_import(make.engine, admin, YAML_SET)
    with session_as(make.engine, SYSTEM) as s:
        events = s.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()[already:]
    assert {e.actor_id for e in events} == {admin.user_id}
    created = sorted(e.entity for e in events if e.action == "create")
    assert created == ["ci"] * 5 + ["kommune"] * 5 + ["site"] * 4 + ["user"] * 5


def test_csv_and_yaml_mean_the_same(make: Factory, admin: Principal, second_db: Engine) -> None:
    run_import(make.engine, admin, YAML_SET)
    run_import(second_db, SYSTEM, CSV_SET)
    # The admin made by the factory is only in the first database.
    first = export(make.engine, SYSTEM, "yaml")["fellesdrift.yaml"]
    second = export(second_db, SYSTEM, "yaml")["fellesdrift.yaml"]
    assert _without_user(first, "ada.admin") == second


def _without_user(yaml_text: str, username: str) -> str:
    lines = yaml_text.splitlines(keepends=True)
    start = lines.index(f"- username: {username}\n")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  "))
    return "".join(lines[:start] + lines[end:])


@pytest.mark.parametrize("files", [YAML_SET, CSV_SET], ids=["yaml", "csv"])
def test_importing_the_same_files_again_changes_nothing(
    make: Factory, admin: Principal, files: list[Path]
) -> None:
    run_import(make.engine, admin, files)
    before = row_counts(make.engine)

    report = run_import(make.engine, admin, files)

    assert row_counts(make.engine) == before, "no new rows and no new audit events"
    assert (report.totals.created, report.totals.updated) == (0, 0)
    assert report.totals.unchanged == sum(EXPECTED.values())
    assert not report.changed


def test_an_import_updates_what_differs_and_deletes_nothing(
    make: Factory, admin: Principal
) -> None:
    run_import(make.engine, admin, YAML_SET)
    make.ci("srv-legacy", name="Not in any file")
    before = row_counts(make.engine)
    changed = b"""
kommuner:
  - kommunenummer: "1014"
    inhabitants: 15100
    inhabitants_date: 2020-01-01
cis:
  - key: gerica
    criticality: high
    runs_on: [srv-visma-01]
    used_by: {kristiansand: 950}
"""
    report = run_import(make.engine, admin, [("endringer.yaml", changed)])

    assert report.entities["kommuner"].updated == 1 and report.entities["cis"].updated == 1
    after = row_counts(make.engine)
    assert after["CIRelation"] == before["CIRelation"] + 1
    assert after["ConfigItem"] == before["ConfigItem"], "nothing deleted, nothing created"
    # One event per change: the kommune, the system's fields, the relation, the usage.
    assert after["AuditEvent"] == before["AuditEvent"] + 4
    with session_as(make.engine, SYSTEM) as s:
        vennesla = s.exec(select(Kommune).where(Kommune.slug == "vennesla")).one()
        assert vennesla.inhabitants == 15100 and vennesla.name == "Vennesla"  # the rest kept
        gerica = s.exec(select(ConfigItem).where(ConfigItem.key == "gerica")).one()
        assert gerica.criticality == "high" and gerica.life_and_health, "left-out columns kept"
        usage = s.exec(select(CIUsage).where(CIUsage.ci_id == gerica.id)).one()
        assert usage.users_count == 950
        assert s.exec(select(ConfigItem).where(ConfigItem.key == "srv-legacy")).one()


def test_the_systemeier_is_replaced_and_administrators_are_added(
    make: Factory, admin: Principal
) -> None:
    run_import(make.engine, admin, YAML_SET)
    change = b"""
users:
  - username: siri.krs
    full_name: Siri Lund
    kommune: kristiansand
    roles: [systemeier]
cis:
  - key: visma
    systemeier: siri.krs
    systemadministratorer: [siri.krs]
"""
    run_import(make.engine, admin, [("eier.yaml", change)])
    with session_as(make.engine, SYSTEM) as s:
        visma = s.exec(select(ConfigItem).where(ConfigItem.key == "visma")).one()
        rows = s.exec(
            select(CIResponsibility.kind, User.username)
            .join(User, col(User.id) == CIResponsibility.user_id)
            .where(
                CIResponsibility.ci_id == visma.id,
                CIResponsibility.kind != "teknisk_systemadministrator",
            )
        ).all()
    assert sorted(rows) == [
        ("systemadministrator", "lars.ven"), ("systemadministrator", "nina.krs"),
        ("systemadministrator", "siri.krs"), ("systemeier", "siri.krs"),
    ]  # fmt: skip


def test_an_inactive_person_named_on_a_system_is_imported(make: Factory, admin: Principal) -> None:
    """People leave but stay named on systems until someone takes over; an export of that
    state must import (the naming happens before the person is made inactive)."""
    data = b"""
users:
  - username: gammel.drift
    full_name: Tidligere ansatt
    roles: [agent]
    active: false
cis:
  - key: srv-01
    name: Server 01
    kind: server
    tekniske_systemadministratorer: [gammel.drift]
"""
    run_import(make.engine, admin, [("register.yaml", data)])
    before = row_counts(make.engine)
    assert not run_import(make.engine, admin, [("register.yaml", data)]).changed
    assert row_counts(make.engine) == before
    with session_as(make.engine, SYSTEM) as s:
        user = s.exec(select(User).where(User.username == "gammel.drift")).one()
        assert not user.active
        assert s.exec(select(CIResponsibility).where(CIResponsibility.user_id == user.id)).one()


def test_a_dry_run_reports_but_stores_nothing(make: Factory, admin: Principal) -> None:
    before = row_counts(make.engine)

    report = run_import(make.engine, admin, YAML_SET, dry_run=True)

    assert report.dry_run and {n: c.created for n, c in report.entities.items()} == EXPECTED
    assert row_counts(make.engine) == before


def test_only_admins_import(make: Factory) -> None:
    kommune = make.kommune("Lillesand")
    contact = make.user(kommune, Role.KOMMUNE_CONTACT, Role.END_USER, username="kontakt")
    agent = make.user(None, Role.AGENT, username="agent")
    before = row_counts(make.engine)
    for user in (contact, agent):
        who = principal(make.engine, user)
        with session_as(make.engine, who) as s, pytest.raises(Problem) as caught:
            import_files(s, YAML_SET)
        assert caught.value.status == 403
    assert row_counts(make.engine) == before
