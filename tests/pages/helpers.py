"""Reading pages the way a person (or a screen reader) does: visible text, headings, errors."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

#: A catalogue key that leaked onto a page untranslated, e.g. "field.name" or "choice.Role.x".
RAW_KEY = re.compile(
    r"(?<![\w@.-])(?:app|choice|cmdb|contact|field|filter|form|hint|kommune|lang|list|login|msg|nav|ok"
    r"|pager|problem|profile|pydantic|relation|role|scope|site|token|user|warning|word)"
    r"\.[A-Za-z_][\w.]*"
)


INLINE = frozenset({"a", "abbr", "b", "code", "em", "i", "small", "span", "strong"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.h1: list[str] = []
        self._in_h1 = False
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in INLINE:
            self.parts.append(" ")
        if tag in ("script", "style", "title"):
            self._skip += 1
        if tag == "h1":
            self._in_h1 = True
            self.h1.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag not in INLINE:
            self.parts.append(" ")
        if tag in ("script", "style", "title"):
            self._skip -= 1
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data)
        if self._in_h1:
            self.h1[-1] += data


def _parse(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


def text(html: str) -> str:
    """The visible text of a page, whitespace collapsed."""
    return " ".join("".join(_parse(html).parts).split())


def h1(html: str) -> str:
    """The page's one h1 (fails if there is not exactly one)."""
    headings = _parse(html).h1
    assert len(headings) == 1, f"expected one h1, found {headings}"
    return " ".join(headings[0].split())


def title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match, "page has no title"
    return " ".join(match.group(1).split())


def assert_page(response: Any, heading: str, status: int = 200) -> str:
    """The page rendered with this h1, in one language, without leaked catalogue keys."""
    assert response.status_code == status, response.text[:2000]
    html = response.text
    assert h1(html) == heading
    leaked = RAW_KEY.findall(text(html))
    assert not leaked, f"untranslated keys on the page: {leaked}"
    return html


def field_error(html: str, input_id: str) -> str:
    """The error shown next to an input, checking it is tied to the input for screen readers."""
    match = re.search(rf'<p class="field-error" id="{input_id}-error">(.*?)</p>', html, re.S)
    assert match, f"no error shown for #{input_id}"
    tag = re.search(rf'<(?:input|select|textarea|fieldset)[^>]* id="{input_id}"[^>]*>', html)
    assert tag, f"no input #{input_id}"
    assert f"{input_id}-error" in tag.group(0), "error not referenced by aria-describedby"
    if not tag.group(0).startswith("<fieldset"):
        assert 'aria-invalid="true"' in tag.group(0)
    return text(match.group(1))


def error_summary(html: str) -> str:
    match = re.search(r'<div class="alert error" role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert match, "no error summary with role=alert"
    return text(match.group(1))


def input_value(html: str, input_id: str) -> str:
    tag = re.search(rf'<input[^>]* id="{input_id}"[^>]*>', html)
    assert tag, f"no input #{input_id}"
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""
