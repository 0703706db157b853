"""No raw code reaches people: every page of the demo, as each demo user sees it, in both
languages, shows choices by their labels, never by their stored values ("approved",
"in_progress", "office_hours"), and counts with the right plural."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from fellesdrift.assembly import demo
from fellesdrift.assembly.app import create_app
from fellesdrift.kernel.db import make_engine
from fellesdrift.kernel.i18n import catalogue
from fellesdrift.kernel.settings import Settings
from register.access import Principal, bind
from register.demo import DEMO_PASSWORD
from servicedesk.tickets.models import Ticket
from tests.pages.helpers import text

USERS = ("admin", "agent", "fakturaansvarlig", "ansatt", "kontakt", "okonomi", "systemeier")
#: Pages per person: the nav's pages and a few objects of each list (the machines are shared).
LIMIT = 30
#: Addresses that are no page to read (files, sign-out, the API) or billing's own pages (its
#: documents and wording are checked by tests/billing).
SKIP = re.compile(
    r"^/(logg-ut|api/|static/|fakturering|import|eksport)|\.(pdf|csv|xml|yaml|json|txt|png)$"
    r"|/vedlegg/|/last-ned|/(pdf|csv|ehf)$"
)
HREF = re.compile(r'href="(/[^"#]*)')
#: "1 rader", "1 months", "(1 rows)": one of something takes the singular.
BAD_PLURAL = re.compile(r"(?<![\d.,])1 (rader|saker|måneder|kommuner|timer|rows|months|tickets)\b")


def _choice_values(lang: str) -> set[str]:
    """Stored values of every choices enum that no text of the language's catalogue uses as a
    word (so "problem" or "systemeier", which are words people read, are not flagged)."""
    values: set[str] = set()
    for name in ("register.choices", "servicedesk.tickets.choices", "billing.choices"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, StrEnum) and obj is not StrEnum:
                values |= {v.value for v in obj}
    words: set[str] = set()
    for label in catalogue(lang).values():
        words |= {w.lower() for w in re.findall(r"[\wæøå]+", label)}
    # The demo's user names ("admin", "agent") are shown as such.
    return {v for v in values if v.lower() not in words and len(v) > 2 and v not in USERS}


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, list[str]]]:
    """The demo served in-process, and the agent pages of its service requests and problems
    (their timelines hold approvals and links, which a crawl by lists may not reach)."""
    data = tmp_path_factory.mktemp("demo")
    settings = Settings(
        database_url=f"sqlite:///{data / 'demo.db'}",
        data_dir=Path(data),
        demo_mode=True,
        secret_key="s" * 40,  # type: ignore[arg-type]
    )
    demo.prepare(settings, reset=True)
    engine = make_engine(settings.database_url)
    with bind(Session(engine), Principal.system("test")) as session:
        stmt = select(Ticket.id).where(col(Ticket.type).in_(["request", "problem"]))
        desk = [f"/arbeid/saker/{tid}" for tid in session.exec(stmt)]
    engine.dispose()
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client, desk


def _sign_in(client: TestClient, username: str, lang: str) -> None:
    client.cookies.clear()
    client.cookies.set("fd_lang", lang)
    page = client.get("/logg-inn")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    signed = client.post(
        "/logg-inn",
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    client.cookies.set("fd_lang", lang)


def _crawl(client: TestClient, start: list[str]) -> Iterator[tuple[str, str]]:
    """Same-site pages reachable from the start page, breadth first; of the objects of a kind
    (addresses alike but for their ids) two are enough."""
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    queue = ["/", *start]
    while queue and len(seen) < LIMIT + len(start):
        path = queue.pop(0)
        kind = re.sub(r"\d+", "N", urlsplit(path).path)
        if path in seen or SKIP.search(path) or (kinds.get(kind, 0) >= 2 and path not in start):
            continue
        seen.add(path)
        kinds[kind] = kinds.get(kind, 0) + 1
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.headers["content-type"]:
            continue
        yield path, response.text
        for href in HREF.findall(response.text):
            link = urldefrag(href.replace("&amp;", "&"))[0]
            if link not in seen:
                queue.append(link)


@pytest.mark.parametrize(
    ("lang", "users"), [("nb", USERS), ("en", ("agent", "ansatt", "okonomi"))], ids=["nb", "en"]
)
def test_no_raw_choice_values_or_bad_plurals_on_demo_pages(
    demo_app: tuple[TestClient, list[str]], lang: str, users: tuple[str, ...]
) -> None:
    client, desk = demo_app
    values = _choice_values(lang)
    assert {"in_progress", "office_hours"} <= values
    found: dict[str, set[str]] = {}
    for username in users:
        _sign_in(client, username, lang)
        start = desk if username in ("agent", "admin") else []
        for path, html in _crawl(client, start):
            shown = text(html)
            raw = {w for w in re.findall(r"[\w]+", shown) if w in values}
            raw |= set(BAD_PLURAL.findall(shown))
            for word in raw:
                found.setdefault(word, set()).add(f"{username} {path}")
    report = {w: sorted(p)[:3] for w, p in found.items()}
    assert report == {}, f"raw codes or bad plurals on pages ({lang}): {report}"
