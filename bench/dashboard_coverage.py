"""How many queries of a node_exporter dashboard get data: the SSH collector against
node_exporter itself, on the same host, through the same Prometheus.

    python -m bench.dashboard_coverage path/to/node-exporter-full.json [--wait 60]

The dashboard is not part of this repository: give the path of a downloaded copy ("Node Exporter
Full", grafana.com dashboard 1860, is published in rfmoz/grafana-dashboards as
prometheus/node-exporter-full.json). Started here on loopback, in a temporary directory:

* sshd (bench.loopback) and the collector (``python -m collectors.cli``) polling this machine
  over SSH every 5 s, as job ``ssh``;
* Debian's node_exporter with its defaults, as job ``node``;
* Prometheus scraping both every second.

After ``--wait`` seconds every panel query is evaluated once per job, with ``$job`` and ``$node``
set to that job and its instance and ``$__rate_interval`` to 20 s (four polls); a query "gets
data" when it returns at least one sample that is not NaN. The report gives the count per
dashboard row for both jobs, and the queries only node_exporter answers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import loopback
from bench.loopback import free_port, node_exporter, sshd, stop, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = "/usr/bin/prometheus"
RATE_INTERVAL = "20s"


def queries(model: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(row, panel title, expression) of every panel query, rows in dashboard order."""
    found: list[tuple[str, str, str]] = []

    def walk(panels: list[dict[str, Any]], row: str) -> str:
        for panel in panels:
            if panel.get("type") == "row":
                row = panel.get("title", "")
                walk(panel.get("panels", []), row)
                continue
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((row, panel.get("title", ""), target["expr"]))
        return row

    walk(model["panels"], "")
    return found


@contextlib.contextmanager
def collector(directory: Path, server: Any, port: int) -> Iterator[str]:
    targets = directory / "targets.yaml"
    targets.write_text(
        yaml.safe_dump(
            {
                "targets": [
                    {
                        "target": server.address,
                        "probe": "ssh",
                        "interval_seconds": 5,
                        "timeout_seconds": 4,
                        "options": {"units": ["ssh.service", "cron.service"]},
                    }
                ]
            }
        )
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collectors.cli",
            "--targets-file",
            str(targets),
            "--listen",
            f"127.0.0.1:{port}",
            "--known-hosts",
            str(server.known_hosts),
            "--ssh-key",
            str(server.key),
            "--ssh-user",
            server.user,
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, "collector")
        yield server.address
    finally:
        stop(process)


def prometheus(directory: Path, jobs: dict[str, int]) -> Any:
    """A Prometheus scraping each job's loopback port every second; yields its URL."""
    return loopback.prometheus(
        directory,
        {
            "global": {"scrape_interval": "1s", "scrape_timeout": "900ms"},
            "scrape_configs": [
                {
                    "job_name": job,
                    "honor_labels": True,
                    "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                }
                for job, port in jobs.items()
            ],
        },
    )


def has_data(client: httpx.Client, expr: str) -> bool:
    response = client.get("/api/v1/query", params={"query": expr})
    if response.status_code != 200:
        return False
    result = response.json()["data"]["result"]
    if isinstance(result, list):
        return any(not math.isnan(float(sample["value"][1])) for sample in result)
    return bool(result)


def measure(dashboard: Path, wait: float) -> dict[str, list[bool]]:
    model = json.loads(dashboard.read_text())
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-dash-")))
        server = stack.enter_context(sshd(tmp))
        ours_port, node_port = free_port(), free_port()
        ours = stack.enter_context(collector(tmp, server, ours_port))
        stack.enter_context(node_exporter(tmp, node_port))
        url = stack.enter_context(prometheus(tmp, {"ssh": ours_port, "node": node_port}))
        client = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        time.sleep(wait)
        instances = {"ssh": ours, "node": f"127.0.0.1:{node_port}"}
        results: dict[str, list[bool]] = {}
        for job, instance in instances.items():
            results[job] = [
                has_data(client, _substitute(expr, job, instance)) for _, _, expr in queries(model)
            ]
    return results


def _substitute(expr: str, job: str, instance: str) -> str:
    for name, value in (
        ("$__rate_interval", RATE_INTERVAL),
        ("${node}", instance),
        ("$node", instance),
        ("${job}", job),
        ("$job", job),
    ):
        expr = expr.replace(name, value)
    return expr


def report(dashboard: Path, results: dict[str, list[bool]]) -> str:
    model = json.loads(dashboard.read_text())
    found = queries(model)
    lines = [
        f"{model.get('title')} (version {model.get('version')}): {len(found)} queries",
        "| row | queries | ours (SSH) | node_exporter 1.5.0 |",
        "|---|---|---|---|",
    ]
    rows = list(dict.fromkeys(row for row, _, _ in found))
    for row in rows:
        index = [i for i, (r, _, _) in enumerate(found) if r == row]
        ours = sum(results["ssh"][i] for i in index)
        node = sum(results["node"][i] for i in index)
        lines.append(f"| {row or '(top)'} | {len(index)} | {ours} | {node} |")
    lines.append(
        f"| **all** | {len(found)} | **{sum(results['ssh'])}** | **{sum(results['node'])}** |"
    )
    only = [
        found[i]
        for i, (o, n) in enumerate(zip(results["ssh"], results["node"], strict=True))
        if n and not o
    ]
    lines.append(f"Answered by node_exporter only ({len(only)}):")
    lines += [f"- {row} / {panel}: `{expr}`" for row, panel, expr in only]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dashboard", type=Path)
    parser.add_argument("--wait", type=float, default=60)
    args = parser.parse_args()
    print(report(args.dashboard, measure(args.dashboard, args.wait)))


if __name__ == "__main__":
    main()
