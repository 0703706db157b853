"""The dashboards as code: the committed JSON is exactly what the code generates, the build
command works, and the JSON is a sound Grafana model (unique ids and titles, every query on the
Prometheus data source variable). Their queries are run against real data in
test_dashboard_queries.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from dashboards import DASHBOARDS, JSON_DIR, differences, generate, load, panel_queries
from tests.deploy.tools import DEPLOY, ROOT


def test_committed_json_equals_generated() -> None:
    assert differences() == [], "dashboards/json is stale: run `python -m dashboards build`"
    assert {p.name for p in JSON_DIR.glob("*.json")} == set(generate())


def test_build_and_check_commands(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dashboards", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = tmp_path / "json"
    stale = run("check", "--out", str(out))
    assert stale.returncode == 1 and "python -m dashboards build" in stale.stderr
    built = run("build", "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.json" for n in DASHBOARDS)
    assert run("check", "--out", str(out)).returncode == 0
    (out / "vert.json").write_text("{}")
    changed = run("check", "--out", str(out))
    assert changed.returncode == 1 and "vert.json" in changed.stderr


def test_models_are_sound() -> None:
    uids = set()
    for name, model in load().items():
        assert model["uid"] not in uids, f"{name}: uid {model['uid']} used twice"
        uids.add(model["uid"])
        panels = model["panels"]
        ids = [p["id"] for p in panels]
        titles = [p["title"] for p in panels]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        assert len(set(titles)) == len(titles), f"{name}: panel titles repeat"
        assert all(p.get("description") for p in panels), f"{name}: a panel lacks a description"
        for panel in panels:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}/{panel['title']} is wider than the grid"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        assert list(panel_queries(model)), f"{name} has no queries"
        variables = [v["name"] for v in model["templating"]["list"]]
        assert variables[0] == "datasource", name


def test_provisioning_points_at_the_generated_dashboards() -> None:
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/fellesdrift.yml").read_text()
    )["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"]
    source = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/fellesdrift.yml").read_text()
    )["datasources"][0]
    assert source["type"] == "prometheus" and source["url"].endswith(":9090")
