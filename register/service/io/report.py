"""What an import did, or why it stored nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fellesdrift.kernel.problems import FieldError, Problem
from register.service.io.formats import ENTITIES


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _empty_counts() -> dict[str, Counts]:
    return {e.name: Counts() for e in ENTITIES}


@dataclass
class ImportReport:
    """Per entity (kommuner, sites, users, cis, monitoring): rows created, updated, unchanged.
    With ``dry_run`` the counts say what an import would do; nothing was stored."""

    dry_run: bool
    files: list[str]
    entities: dict[str, Counts] = field(default_factory=_empty_counts)

    @property
    def totals(self) -> Counts:
        total = Counts()
        for counts in self.entities.values():
            total.created += counts.created
            total.updated += counts.updated
            total.unchanged += counts.unchanged
        return total

    @property
    def changed(self) -> bool:
        totals = self.totals
        return bool(totals.created or totals.updated)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "files": list(self.files),
            "entities": {name: c.as_dict() for name, c in self.entities.items()},
            "totals": self.totals.as_dict(),
        }


class ImportRejected(Problem):
    """The files broke rules; ``errors`` lists every one with file, line, field and value.
    Nothing was stored."""

    def __init__(self, errors: list[FieldError]) -> None:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        super().__init__(
            422, "Invalid input", f"{count} {noun} in the import; nothing was stored", errors
        )
