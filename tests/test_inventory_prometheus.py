"""The inventory feed as a real Prometheus reads it through http_sd_configs."""

from __future__ import annotations

from pathlib import Path

from register.schemas import TargetIn, UsageIn
from register.service import cmdb
from tests.support.servers import check_config, run_prometheus, serve_app

CONFIG = """
global:
  scrape_interval: 1h
scrape_configs:
  - job_name: fellesdrift-probes
    honor_labels: true
    http_sd_configs:
      - url: {feed}
        refresh_interval: 1s
        authorization:
          type: Bearer
          credentials_file: {token_file}
    metrics_path: /probe
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:9
"""


def test_prometheus_discovers_monitored_cis_with_their_labels(
    app, make, api, tmp_path: Path
) -> None:
    vennesla = make.kommune("Vennesla")
    iveland = make.kommune("Iveland")
    shared = make.ci(
        "epost",
        name="E-post",
        kind="fagsystem",
        classification="fellessystem",
        criticality="high",
        service="E-post",
    )
    own = make.ci(
        "hyttekart",
        name="Hyttekart",
        kind="fagsystem",
        classification="virksomhetsspesifikt",
        owner_kommune_id=iveland.id,
    )
    make.run(cmdb.set_usage, shared.id, UsageIn(kommune_id=vennesla.id, users_count=300))
    make.run(cmdb.set_usage, shared.id, UsageIn(kommune_id=iveland.id, users_count=40))
    make.run(cmdb.add_target, shared.id, TargetIn(probe="http", target="https://mail.example.no/"))
    make.run(cmdb.add_target, own.id, TargetIn(probe="tcp", target="kart.iveland.example:443"))
    agent = make.user(None, "agent", username="prometheus")
    token = api(agent, "inventory").headers["Authorization"].removeprefix("Bearer ")
    token_file = tmp_path / "token"
    token_file.write_text(token)

    with serve_app(app) as base:
        config = CONFIG.format(feed=f"{base}/api/v1/inventory/targets", token_file=token_file)
        (tmp_path / "check.yml").write_text(config)
        checked = check_config(tmp_path / "check.yml")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        with run_prometheus(config, tmp_path / "prom") as prom:
            targets = prom.wait_for(
                lambda: prom.api("targets")["activeTargets"], what="targets discovered"
            )
    by_instance = {t["labels"]["instance"]: t for t in targets}
    assert set(by_instance) == {"https://mail.example.no/", "kart.iveland.example:443"}
    mail = by_instance["https://mail.example.no/"]["labels"]
    assert mail["ci"] == "epost" and mail["probe"] == "http" and mail["criticality"] == "high"
    assert mail["service"] == "E-post"
    assert mail["kommune"] == "felles"
    assert mail["kommuner"] == f",{iveland.slug},{vennesla.slug},"
    kart = by_instance["kart.iveland.example:443"]["labels"]
    assert kart["kommune"] == iveland.slug and kart["probe"] == "tcp"
    # Hints for the collectors are dropped by Prometheus after relabelling.
    assert not any(k.startswith("__") for k in kart)
