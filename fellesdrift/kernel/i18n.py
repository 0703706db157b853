"""The string catalogue: every text the UI shows, in Norwegian bokmål (default) and English.

Catalogues are flat JSON files: ``fellesdrift/kernel/locale/<lang>.json`` plus one fragment
per area in ``fellesdrift/kernel/locale/<lang>/*.json`` (so areas do not edit one file); keys
are dotted English identifiers (``nav.systems``, ``choice.Role.agent``) and may appear in one
file only. A key missing in English falls back to bokmål; a key missing everywhere shows the
key itself, and ``tests/test_i18n.py`` fails on it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("nb", "en")
DEFAULT_LANGUAGE = "nb"
_DIR = Path(__file__).parent / "locale"


@cache
def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for path in [_DIR / f"{lang}.json", *sorted((_DIR / lang).glob("*.json"))]:
        if not path.exists():
            continue
        part: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        clash = sorted(set(part) & set(data))
        if clash:
            raise ValueError(f"{path}: keys defined twice in the catalogue: {clash[:5]}")
        data.update(part)
    return data


def translate(key: str, lang: str = DEFAULT_LANGUAGE, **values: Any) -> str:
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**values) if values else text


def choose_language(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The language cookie wins; else the first supported language the browser asks for."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("nb", "no", "nn"):
            return "nb"
        if code == "en":
            return "en"
    return default
