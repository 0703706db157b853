"""POST /api/v1/import, GET /api/v1/export and the page /import."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from register.choices import Role
from register.models import Kommune, User
from tests.api.support import PROBLEM_JSON, problem
from tests.importexport.conftest import DATA, YAML_SET, row_counts
from tests.pages.conftest import no_csrf
from tests.pages.helpers import assert_page, text, title
from tests.support.factories import Factory

Api = Callable[..., TestClient]
YAML_BYTES = YAML_SET[0].read_bytes()
BAD_CSV = (DATA / "bad" / "kommuner.csv").read_bytes()
IO_KEY = re.compile(r"\bio\.[a-z_]+\.[a-z_.]+")


@pytest.fixture
def admin_user(make: Factory) -> User:
    return make.user(None, Role.ADMIN, Role.AGENT, username="ada.admin", full_name="Ada Admin")


def _upload(*files: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "application/octet-stream")) for name, data in files]


def _norwegian_page(response: Any, status: int) -> str:
    html = assert_page(response, "Import og eksport", status)
    assert not IO_KEY.findall(text(html)), "untranslated io.* keys on the page"
    return html


# ---- API ----------------------------------------------------------------------------------------


def test_api_import_then_reimport(make: Factory, api: Api, admin_user: User) -> None:
    client = api(admin_user)

    dry = client.post("/api/v1/import", files=_upload(("knutepunkt.yaml", YAML_BYTES)),
                      data={"dry_run": "true"})  # fmt: skip
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and dry.json()["totals"]["created"] == 22
    assert row_counts(make.engine)["Kommune"] == 0

    first = client.post("/api/v1/import", files=_upload(("knutepunkt.yaml", YAML_BYTES)))
    assert first.status_code == 200, first.text
    assert first.json()["entities"]["kommuner"] == {"created": 5, "updated": 0, "unchanged": 0}
    before = row_counts(make.engine)

    again = client.post("/api/v1/import", files=_upload(("knutepunkt.yaml", YAML_BYTES)))
    assert again.json()["totals"] == {"created": 0, "updated": 0, "unchanged": 22}
    assert row_counts(make.engine) == before


def test_api_import_of_several_csv_files(make: Factory, api: Api, admin_user: User) -> None:
    files = [(p.name, p.read_bytes()) for p in sorted((DATA / "csv").glob("*.csv"))]
    response = api(admin_user).post("/api/v1/import", files=_upload(*files))
    assert response.status_code == 200, response.text
    assert response.json()["files"] == [name for name, _ in files]
    assert response.json()["totals"]["created"] == 22


def test_api_errors_are_a_problem_with_file_and_line(
    make: Factory, api: Api, admin_user: User
) -> None:
    client = api(admin_user)
    before = row_counts(make.engine)
    response = client.post(
        "/api/v1/import", files=_upload(("knutepunkt.yaml", YAML_BYTES), ("kommuner.csv", BAD_CSV))
    )
    body = problem(response, 422)
    located = {(e["file"], e["line"], e["field"]): e for e in body["errors"]}
    error = located[("kommuner.csv", 7, "orgnr")]
    assert error["value"] == "964964948" and "mod-11" in error["message"]
    # The same kommuner are in both files: each is named as a duplicate, with its line.
    assert ("kommuner.csv", 4, "kommunenummer") in located  # Birkenes (line 2 is refused)
    assert all({"file", "line", "field", "message"} <= e.keys() for e in body["errors"])
    assert row_counts(make.engine) == before


def test_api_import_is_for_admins(make: Factory, api: Api) -> None:
    kommune = make.kommune("Lillesand")
    contact = make.user(kommune, Role.KOMMUNE_CONTACT, username="kontakt")
    agent = make.user(None, Role.AGENT, username="agent")
    clients = [api(contact), api(agent)]
    before = row_counts(make.engine)
    for client in clients:
        problem(client.post("/api/v1/import", files=_upload(("k.yaml", YAML_BYTES))), 403)
    assert row_counts(make.engine) == before


def test_api_refuses_an_upload_that_is_too_large(
    make: Factory, api: Api, admin_user: User, app: FastAPI
) -> None:
    app.state.settings.upload_max_bytes = 2000
    client = api(admin_user)
    # Over the limit but within what the request line allows: the file itself is measured.
    body = problem(client.post("/api/v1/import", files=_upload(("k.yaml", YAML_BYTES))), 413)
    assert body["errors"][0]["field"] == "files"
    # Far over: refused from the Content-Length, before the body is read.
    huge = b"# " + b"x" * 200_000 + b"\n"
    problem(client.post("/api/v1/import", files=_upload(("k.yaml", huge))), 413)
    assert row_counts(make.engine)["Kommune"] == 0


def test_api_refuses_other_file_types(api: Api, admin_user: User) -> None:
    response = api(admin_user).post("/api/v1/import", files=_upload(("register.xlsx", b"PK\x03")))
    body = problem(response, 422)
    assert body["errors"][0]["file"] == "register.xlsx"
    assert ".csv, .yaml and .yml" in body["errors"][0]["message"]
    problem(api(admin_user).post("/api/v1/import", data={"dry_run": "true"}), 422)


def test_api_export_as_yaml_and_as_a_zip_of_csvs(make: Factory, api: Api, admin_user: User) -> None:
    client = api(admin_user)
    client.post("/api/v1/import", files=_upload(("knutepunkt.yaml", YAML_BYTES)))

    response = client.get("/api/v1/export", params={"format": "yaml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert 'filename="fellesdrift.yaml"' in response.headers["content-disposition"]
    assert len(yaml.safe_load(response.text)["kommuner"]) == 5

    response = client.get("/api/v1/export", params={"format": "csv"})
    assert response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == ["cis.csv", "kommuner.csv", "monitoring.csv", "sites.csv", "users.csv"]

    assert client.get("/api/v1/export", params={"format": "xml"}).status_code == 422
    assert client.get("/api/v1/export").headers["content-type"].startswith("application/yaml")


def test_api_export_is_scoped_to_the_callers_kommune(
    make: Factory, api: Api, admin_user: User
) -> None:
    api(admin_user).post("/api/v1/import", files=_upload(("knutepunkt.yaml", YAML_BYTES)))
    with make.session() as s:
        vennesla = s.exec(select(Kommune).where(Kommune.slug == "vennesla")).one()
    contact = make.user(vennesla, Role.KOMMUNE_CONTACT, username="kontakt.ven")

    response = api(contact, scopes="read").get("/api/v1/export")

    assert response.status_code == 200
    assert [k["slug"] for k in yaml.safe_load(response.text)["kommuner"]] == ["vennesla"]
    assert "kristiansand" not in response.text


# ---- pages --------------------------------------------------------------------------------------


def test_the_page_is_for_admins(make: Factory, browser: Any, admin_user: User) -> None:
    html = _norwegian_page(browser(admin_user).get("/import"), 200)
    assert 'enctype="multipart/form-data"' in html and 'name="dry_run"' in html
    assert 'href="/import/eksport?format=yaml"' in html
    assert title(html) == "Import og eksport – fellesdrift"

    kommune = make.kommune("Lillesand")
    contact = make.user(kommune, Role.KOMMUNE_CONTACT, username="kontakt")
    assert browser(contact).get("/import").status_code == 403
    assert browser().get("/import", follow_redirects=False).status_code == 303


def test_the_page_imports_and_shows_what_happened(
    make: Factory, browser: Any, admin_user: User
) -> None:
    b = browser(admin_user)
    response = b.post("/import", data={"csrf_token": b.csrf, "dry_run": "true"},
                      files=_upload(("knutepunkt.yaml", YAML_BYTES)))  # fmt: skip
    page = text(_norwegian_page(response, 200))
    assert "Prøvekjøring: ingenting er lagret" in page
    assert "Kommuner 5 0 0" in page and "Totalt 22 0 0" in page
    assert row_counts(make.engine)["Kommune"] == 0

    response = b.post("/import", data={"csrf_token": b.csrf},
                      files=_upload(("knutepunkt.yaml", YAML_BYTES)))  # fmt: skip
    page = text(_norwegian_page(response, 200))
    assert "Importen er lagret" in page and "Systemer 5 0 0" in page
    assert row_counts(make.engine)["Kommune"] == 5


def test_the_page_lists_every_error_in_norwegian(
    make: Factory, browser: Any, admin_user: User
) -> None:
    b = browser(admin_user)
    users = b"username;full_name;roles\nkari;Kari;superhelt\n"
    response = b.post("/import", data={"csrf_token": b.csrf},
                      files=_upload(("kommuner.csv", BAD_CSV), ("users.csv", users)))  # fmt: skip
    html = _norwegian_page(response, 422)
    page = text(html)
    assert "Ingenting ble importert" in page and "Antall feil: 3" in page
    assert 'role="alert"' in html and "<caption>Feil i filene</caption>" in html
    assert "kommuner.csv 7 orgnr 964964948 har feil kontrollsiffer (mod-11)" in page
    assert "users.csv 2 roles superhelt" in page
    assert row_counts(make.engine)["Kommune"] == 0


def test_the_page_explains_a_file_it_cannot_read(browser: Any, admin_user: User) -> None:
    b = browser(admin_user)
    response = b.post("/import", data={"csrf_token": b.csrf},
                      files=_upload(("kommuner.csv", "Søgne".encode("latin-1"))))  # fmt: skip
    page = text(_norwegian_page(response, 422))
    assert "kommuner.csv 1 file Filen er ikke UTF-8-tekst (byte 0xf8 kan ikke leses)" in page


def test_the_page_refuses_a_too_large_upload_in_norwegian(
    browser: Any, admin_user: User, app: FastAPI
) -> None:
    app.state.settings.upload_max_bytes = 2000
    b = browser(admin_user)
    for data in (YAML_BYTES, b"#" * 200_000):
        response = b.post("/import", data={"csrf_token": b.csrf},
                          files=_upload(("knutepunkt.yaml", data)))  # fmt: skip
        page = text(_norwegian_page(response, 413))
        assert "Opplastingen er for stor (høyst 2000 byte)" in page


def test_the_page_form_needs_its_csrf_token(make: Factory, browser: Any, admin_user: User) -> None:
    b = no_csrf(browser(admin_user))
    response = b.post("/import", files=_upload(("knutepunkt.yaml", YAML_BYTES)))
    assert response.status_code == 403
    assert row_counts(make.engine)["Kommune"] == 0


def test_the_page_export_downloads(browser: Any, admin_user: User) -> None:
    b = browser(admin_user)
    response = b.get("/import/eksport?format=csv")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    response = b.get("/import/eksport?format=yaml")
    assert (
        response.text.startswith("# fellesdrift")
        and PROBLEM_JSON not in response.headers["content-type"]
    )
