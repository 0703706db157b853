"""Attachments through the API: upload, list, download, and every refusal naming its limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from fellesdrift.kernel.settings import Settings
from servicedesk.tickets.routes.api_files import content_disposition
from tests.api.support import field_error, ids, problem
from tests.tickets.api.conftest import Api, file_ticket, move
from tests.tickets.conftest import World

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small upload limit, so the limit can be crossed cheaply."""
    return settings.model_copy(update={"upload_max_bytes": 4096})


def test_upload_list_and_download(world: World, api: Api, settings: Settings) -> None:
    anne = api(world.user_a)
    ticket = file_ticket(anne)
    response = anne.post(
        f"/api/v1/tickets/{ticket['id']}/attachments",
        files={"file": ("skjermbilde av feilen.png", PNG, "image/png")},
    )
    assert response.status_code == 201, response.text
    meta = response.json()
    assert meta["filename"] == "skjermbilde av feilen.png" and meta["size"] == len(PNG)
    assert meta["content_type"] == "image/png" and meta["public"] is True
    listed = anne.get(f"/api/v1/tickets/{ticket['id']}/attachments")
    assert ids(listed) == [meta["id"]]
    assert anne.get(f"/api/v1/attachments/{meta['id']}").json() == meta
    download = api(world.agent).get(f"/api/v1/attachments/{meta['id']}/content")
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        'attachment; filename="skjermbilde av feilen.png"; '
        "filename*=UTF-8''skjermbilde%20av%20feilen.png"
    )
    # Stored under a generated name inside the storage folder, not under the client's name.
    stored = list((Path(settings.data_dir) / "attachments").rglob("*"))
    files = [p for p in stored if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == PNG and "skjerm" not in files[0].name
    timeline = anne.get(f"/api/v1/tickets/{ticket['id']}/entries").json()["items"]
    assert timeline[-1]["change"] == {"attachment": "skjermbilde av feilen.png"}


def test_a_file_name_with_path_parts_stays_in_the_storage_folder(
    world: World, api: Api, settings: Settings
) -> None:
    anne = api(world.user_a)
    ticket = file_ticket(anne)
    for name in ("../../../etc/passwd.txt", "..\\..\\windows\\evil.txt", "/abs/ok.txt"):
        response = anne.post(
            f"/api/v1/tickets/{ticket['id']}/attachments",
            files={"file": (name, b"hei", "text/plain")},
        )
        assert response.status_code == 201, response.text
        assert "/" not in response.json()["filename"] and "\\" not in response.json()["filename"]
    root = (Path(settings.data_dir) / "attachments").resolve()
    assert all(p.resolve().is_relative_to(root) for p in root.rglob("*"))
    names = [
        a["filename"]
        for a in anne.get(f"/api/v1/tickets/{ticket['id']}/attachments").json()["items"]
    ]
    assert names == ["passwd.txt", "evil.txt", "ok.txt"]


def test_non_ascii_and_quotes_in_names_are_safe_in_the_header(world: World, api: Api) -> None:
    anne = api(world.user_a)
    ticket = file_ticket(anne)
    response = anne.post(
        f"/api/v1/tickets/{ticket['id']}/attachments",
        files={"file": ("Søknad; ny.txt", b"innhold", "text/plain")},
    )
    meta = response.json()
    download = anne.get(f"/api/v1/attachments/{meta['id']}/content")
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"S_knad_ ny.txt\"; filename*=UTF-8''S%C3%B8knad_%20ny.txt"
    )
    # A quote never ends the quoted name early, whatever the stored name holds.
    assert content_disposition('a"b.txt') == (
        "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
    )


def test_refusals_name_the_limit_and_store_nothing(
    world: World, api: Api, settings: Settings
) -> None:
    anne = api(world.user_a)
    ticket = file_ticket(anne)
    path = f"/api/v1/tickets/{ticket['id']}/attachments"
    too_big = problem(anne.post(path, files={"file": ("stor.txt", b"x" * 4097, "text/plain")}), 413)
    assert "4096 bytes" in too_big["detail"]
    huge = problem(
        anne.post(path, files={"file": ("enorm.txt", b"x" * 200_000, "text/plain")}), 413
    )
    assert "4096 bytes" in huge["detail"]
    wrong_type = field_error(
        anne.post(path, files={"file": ("virus.exe", b"MZ", "application/octet-stream")}), "file"
    )
    assert ".pdf" in wrong_type["message"] and "allowed" in wrong_type["message"]
    field_error(anne.post(path, files={"file": ("bilde.png", b"<html>", "image/png")}), "file")
    field_error(anne.post(path, files={"file": ("tom.txt", b"", "text/plain")}), "file")
    field_error(anne.post(path, data={"public": "true"}), "file")
    field_error(anne.post(path, json={"file": "abc"}), "file")
    two = [("file", ("a.txt", b"a", "text/plain")), ("file", ("b.txt", b"b", "text/plain"))]
    field_error(anne.post(path, files=two), "file")
    field_error(
        anne.post(path, files={"file": ("a.txt", b"a", "text/plain")}, data={"public": "maybe"}),
        "public",
        "maybe",
    )
    assert (
        "internal"
        in problem(
            anne.post(
                path, files={"file": ("a.txt", b"a", "text/plain")}, data={"public": "false"}
            ),
            403,
        )["detail"]
    )
    assert anne.get(path).json()["items"] == []
    assert not [p for p in (Path(settings.data_dir) / "attachments").rglob("*") if p.is_file()]


def test_internal_attachments_and_other_kommuner(world: World, api: Api) -> None:
    anne, agent = api(world.user_a), api(world.agent)
    ticket = file_ticket(anne)
    path = f"/api/v1/tickets/{ticket['id']}/attachments"
    internal = agent.post(
        path, files={"file": ("logg.log", b"stack", "text/plain")}, data={"public": "false"}
    )
    assert internal.status_code == 201 and internal.json()["public"] is False
    public = agent.post(path, files={"file": ("svar.txt", b"svar", "text/plain")}).json()
    assert ids(anne.get(path)) == [public["id"]]
    assert ids(agent.get(path)) == [internal.json()["id"], public["id"]]
    problem(anne.get(f"/api/v1/attachments/{internal.json()['id']}/content"), 404)
    bjorn = api(world.user_b)
    problem(bjorn.get(f"/api/v1/attachments/{public['id']}"), 404)
    problem(bjorn.get(f"/api/v1/attachments/{public['id']}/content"), 404)
    problem(bjorn.post(path, files={"file": ("a.txt", b"a", "text/plain")}), 404)


def test_closed_tickets_take_no_files(world: World, api: Api) -> None:
    anne = api(world.user_a)
    ticket = move(anne, file_ticket(anne), "cancelled")
    response = anne.post(
        f"/api/v1/tickets/{ticket['id']}/attachments", files={"file": ("a.txt", b"a", "text/plain")}
    )
    assert "cancelled" in problem(response, 409)["detail"]


def test_upload_needs_a_write_token(world: World, api: Api) -> None:
    ticket = file_ticket(api(world.user_a))
    reader = api(world.user_a, "read")
    response = reader.post(
        f"/api/v1/tickets/{ticket['id']}/attachments", files={"file": ("a.txt", b"a", "text/plain")}
    )
    problem(response, 403)
