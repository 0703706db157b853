"""Every panel query of every dashboard returns data from a real Prometheus that scraped a real
collector and a real service desk, with the scrape config and rules of deploy/prometheus. The
collector polls a real sshd, an HTTP and an HTTPS target, registered in the service desk and
read from its inventory feed, so the labels are the register's. Template variables are resolved
as Grafana does (label_values with the variable's regex); a panel without data fails by name."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from collectors.probes import ProbeEnv
from dashboards import PanelQuery, load, panel_queries
from register.schemas import TargetIn, UsageIn
from register.service import cmdb
from tests.collectors.pki import PKI
from tests.collectors.servers import HTTPTarget
from tests.collectors.sshd import REPORT_UNITS, SSHServer
from tests.deploy.tools import PROMETHEUS_DIR, RULES_DIR, load_yaml
from tests.support.fixtures import token_for
from tests.support.servers import Prometheus, run_prometheus, serve_app

#: Grafana's built-in interval variables, at values that fit a 1 s scrape.
BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "6h"}
WAIT_SECONDS = 90


def inventory(make: Any, sshd: SSHServer, http: HTTPTarget, https: HTTPTarget) -> Any:
    """The monitored systems in the register: the collector reads them from the feed."""
    # Grafana offers the first kommune: the one with every kind of target sorts first.
    lillesand, vennesla = make.kommune("Lillesand"), make.kommune("Vennesla")
    intranett = make.ci(
        "intranett",
        name="Intranett",
        kind="fagsystem",
        classification="virksomhetsspesifikt",
        owner_kommune_id=lillesand.id,
        criticality="high",
        service="Intranett",
    )
    server = make.ci("srv-sak", name="Saksbehandling", owner_kommune_id=lillesand.id)
    portal = make.ci(
        "portal",
        name="Innbyggerportal",
        kind="fagsystem",
        classification="fellessystem",
        service="Innbyggerportal",
    )
    for kommune in (lillesand, vennesla):
        make.run(cmdb.set_usage, portal.id, UsageIn(kommune_id=kommune.id, users_count=50))
    fast = {"interval_seconds": 5, "timeout_seconds": 2}
    make.run(cmdb.add_target, intranett.id, TargetIn(probe="http", target=http.url("/"), **fast))
    make.run(cmdb.add_target, server.id, TargetIn(probe="ssh", target=sshd.address, **fast))
    url = https.url("/", host="localhost")
    make.run(cmdb.add_target, portal.id, TargetIn(probe="http", target=url, **fast))
    return lillesand


def modules(pki: PKI) -> dict[str, Any]:
    """The collector's targets file: only the default options of the feed's probe kinds."""
    return {
        "modules": {
            "http": {"probe": "http", "options": {"tls": {"ca_file": pki.ca_file}}},
            "ssh": {"probe": "ssh", "options": {"units": list(REPORT_UNITS)}},
        }
    }


def prometheus_config(collector: str, servicedesk: str, token_file: Path) -> str:
    """deploy/prometheus/prometheus.yml with loopback addresses and 1 s intervals."""
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    collectors = {k: v for k, v in jobs["fellesdrift-collectors"].items() if k != "file_sd_configs"}
    collectors.update(scrape_interval="1s", static_configs=[{"targets": [collector]}])
    desk = dict(jobs["fellesdrift-servicedesk"])
    desk["scrape_interval"] = "1s"
    desk["authorization"] = {**desk["authorization"], "credentials_file": str(token_file)}
    desk["static_configs"] = [{**desk["static_configs"][0], "targets": [servicedesk]}]
    return yaml.safe_dump(
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in sorted(RULES_DIR.glob("*.yml"))],
            "scrape_configs": [collectors, desk],
        }
    )


def resolve_variables(prom: Prometheus, model: dict[str, Any]) -> dict[str, str]:
    """The first value of each query variable, as Grafana would offer it."""
    values: dict[str, str] = {}
    for variable in model["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["query"])
        assert match, f"{model['title']}: unsupported variable query {variable['query']}"
        metric, label = match.groups()
        found = prom.api(f"label/{label}/values", **{"match[]": metric})
        pattern = variable.get("regex", "").strip("/")
        kept = sorted(v for v in found if not pattern or re.search(pattern, v))
        if kept:
            values[variable["name"]] = kept[0]
    return values


def substitute(expr: str, variables: dict[str, str]) -> str:
    for name, value in {**BUILTINS, **{f"${k}": v for k, v in variables.items()}}.items():
        expr = expr.replace(name, value)
    return expr


def has_data(prom: Prometheus, expr: str) -> bool:
    result = prom.api("query", query=expr)["result"]
    if isinstance(result, list):
        return any(not math.isnan(float(sample["value"][1])) for sample in result)
    return bool(result)


def queries_without_data(prom: Prometheus) -> list[tuple[PanelQuery, str]]:
    missing: list[tuple[PanelQuery, str]] = []
    for model in load().values():
        variables = resolve_variables(prom, model)
        for item in panel_queries(model):
            expr = substitute(item.expr, variables)
            if "$" in expr or not has_data(prom, expr):
                missing.append((item, expr))
    return missing


def test_every_panel_query_returns_data(
    app: Any,
    make: Any,
    tmp_path: Path,
    sshd: SSHServer,
    http_target: HTTPTarget,
    https_target: Callable[[str], HTTPTarget],
    pki: PKI,
    collector: Callable[..., Any],
) -> None:
    kommune = inventory(make, sshd, http_target, https_target("good"))
    agent = make.user(None, "agent", username="prometheus")
    token_file = tmp_path / "token"
    token_file.write_text(token_for(make, agent, "inventory"))
    env = ProbeEnv(
        known_hosts=sshd.known_hosts("dashboards"), ssh_key=sshd.keys["client"], ssh_user=sshd.user
    )
    with serve_app(app) as base:
        running = collector(
            modules(pki),
            env=env,
            inventory_url=f"{base}/api/v1/inventory/targets",
            inventory_token_file=token_file,
            inventory_refresh_seconds=1.0,
        )
        scrape_address = running.url.removeprefix("http://").removesuffix("/metrics")
        desk_address = base.removeprefix("http://")
        prom_config = prometheus_config(scrape_address, desk_address, token_file)
        with run_prometheus(prom_config, tmp_path / "prom") as prom:
            deadline = time.monotonic() + WAIT_SECONDS
            missing = queries_without_data(prom)
            while missing and time.monotonic() < deadline:
                time.sleep(1)
                missing = queries_without_data(prom)
            up = prom.api("query", query="up")["result"]
            chosen = {name: resolve_variables(prom, model) for name, model in load().items()}
            probes = prom.api("query", query="probe_success")["result"]
    # The series carry the register's labels, read by the collector from the feed.
    by_ci = {s["metric"]["ci"]: s["metric"] for s in probes}
    assert set(by_ci) == {"intranett", "srv-sak", "portal"}
    assert by_ci["portal"]["kommune"] == "felles"
    assert by_ci["portal"]["kommuner"] == ",lillesand,vennesla,"
    assert by_ci["srv-sak"]["probe"] == "ssh" and by_ci["srv-sak"]["host"] == "127.0.0.1"
    # The variables resolve as Grafana would offer them: the kommune (never `felles`), the host.
    assert chosen["oversikt.json"] == {"kommune": kommune.slug}
    assert chosen["sjekker.json"] == {"kommune": kommune.slug}
    assert chosen["vert.json"] == {"instance": sshd.address}
    assert {s["metric"]["job"]: s["value"][1] for s in up} == {
        "fellesdrift-collectors": "1",
        "fellesdrift-servicedesk": "1",
    }
    assert not missing, "panels without data after {}s:\n{}".format(
        WAIT_SECONDS,
        "\n".join(f"  {q.dashboard} / {q.panel} ({q.ref}): {expr}" for q, expr in missing),
    )
