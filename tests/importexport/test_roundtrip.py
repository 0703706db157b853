"""Export in the import formats: round trips into an empty and into the same database, and
exports that hold only what the exporting person may see."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import select

from register.access import Principal
from register.choices import CIKind, ProbeKind, Role
from register.models import ConfigItem, Kommune
from register.schemas import CICreate, TargetIn
from register.service import cmdb
from tests.importexport.conftest import (
    SYSTEM,
    YAML_SET,
    export,
    principal,
    row_counts,
    run_import,
    session_as,
)
from tests.support.factories import Factory


def _grow(make: Factory, admin: Principal) -> None:
    """The realistic register plus states that only the services make: a retired system with a
    disabled target, a person who left but is still named on a server, an ended kommune."""
    run_import(make.engine, admin, YAML_SET)
    with session_as(make.engine, SYSTEM) as s:
        old = cmdb.create_ci(s, CICreate(key="srv-old", name="Gammel server", kind=CIKind.SERVER))
        cmdb.add_target(s, old.id, TargetIn(probe=ProbeKind.ICMP, target="10.0.0.9"))  # type: ignore[arg-type]
        cmdb.retire_ci(s, old.id)  # type: ignore[arg-type]
    leaver = b"""
users:
  - username: gammel.drift
    full_name: Tidligere ansatt
    roles: [agent]
    active: false
cis:
  - key: srv-old
    tekniske_systemadministratorer: [gammel.drift]
    description: "=HYPERLINK(\\"http://example.com\\")"
"""
    run_import(make.engine, admin, [("endring.yaml", leaver)])


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_export_then_import_into_an_empty_database_gives_the_same_data(
    make: Factory, admin: Principal, second_db: Engine, fmt: str
) -> None:
    _grow(make, admin)
    files = export(make.engine, SYSTEM, fmt)

    report = run_import(second_db, SYSTEM, [(n, t.encode()) for n, t in files.items()])

    assert report.totals.updated == report.totals.unchanged == 0
    assert export(second_db, SYSTEM, fmt) == files
    assert export(second_db, SYSTEM, "yaml") == export(make.engine, SYSTEM, "yaml")


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_export_then_import_into_the_same_database_changes_nothing(
    make: Factory, admin: Principal, fmt: str
) -> None:
    _grow(make, admin)
    files = export(make.engine, admin, fmt)
    before = row_counts(make.engine)

    report = run_import(make.engine, admin, [(n, t.encode()) for n, t in files.items()])

    assert not report.changed and report.totals.unchanged > 20
    assert row_counts(make.engine) == before


def test_csv_export_opens_in_norwegian_excel_and_is_safe_there(
    make: Factory, admin: Principal
) -> None:
    _grow(make, admin)
    files = export(make.engine, admin, "csv")

    assert sorted(files) == ["cis.csv", "kommuner.csv", "monitoring.csv", "sites.csv", "users.csv"]
    users = files["users.csv"]
    assert users.startswith("\ufeffusername;full_name;") and "\r\n" in users
    assert '"end_user;kommune_contact;systemeier"' in users
    # Cells that Excel would run as a formula are kept as text; the import takes the ' off.
    assert ";'+47 38 13 72 00;" in users
    assert "'=HYPERLINK" in files["cis.csv"]


def test_passwords_are_never_exported(make: Factory, admin: Principal) -> None:
    make.user(None, Role.AGENT, username="med.passord")  # the factory gives a password
    for fmt in ("yaml", "csv"):
        text = "".join(export(make.engine, admin, fmt).values())
        assert "med.passord" in text and "$argon2" not in text
        assert "password" not in text.split("Passwords are never exported")[-1]


def test_a_kommune_contact_exports_only_their_kommune(make: Factory, admin: Principal) -> None:
    run_import(make.engine, admin, YAML_SET)
    with session_as(make.engine, SYSTEM) as s:
        vennesla = s.exec(select(Kommune).where(Kommune.slug == "vennesla")).one()
    contact = make.user(vennesla, Role.KOMMUNE_CONTACT, Role.END_USER, username="kontakt.ven")

    files = export(make.engine, principal(make.engine, contact), "yaml")
    text = files["fellesdrift.yaml"]
    data = yaml.safe_load(text)

    assert [k["slug"] for k in data["kommuner"]] == ["vennesla"]
    assert [(s["kommune"], s["code"]) for s in data["sites"]] == [("vennesla", "radhus")]
    assert [u["username"] for u in data["users"]] == ["kontakt.ven", "lars.ven"]
    [visma] = data["cis"]  # the only system Vennesla uses
    assert visma["key"] == "visma" and visma["used_by"] == {"vennesla": 300}
    # What the contact cannot see is left out, so the export names nothing it does not hold.
    assert visma["owner_kommune"] is None and visma["systemeier"] is None
    assert visma["systemadministratorer"] == ["lars.ven"]
    assert visma["runs_on"] == visma["depends_on"] == visma["tekniske_systemadministratorer"] == []
    assert len(visma["monitoring"]) == 2
    for other in ("kristiansand", "birkenes", "0928", "sogne", "anne.krs", "ola.drift", "gerica"):
        assert other not in text, other
    csv_text = "".join(export(make.engine, principal(make.engine, contact), "csv").values())
    assert "vennesla" in csv_text and "kristiansand" not in csv_text


def test_an_end_user_exports_little_more_than_themselves(make: Factory, admin: Principal) -> None:
    run_import(make.engine, admin, YAML_SET)
    with session_as(make.engine, SYSTEM) as s:
        krs = s.exec(select(Kommune).where(Kommune.slug == "kristiansand")).one()
        systems = len(s.exec(select(ConfigItem)).all())
    ansatt = make.user(krs, Role.END_USER, username="ansatt.krs")

    data = yaml.safe_load(
        export(make.engine, principal(make.engine, ansatt), "yaml")["fellesdrift.yaml"]
    )

    assert [u["username"] for u in data["users"]] == ["ansatt.krs"]
    assert {c["key"] for c in data["cis"]} == {"visma", "gerica"} and systems == 5
