"""deploy/prometheus and deploy/alertmanager pass the tools' own checks, and every alert rule has
promtool unit tests that show it firing and not firing (tests/deploy/rules/*.test.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.tools import (
    ALERTMANAGER_CONFIG,
    PROMETHEUS_DIR,
    RULE_TESTS_DIR,
    RULES_DIR,
    TOKEN_PLACEHOLDER,
    alert_rules,
    installed_prometheus_tree,
    load_yaml,
    run,
    tool,
)

RULE_TESTS = sorted(RULE_TESTS_DIR.glob("*.test.yml"))
ANNOTATIONS = {"summary", "summary_en", "description", "description_en"}
SEVERITIES = {"critical", "warning", "info"}


def test_promtool_check_config(tmp_path: Path) -> None:
    tree = installed_prometheus_tree(tmp_path, "scrape-token")
    result = run(tool("promtool", "prometheus"), "check", "config", str(tree / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = len(list(RULES_DIR.glob("*.yml")))
    assert f"SUCCESS: {rule_files} rule files found" in result.stdout, result.stdout


def test_promtool_check_config_as_shipped() -> None:
    """deploy/prometheus passes promtool as it is in the repository: the secret file the scrape
    config names ships as a documented placeholder (promtool fails on a missing file)."""
    result = run(
        tool("promtool", "prometheus"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    token = PROMETHEUS_DIR / "secrets" / "fellesdrift-token"
    assert token.read_text().strip() == TOKEN_PLACEHOLDER
    readme = (PROMETHEUS_DIR.parent / "README.md").read_text()
    assert "secrets/fellesdrift-token" in readme and TOKEN_PLACEHOLDER in readme


def test_promtool_check_rules() -> None:
    files = [str(p) for p in sorted(RULES_DIR.glob("*.yml"))]
    assert files, "no rule files in deploy/prometheus/rules"
    result = run(tool("promtool", "prometheus"), "check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_check_config() -> None:
    result = run(
        tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER_CONFIG)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 inhibit rules" in result.stdout, result.stdout


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=[p.stem for p in RULE_TESTS])
def test_promtool_rule_unit_tests(test_file: Path) -> None:
    result = run(tool("promtool", "prometheus"), "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    """Each alert has at least one promtool case where it fires and one where it must not
    (a pending ``for:`` or a near miss), so no rule goes untested."""
    firing: set[str] = set()
    quiet: set[str] = set()
    tested_files: set[str] = set()
    for path in RULE_TESTS:
        spec = load_yaml(path)
        tested_files.update(Path(f).name for f in spec["rule_files"])
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    rules = set(alert_rules())
    assert tested_files == {p.name for p in RULES_DIR.glob("*.yml")}
    assert not rules - firing, f"alerts never shown firing: {sorted(rules - firing)}"
    assert not rules - quiet, f"alerts never shown quiet: {sorted(rules - quiet)}"


def test_alerts_carry_severity_and_bilingual_annotations() -> None:
    for name, rule in alert_rules().items():
        assert rule.get("labels", {}).get("severity") in SEVERITIES, name
        assert set(rule.get("annotations", {})) >= ANNOTATIONS, name
        assert rule.get("for"), f"{name} has no for: (one bad poll would page)"


def test_inhibited_alerts_can_match_the_host_label() -> None:
    """The host-down inhibition compares ``host``: the scrape config must set it on the
    collectors' series, and HostDown must come from those series."""
    config = load_yaml(ALERTMANAGER_CONFIG)
    host_rule = next(r for r in config["inhibit_rules"] if "HostDown" in str(r["source_matchers"]))
    assert host_rule["equal"] == ["host"]
    prometheus = load_yaml(RULES_DIR.parent / "prometheus.yml")
    collectors = next(
        j for j in prometheus["scrape_configs"] if j["job_name"].endswith("collectors")
    )
    assert collectors["honor_labels"] is True
    assert any(r.get("target_label") == "host" for r in collectors["metric_relabel_configs"])
    assert "probe_success" in alert_rules()["HostDown"]["expr"]
