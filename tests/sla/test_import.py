"""The agreements' import on PostgreSQL: stored whole, or refused whole with every error by
file and line; the API, the CLI and the admin page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select
from typer.testing import CliRunner

from fellesdrift.kernel.problems import Problem
from register.models import User
from sla import cli, importer
from sla.agreements import catalogue
from sla.models import SlaAgreement, SlaService
from tests.sla.conftest import AGREEMENTS
from tests.support.factories import Factory


@pytest.fixture
def admin(make: Factory) -> User:
    make.kommune("Alfa")
    make.kommune("Beta")
    make.ci(
        "journal",
        name="Journalsystem",
        kind="fagsystem",
        classification="fellessystem",
        life_and_health=True,
    )
    return make.user(None, "admin", "agent", username="ada")


def _count(make: Factory) -> int:
    with make.session() as s:
        return s.exec(select(func.count()).select_from(SlaAgreement)).one()


def test_import_stores_every_agreement_and_the_lookup_sees_them(make: Factory, admin: User) -> None:
    make.run(importer.import_yaml, AGREEMENTS, "avtaler.yaml")
    with make.session() as s:
        rows = {a.name: a for a in s.exec(select(SlaAgreement))}
        assert set(rows) == {"Standard", "Alfa 2024"}
        service = s.exec(select(SlaService)).one()
        assert service.availability_target_bp == 9990
        from datetime import UTC, datetime

        from register.models import ConfigItem, Kommune

        alfa = s.exec(select(Kommune).where(Kommune.slug == "alfa")).one()
        beta = s.exec(select(Kommune).where(Kommune.slug == "beta")).one()
        journal = s.exec(select(ConfigItem).where(ConfigItem.key == "journal")).one().id
        assert journal is not None
        at = datetime(2026, 3, 2, 9, tzinfo=UTC)
        look = catalogue(s)
        assert look.level_for(alfa.id, 1, at, [journal]).level == "kritisk"  # type: ignore[union-attr]
        # Alfa's agreement names nothing else and has no default level: the default covers it.
        assert look.level_for(alfa.id, 1, at, []).level == "standard"  # type: ignore[union-attr]
        spec = look.level_for(beta.id, 1, at, [journal])
        assert spec is not None and spec.agreement == "Standard"
        assert spec.closed_each_year == frozenset({(12, 24)})


def test_reimport_of_the_same_names_replaces_them(make: Factory, admin: User) -> None:
    make.run(importer.import_yaml, AGREEMENTS, "avtaler.yaml")
    make.run(importer.import_yaml, AGREEMENTS.replace("99.9", "99.5"), "avtaler.yaml")
    assert _count(make) == 2
    with make.session() as s:
        assert s.exec(select(SlaService)).one().availability_target_bp == 9950


BAD = [
    ("zero target", "1: {response: 15m, resolution: 2h}", "1: {response: 0, resolution: 2h}",
     28, "sla_err.target_not_positive"),
    ("negative target", "4: {response: 8h, resolution: 40h}",
     "4: {response: -5, resolution: 40h}", 16, "sla_err.target_not_positive"),
    ("unknown calendar", "calendar: round_the_clock", "calendar: døgn", 24,
     "sla_err.unknown_calendar"),
    ("unknown system", "system: journal", "system: journalen", 33, "sla_err.unknown_system"),
    ("unknown service", "system: journal", "service: ny-pc", 33, "sla_err.unknown_service"),
    ("unknown kommune", "kommune: alfa", "kommune: omega", 18, "sla_err.unknown_kommune"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "old", "new", "line", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_is_refused_whole_with_file_and_line(
    make: Factory, admin: User, case: str, old: str, new: str, line: int, code: str
) -> None:
    text = AGREEMENTS.replace(old, new)
    assert text != AGREEMENTS
    with pytest.raises(Problem) as caught:
        make.run(importer.import_yaml, text, "avtaler.yaml")
    assert caught.value.status == 422
    errors = caught.value.errors
    assert [(e.file, e.line, e.code) for e in errors][:1] == [("avtaler.yaml", line, code)], errors
    assert _count(make) == 0


def test_overlapping_versions_in_one_file_are_refused(make: Factory, admin: User) -> None:
    second = AGREEMENTS.split("  - name: Alfa 2024")[1].replace(
        "valid_from: 2024", "valid_from: 2025"
    )
    text = AGREEMENTS + "  - name: Alfa 2025" + second
    with pytest.raises(Problem) as caught:
        make.run(importer.import_yaml, text, "avtaler.yaml")
    error = caught.value.errors[0]
    assert (error.line, error.code, error.params) == (38, "sla_err.overlap", {"other": "Alfa 2024"})
    assert _count(make) == 0


def test_overlap_with_a_stored_version_is_refused(make: Factory, admin: User) -> None:
    make.run(importer.import_yaml, AGREEMENTS, "avtaler.yaml")
    later = AGREEMENTS.replace("name: Alfa 2024", "name: Alfa 2026").replace(
        "valid_from: 2024-01-01\n    leadership", "valid_from: 2026-01-01\n    leadership"
    )
    with pytest.raises(Problem) as caught:
        make.run(importer.import_yaml, later, "ny.yaml")
    message = str(caught.value.errors[0])
    assert "ny.yaml:19" in message and "Alfa 2024" in message
    assert _count(make) == 2  # the two stored ones, nothing of the refused file


def test_yaml_syntax_error_names_its_line(make: Factory, admin: User) -> None:
    with pytest.raises(Problem) as caught:
        make.run(importer.import_yaml, "agreements:\n  - name: [x\n", "feil.yaml")
    error = caught.value.errors[0]
    assert (error.file, error.code) == ("feil.yaml", "sla_err.yaml") and error.line


def test_cli_imports_and_refuses(make: Factory, admin: User, tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    good, bad = folder / "avtaler.yaml", folder / "feil.yaml"
    good.write_text(AGREEMENTS, encoding="utf-8")
    bad.write_text(AGREEMENTS.replace("calendar: round_the_clock", "calendar: x"), "utf-8")
    app = cli.commands(make.session)
    refused = CliRunner().invoke(app, ["import", str(bad)])
    assert refused.exit_code == 1
    assert f"{bad}:24" in refused.output and "unknown calendar" in refused.output
    assert _count(make) == 0
    result = CliRunner().invoke(app, ["import", str(good)])
    assert result.exit_code == 0, result.output
    assert "imported Alfa 2024" in result.output
    listed = CliRunner().invoke(app, ["list"])
    assert "Standard" in listed.output and "alfa" in listed.output


def test_api_import_is_admin_only_and_reads_are_per_kommune(
    make: Factory, admin: User, api: Callable[..., TestClient]
) -> None:
    agent = make.user(None, "agent", username="agent-x")
    headers = {"content-type": "application/yaml", "x-filename": "avtaler.yaml"}
    refused = api(agent).post("/api/v1/sla/agreements/import", content=AGREEMENTS, headers=headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    bad = AGREEMENTS.replace("resolution: 2h", "resolution: -1")
    response = api(admin).post("/api/v1/sla/agreements/import", content=bad, headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"][0]["line"] == 28 and body["errors"][0]["file"] == "avtaler.yaml"
    ok = api(admin).post("/api/v1/sla/agreements/import", content=AGREEMENTS, headers=headers)
    assert ok.status_code == 200, ok.text
    assert {a["name"] for a in ok.json()} == {"Standard", "Alfa 2024"}
    with make.session() as s:
        from register.models import Kommune

        beta = s.exec(select(Kommune).where(Kommune.slug == "beta")).one()
    beta_user = make.user(beta, "end_user", "kommune_contact", username="kontakt-b")
    seen = api(beta_user).get("/api/v1/sla/agreements").json()
    assert [a["name"] for a in seen] == ["Standard"]
    alfa_id = next(a["id"] for a in ok.json() if a["name"] == "Alfa 2024")
    assert api(beta_user).get(f"/api/v1/sla/agreements/{alfa_id}").status_code == 404
    detail = api(agent).get(f"/api/v1/sla/agreements/{alfa_id}").json()
    assert detail["levels"][0]["targets"][0] == {
        "priority": 1, "response_minutes": 15, "resolution_minutes": 120,
    }  # fmt: skip


def test_admin_page_imports_and_shows_errors_in_norwegian(
    make: Factory, admin: User, browser: Callable[..., TestClient]
) -> None:
    page = browser(admin)
    bad = AGREEMENTS.replace("system: journal", "system: journalen")
    files = {"file": ("avtaler.yaml", bad.encode(), "application/yaml")}
    refused = page.submit("/tjenesteavtaler/import", files=files)  # type: ignore[attr-defined]
    assert refused.status_code == 422
    assert "avtaler.yaml:33" in refused.text and "ukjent system" in refused.text
    files = {"file": ("avtaler.yaml", AGREEMENTS.encode(), "application/yaml")}
    done = page.submit("/tjenesteavtaler/import", files=files, follow_redirects=True)  # type: ignore[attr-defined]
    assert "Tjenesteavtalene er importert." in done.text
    assert "Standardavtale (alle kommuner)" in done.text
    with make.session() as s:
        alfa_id = s.exec(select(SlaAgreement.id).where(SlaAgreement.name == "Alfa 2024")).one()
    detail = page.get(f"/tjenesteavtaler/{alfa_id}")
    assert "Døgnet rundt, alle dager" in detail.text and "99,9 %" in detail.text
    assert "15 min" in detail.text and "Venter på leverandør" in detail.text
