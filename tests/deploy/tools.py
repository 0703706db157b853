"""The deploy/ tree and the Debian tools the deploy tests run (promtool, amtool, Alertmanager).

A missing tool fails the test with the package that provides it, never skips it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.rig.base import missing

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
RULE_TESTS_DIR = Path(__file__).resolve().parent / "rules"
TOKEN_PLACEHOLDER = "PLACEHOLDER-replace-with-an-inventory-scoped-API-token"


def tool(name: str, package: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        missing(name, package)
    return path


def run(*command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> dict[str, dict[str, Any]]:
    """Every alerting rule of deploy/prometheus/rules, by alert name."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["alert"] not in found, f"alert {rule['alert']} defined twice"
                    found[rule["alert"]] = rule
    return found


def installed_prometheus_tree(workdir: Path, token: str) -> Path:
    """deploy/prometheus copied to ``workdir`` with the secret file the config names."""
    target = workdir / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, target)
    (target / "secrets").mkdir(exist_ok=True)  # deploy/ ships a placeholder: replace it
    (target / "secrets" / "fellesdrift-token").write_text(token)
    return target
