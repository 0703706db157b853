"""The ``host`` label that the inhibition rules compare, as a real Prometheus derives it from the
collectors' ``instance`` with the scrape config of deploy/prometheus/prometheus.yml."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.deploy.servers import static_exposition
from tests.deploy.tools import PROMETHEUS_DIR, load_yaml
from tests.support.servers import run_prometheus

# instance as the collectors expose it -> the host it is about
CASES = {
    "https://intranett.lillesand.kommune.no/": "intranett.lillesand.kommune.no",
    "http://10.20.1.5:8080/helse?full=1": "10.20.1.5",
    "fellesdrift@srv-sak.iveland.local:22": "srv-sak.iveland.local",
    "srv-sak.iveland.local:22": "srv-sak.iveland.local",
    "10.20.1.7": "10.20.1.7",
    "[2001:db8::5]:443": "2001:db8::5",
    "https://[2001:db8::6]:8443/": "2001:db8::6",
    "ns1.kommune.no:53": "ns1.kommune.no",
}


def exposition() -> str:
    lines = ["# TYPE probe_success gauge"]
    for index, instance in enumerate(CASES):
        lines.append(f'probe_success{{instance="{instance}",ci="ci-{index}"}} 1')
    # A target that names its host itself (a label in the targets file) keeps it.
    lines.append('probe_success{instance="https://vip.example/",ci="vip",host="lb1"} 1')
    # The collector's own series have no instance of their own: they get the collector's.
    lines.append("# TYPE fellesdrift_collector_polls_in_flight gauge")
    lines.append("fellesdrift_collector_polls_in_flight 0")
    return "\n".join(lines) + "\n"


def collectors_job(address: str) -> dict[str, object]:
    """The deploy config's collector job, scraping ``address`` every second."""
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "fellesdrift-collectors")
    job = {k: v for k, v in job.items() if k != "file_sd_configs"}
    return {**job, "scrape_interval": "1s", "static_configs": [{"targets": [address]}]}


def test_host_is_derived_from_instance(tmp_path: Path) -> None:
    with static_exposition(exposition()) as address:
        config = yaml.safe_dump({"scrape_configs": [collectors_job(address)]})
        with run_prometheus(config, tmp_path / "prom") as prom:

            def scraped() -> list[dict[str, object]]:
                result: list[dict[str, object]] = prom.api("query", query="probe_success")["result"]
                return result if len(result) == len(CASES) + 1 else []

            series = prom.wait_for(scraped, 30, "the exposition scraped")
            own = prom.api("query", query="fellesdrift_collector_polls_in_flight")["result"]
    hosts = {s["metric"]["instance"]: s["metric"].get("host") for s in series}
    assert hosts == {**CASES, "https://vip.example/": "lb1"}
    assert own[0]["metric"]["instance"] == address
    assert own[0]["metric"]["host"] == "127.0.0.1"
    # honor_labels: the series keep their own instance, not the scrape address.
    assert address not in hosts
