"""Grafana dashboards as code (grafana-foundation-sdk), one module per dashboard.

``python -m dashboards build`` writes the JSON models to ``dashboards/json/`` (committed, and
provisioned into Grafana by deploy/grafana); ``python -m dashboards check`` fails if the committed
JSON differs from what the code generates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard

from dashboards import collectors, host, overview, probes, servicedesk
from dashboards.common import to_json

JSON_DIR = Path(__file__).resolve().parent / "json"

#: file name (without .json) -> the function that builds the dashboard
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "oversikt": overview.build,
    "vert": host.build,
    "sjekker": probes.build,
    "innsamlere": collectors.build,
    "tjenestedesk": servicedesk.build,
}


def generate() -> dict[str, str]:
    """Every dashboard's JSON text, by file name."""
    return {f"{name}.json": to_json(build()) for name, build in DASHBOARDS.items()}


def write(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generate().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def differences(directory: Path = JSON_DIR) -> list[str]:
    """Names of the files in ``directory`` that are missing, stale or not generated."""
    wanted = generate()
    found = {p.name for p in directory.glob("*.json")}
    stale = [
        name
        for name, text in wanted.items()
        if name not in found or (directory / name).read_text(encoding="utf-8") != text
    ]
    return sorted(stale + [name for name in found - set(wanted)])


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str


def panel_queries(model: dict[str, Any]) -> Iterator[PanelQuery]:
    """Every PromQL expression of a dashboard's JSON model, rows' panels included."""
    for panel in _panels(model.get("panels") or []):
        for target in panel.get("targets") or []:
            if target.get("expr"):
                yield PanelQuery(model["title"], panel["title"], target["refId"], target["expr"])


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def load(directory: Path = JSON_DIR) -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))
    }
