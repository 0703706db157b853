"""Norwegian public identifiers: organisasjonsnummer and kommunenummer."""

from __future__ import annotations

import re

_ORGNR_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def orgnr_check_digit(first8: str) -> int | None:
    """The mod-11 check digit for the first eight digits, or None where no valid one exists."""
    total = sum(int(d) * w for d, w in zip(first8, _ORGNR_WEIGHTS, strict=True))
    rest = 11 - total % 11
    if rest == 11:
        return 0
    if rest == 10:
        return None
    return rest


def orgnr_problem(value: str) -> str | None:
    """Why ``value`` is not a valid organisasjonsnummer, or None if it is."""
    if not re.fullmatch(r"\d{9}", value):
        return "must be exactly 9 digits"
    if value[0] not in "89":
        return "must start with 8 or 9"
    if orgnr_check_digit(value[:8]) != int(value[8]):
        return "fails the mod-11 check digit"
    return None


def normalise_orgnr(value: str) -> str:
    """Strip spaces and an optional NO/MVA decoration: 'NO 964 965 066 MVA' -> '964965066'."""
    cleaned = re.sub(r"\s+", "", value).upper()
    cleaned = cleaned.removeprefix("NO").removesuffix("MVA")
    return cleaned


def kommunenummer_problem(value: str) -> str | None:
    if not re.fullmatch(r"\d{4}", value):
        return "must be exactly 4 digits"
    if value[:2] == "00":
        return "the county part (first two digits) cannot be 00"
    return None
