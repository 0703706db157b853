"""Bad imports: every error is reported with file, line, field and value, and nothing is stored."""

from __future__ import annotations

import pytest

from fellesdrift.kernel.problems import FieldError
from register.access import Principal
from tests.importexport.conftest import (
    DATA,
    YAML_SET,
    rejected,
    row_counts,
    run_import,
)
from tests.support.factories import Factory


def _where(errors: list[FieldError]) -> list[tuple[str | None, int | None, str]]:
    return [(e.file, e.line, e.field) for e in errors]


def test_an_invalid_orgnr_on_line_7_stores_nothing(make: Factory, admin: Principal) -> None:
    before = row_counts(make.engine)

    errors = rejected(make.engine, admin, [DATA / "bad" / "kommuner.csv"])

    # Line 7 of the file is the 6th row: a quoted address spans lines 2-3 (and is itself
    # refused: an address line is one line).
    assert _where(errors) == [("kommuner.csv", 2, "address_line"), ("kommuner.csv", 7, "orgnr")]
    assert errors[1].value == "964964948" and "mod-11" in errors[1].message
    assert row_counts(make.engine) == before, "the five valid rows are not stored either"


def test_every_error_is_reported(make: Factory, admin: Principal) -> None:
    text = b"""kommuner:
  - kommunenummer: "12345"
    slug: tolv
    name: Tolv
    orgnr: "963296746"
  - kommunenummer: "4201"
    slug: Ikke gyldig!
    name: ""
    orgnr: "963296746"
users:
  - username: x
    full_name: X
    kommune: "4201"
    roles: [end_user, superuser]
  - username: y
    full_name: Y
    kommune: ukjent
cis:
  - key: sys
    name: System
    kind: fagsystem
    runs_on: [finnes-ikke]
"""
    users_csv = b"username,full_name,roles\nz,,agent\nw,W,end_user\n"

    errors = rejected(make.engine, admin, [("feil.yaml", text), ("users.csv", users_csv)])

    assert sorted(_where(errors)) == [
        ("feil.yaml", 2, "kommunenummer"),
        ("feil.yaml", 6, "name"),
        ("feil.yaml", 6, "slug"),
        ("feil.yaml", 11, "roles"),
        ("feil.yaml", 15, "kommune"),
        ("feil.yaml", 19, "classification"),
        ("feil.yaml", 19, "runs_on"),
        ("users.csv", 2, "full_name"),
        ("users.csv", 3, "roles"),
    ]
    assert _where(errors) == sorted(_where(errors), key=lambda w: (w[0] != "feil.yaml", w[1]))
    by_line = {(e.file, e.line, e.field): e for e in errors}
    assert by_line[("feil.yaml", 2, "kommunenummer")].value == "12345"
    assert by_line[("feil.yaml", 11, "roles")].value == "superuser"
    assert by_line[("feil.yaml", 15, "kommune")].value == "ukjent"
    assert by_line[("feil.yaml", 19, "runs_on")].value == "finnes-ikke"
    assert by_line[("users.csv", 3, "roles")].value == "end_user", "a kommune role for drift"
    assert row_counts(make.engine)["Kommune"] == 0


def test_a_dangling_reference_names_what_is_missing(make: Factory, admin: Principal) -> None:
    make.kommune("Lillesand", slug="lillesand", kommunenummer="0926")
    users = b"username,full_name,kommune,site,roles\nkari,Kari,lillesand,radhus,end_user\n"
    cis = (
        b"key,name,kind,systemeier,runs_on,used_by\n"
        b"srv,Server,server,,,\n"
        b"app,App,service_endpoint,ukjent.person,srv;borte,lillesand:10;9999:5\n"
    )

    errors = rejected(make.engine, admin, [("users.csv", users), ("cis.csv", cis)])

    assert [(e.file, e.line, e.field, e.value) for e in errors] == [
        ("users.csv", 2, "site", "radhus"),
        ("cis.csv", 3, "systemeier", "ukjent.person"),
        ("cis.csv", 3, "used_by", "9999"),
        ("cis.csv", 3, "runs_on", "borte"),
    ]
    assert all("in the database or in the imported files" in e.message for e in errors)
    # References to things elsewhere in the same import are fine: the kommune in the register,
    # the server "srv" in the same file, the kommune "lillesand" by its slug.
    assert not [e for e in errors if e.value in ("srv", "lillesand:10")]


def test_a_reference_to_an_entry_with_errors_is_not_reported_twice(
    make: Factory, admin: Principal
) -> None:
    text = """kommuner:
  - kommunenummer: "0926"
    slug: lillesand
    name: Lillesand
    orgnr: "964965065"
sites:
  - kommune: lillesand
    code: radhus
    name: Rådhuset
""".encode()
    errors = rejected(make.engine, admin, [("register.yaml", text)])
    assert _where(errors) == [("register.yaml", 2, "orgnr")]


def test_duplicates_within_the_files_are_errors(make: Factory, admin: Principal) -> None:
    users = b"username;full_name;roles\nkari;Kari;agent\nola;Ola;agent\nKARI;Kari igjen;agent\n"
    other = b"users:\n  - username: ola\n    full_name: Ola\n    roles: [agent]\n"

    errors = rejected(make.engine, admin, [("users.csv", users), ("flere.yaml", other)])

    assert _where(errors) == [("users.csv", 4, "username"), ("flere.yaml", 2, "username")]
    assert "users.csv, line 2" in errors[0].message
    assert "users.csv, line 3" in errors[1].message


def test_unknown_and_unfitting_roles(make: Factory, admin: Principal) -> None:
    make.kommune("Lillesand", slug="lillesand")
    users = (
        b"username,full_name,kommune,roles\n"
        b"a,A,lillesand,end_user;superuser\n"
        b"b,B,,end_user\n"
        b"c,C,lillesand,admin\n"
    )
    errors = rejected(make.engine, admin, [("users.csv", users)])

    assert [(e.line, e.field, e.value) for e in errors] == [
        (2, "roles", "superuser"),
        (3, "roles", "end_user"),
        (4, "roles", "admin"),
    ]
    assert "employees of a kommune" in errors[1].message
    assert "staff of the drift unit" in errors[2].message


@pytest.mark.parametrize("name", ["kommuner.xlsx", "register.json", "users.csv.exe"])
def test_only_csv_and_yaml_files_are_read(make: Factory, admin: Principal, name: str) -> None:
    errors = rejected(make.engine, admin, [(name, b"kommunenummer\n1001\n")])
    assert [(e.file, e.code) for e in errors] == [(name, "io.err.extension")]


def test_a_client_path_in_the_file_name_is_not_kept(make: Factory, admin: Principal) -> None:
    errors = rejected(make.engine, admin, [("../../etc/users.csv", b"username\nBad Name\n")])
    assert errors[0].file == "users.csv"


def test_bytes_that_are_not_utf8_name_the_file_and_line(make: Factory, admin: Principal) -> None:
    data = "kommunenummer;slug;name;orgnr\n1018;sogne;Søgne;964966753\n".encode("latin-1")
    errors = rejected(make.engine, admin, [("kommuner.csv", data)])
    assert [(e.file, e.line, e.code) for e in errors] == [("kommuner.csv", 2, "io.err.encoding")]
    assert "UTF-8" in errors[0].message and "0xf8" in errors[0].message


def test_a_csv_must_say_what_it_holds(make: Factory, admin: Principal) -> None:
    data = b"username,full_name,roles\nkari,Kari,agent\n"
    errors = rejected(make.engine, admin, [("eksport.csv", data)])
    assert errors[0].code == "io.err.entity" and "users.csv" in errors[0].message

    report = run_import(make.engine, admin, [("eksport.csv", data)], entity="users")
    assert report.entities["users"].created == 1


def test_passwords_are_never_imported(make: Factory, admin: Principal) -> None:
    csv_data = b"username,full_name,roles,password\nkari,Kari,agent,hemmelig-passord\n"
    yaml_data = b"users:\n  - username: kari\n    full_name: Kari\n    password_hash: x\n"
    errors = rejected(make.engine, admin, [("users.csv", csv_data), ("u.yaml", yaml_data)])
    assert _where(errors) == [("users.csv", 1, "password"), ("u.yaml", 2, "password_hash")]
    assert all(e.code == "io.err.password" for e in errors)


def test_csv_header_and_row_shape(make: Factory, admin: Principal) -> None:
    header = b"username,full_name,favourite_colour\nkari,Kari,blue\n"
    errors = rejected(make.engine, admin, [("users.csv", header)])
    assert [(e.line, e.field, e.code) for e in errors] == [
        (1, "favourite_colour", "io.err.unknown_column")
    ]
    no_key = b"full_name,roles\nKari,agent\n"
    assert rejected(make.engine, admin, [("users.csv", no_key)])[0].field == "username"
    too_long = b"username,full_name\nkari,Kari,agent,extra\n"
    errors = rejected(make.engine, admin, [("users.csv", too_long)])
    assert [(e.line, e.code) for e in errors] == [(2, "io.err.too_many_values")]
    assert rejected(make.engine, admin, [("users.csv", b"")])[0].code == "io.err.empty"


def test_yaml_structure_errors_point_at_their_line(make: Factory, admin: Principal) -> None:
    cases = {
        b"kommuner: [\n": "io.err.yaml",
        b"- just a list\n": "io.err.yaml_top",
        b"kommuner: []\nticketz: []\n": "io.err.yaml_top",
        b"users:\n  - &a {username: a, full_name: A, roles: [agent]}\n  - *a\n": "io.err.alias",
        b"users:\n  - username: a\n    username: b\n": "io.err.duplicate_key",
        b"users:\n  - just text\n": "io.err.not_a_mapping",
        b"users:\n  - username: a\n    full_name: [A, B]\n": "io.err.not_a_value",
    }
    for data, code in cases.items():
        errors = rejected(make.engine, admin, [("r.yaml", data)])
        assert [e.code for e in errors] == [code], data
        assert errors[0].line is not None and errors[0].line >= 1


def test_values_an_import_may_not_change(make: Factory, admin: Principal) -> None:
    run_import(make.engine, admin, YAML_SET)
    text = b"""kommuner:
  - kommunenummer: "1001"
    orgnr: "964965064"
  - kommunenummer: "1018"
    valid_to:
users:
  - username: lars.ven
    kommune: kristiansand
cis:
  - key: visma
    kind: server
"""
    errors = rejected(make.engine, admin, [("r.yaml", text)])
    assert [(e.line, e.field, e.code) for e in errors] == [
        (2, "orgnr", "io.err.immutable"),
        (4, "valid_to", "io.err.reopen"),
        (7, "kommune", "io.err.moved"),
        (10, "kind", "io.err.immutable"),
    ]
    assert errors[0].params["current"] == "963296746"


def test_a_refusal_of_a_service_rolls_everything_back(make: Factory, admin: Principal) -> None:
    """Some rules need the register as it is being written (a cycle of dependencies, who may be
    the teknisk systemadministrator); the services judge them, the import reports them with
    their line, and the entries that did go in are taken back out."""
    before = row_counts(make.engine)
    text = b"""kommuner:
  - kommunenummer: "0926"
    slug: lillesand
    name: Lillesand
    orgnr: "964965064"
users:
  - username: kari
    full_name: Kari
    kommune: lillesand
    roles: [end_user]
cis:
  - key: a
    name: A
    kind: service_endpoint
    depends_on: [b]
  - key: b
    name: B
    kind: service_endpoint
    depends_on: [a]
  - key: c
    name: C
    kind: server
    tekniske_systemadministratorer: [kari]
    runs_on: [a]
"""
    errors = rejected(make.engine, admin, [("r.yaml", text)])

    assert [(e.line, e.field, e.value) for e in errors] == [
        (16, "depends_on", "a"),
        (20, "tekniske_systemadministratorer", "kari"),
        (20, "runs_on", "a"),
    ]
    assert "cycle" in errors[0].message and "drift unit" in errors[1].message
    assert row_counts(make.engine) == before


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ("lillesand", "io.err.pair"),
        ("lillesand:mange", "io.err.count"),
        ("lillesand:-3", "io.err.count"),
    ],
)
def test_used_by_needs_a_kommune_and_a_count(
    make: Factory, admin: Principal, entry: str, code: str
) -> None:
    make.kommune("Lillesand", slug="lillesand")
    data = f"key,name,kind,used_by\nx,X,server,{entry}\n".encode()
    errors = rejected(make.engine, admin, [("cis.csv", data)])
    assert [(e.line, e.field, e.value, e.code) for e in errors] == [(2, "used_by", entry, code)]
