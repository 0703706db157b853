"""Where targets come from: a YAML file (re-read when it changes) and the inventory feed.

Each source keeps its last good content: a feed that is down or a file with a syntax error
leaves the targets as they were, and ``fellesdrift_collector_config_last_reload_successful``
turns 0 for that source until it is readable again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import ValidationError

from collectors.probes.base import Probe
from collectors.state import SourceStatus
from collectors.targets import (
    FILE,
    INVENTORY,
    Builder,
    ConfigError,
    FileLayout,
    TargetSet,
    explain,
    load_file_entries,
    load_http_sd,
)

log = logging.getLogger(__name__)
USER_AGENT = "fellesdrift-collector/1"


class SourceError(Exception):
    """A whole source could not be read; the message never contains a secret."""


class InventoryClient:
    """GETs the HTTP-SD feed with a bearer token read from a file on every fetch (so a rotated
    token is picked up without a restart)."""

    def __init__(self, url: str, token_file: Path | None, timeout: float = 10.0) -> None:
        self.url = url
        self.token_file = token_file
        self._client = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})

    def fetch(self) -> Any:
        headers = {"Accept": "application/json"}
        if self.token_file is not None:
            try:
                token = self.token_file.read_text().strip()
            except OSError as exc:
                raise SourceError(
                    f"cannot read token file {self.token_file}: {exc.strerror}"
                ) from None
            if not token:
                raise SourceError(f"token file {self.token_file} is empty")
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._client.get(self.url, headers=headers)
        except httpx.HTTPError as exc:
            raise SourceError(f"inventory {self.url} unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SourceError(f"inventory {self.url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"inventory {self.url} did not return JSON") from None

    def close(self) -> None:
        self._client.close()


class TargetLoader:
    """Reads the sources and builds the target set; remembers each source's last good content."""

    def __init__(
        self,
        probes: Mapping[str, Probe],
        targets_file: Path | None = None,
        inventory: InventoryClient | None = None,
    ) -> None:
        self.probes = probes
        self.targets_file = targets_file
        self.inventory = inventory
        self._layout = FileLayout()
        self._signature: tuple[int, int, int] | None = None
        self._inventory_data: Any = None
        self.status: dict[str, SourceStatus] = {}

    def _set_status(self, source: str, ok: bool, message: str = "") -> None:
        previous = self.status.get(source)
        last = time.time() if ok else (previous.last_success if previous else None)
        self.status[source] = SourceStatus(ok, last, message)
        if not ok:
            log.error("cannot load targets from %s: %s", source, message)

    def file_changed(self) -> bool:
        if self.targets_file is None:
            return False
        try:
            st = os.stat(self.targets_file)
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            signature = (0, 0, 0)
        return signature != self._signature

    def refresh_file(self) -> None:
        """Re-read the YAML file (callers check :meth:`file_changed` first)."""
        if self.targets_file is None:
            return
        try:
            st = os.stat(self.targets_file)
            self._signature = (st.st_mtime_ns, st.st_size, st.st_ino)
            data = yaml.safe_load(self.targets_file.read_text(encoding="utf-8")) or {}
            self._layout = FileLayout.model_validate(data)
        except OSError as exc:
            self._signature = (0, 0, 0)
            self._set_status(FILE, False, f"{self.targets_file}: {exc.strerror}")
        except yaml.YAMLError as exc:
            self._set_status(FILE, False, f"{self.targets_file}: not valid YAML ({exc})")
        except ValidationError as exc:
            self._set_status(FILE, False, f"{self.targets_file}: {explain(exc)}")
        else:
            self._set_status(FILE, True)

    def refresh_inventory(self) -> bool:
        """Fetch the feed; True if its content changed."""
        if self.inventory is None:
            return False
        try:
            data = self.inventory.fetch()
            if not isinstance(data, list):
                raise SourceError(f"inventory {self.inventory.url}: expected a JSON list of groups")
        except SourceError as exc:
            self._set_status(INVENTORY, False, str(exc))
            return False
        self._set_status(INVENTORY, True)
        changed = data != self._inventory_data
        self._inventory_data = data
        return changed

    def build(self) -> TargetSet:
        """All targets from the last good content of every source, and every rejected entry."""
        builder = Builder(self.probes, self._layout)
        result = TargetSet(errors=builder.module_config_errors())
        load_file_entries(builder, self._layout.targets, result)
        if self._inventory_data is not None:
            load_http_sd(builder, self._inventory_data, result)
        for error in result.errors:
            log.warning("invalid target %s (%s): %s", error.entry, error.source, error.message)
        return result

    def close(self) -> None:
        if self.inventory is not None:
            self.inventory.close()


def errors_for(errors: list[ConfigError], owns: Callable[[str], bool]) -> list[ConfigError]:
    """The errors this shard reports (each error once across all shards)."""
    return [error for error in errors if owns(error.entry)]
