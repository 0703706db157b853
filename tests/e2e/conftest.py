"""Browser tests: headless Chromium (Debian's ``chromium``) driven by Playwright, the app
served by uvicorn on loopback, and axe-core run inside each page.

Install once: ``apt-get install -y chromium``, ``pip install playwright`` (never
``playwright install``: the browser is Debian's) and ``npm ci --prefix tests/e2e`` (axe-core).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.rig.base import missing
from tests.support.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: axe-core impacts that fail a page.
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the module's tests."""
    if not CHROMIUM.exists():
        missing("chromium", "chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed; run: pip install playwright", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail("axe-core is not installed; run: npm ci --prefix tests/e2e", pytrace=False)
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any, source: str) -> list[dict[str, Any]]:
    """Run axe-core in ``page``; the violations of serious or critical impact."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in BLOCKING]


def assert_accessible(page: Any, source: str) -> None:
    found = axe_violations(page, source)
    summary = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in found
    ]
    assert not found, f"axe-core on {page.url}:\n{json.dumps(summary, indent=1)}"


def sign_in(browser: Any, base: str, username: str, js: bool = True) -> Any:
    """A page signed in as ``username`` (password of the factories), in bokmål; with ``js``
    off it is the person without JavaScript, with it on axe-core can run."""
    context = browser.new_context(
        base_url=base, java_script_enabled=js, bypass_csp=js, locale="nb-NO"
    )
    page = context.new_page()
    page.goto("/logg-inn")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    expect(page.locator("h1")).to_contain_text("Hei")
    return page
