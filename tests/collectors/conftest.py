"""Collector fixtures: real servers on loopback (HTTP, HTTPS, DNS, sshd, a hung listener), a PKI,
and helpers to run a collector service and read its /metrics back. Each fixture stops what it
started."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from collectors.exposition import new_registry, serve
from collectors.probes import Probe
from collectors.scheduler import CollectorService, Settings
from tests.collectors.helpers import families
from tests.collectors.pki import PKI, make_pki
from tests.collectors.servers import DNSResponder, HTTPTarget, HungListener, InventoryFeed
from tests.collectors.sshd import SSHServer, start_sshd
from tests.rig.base import free_port


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def http_target() -> Iterator[HTTPTarget]:
    server = HTTPTarget()
    yield server
    server.stop()


@pytest.fixture
def https_target(pki: PKI) -> Iterator[Callable[[str], HTTPTarget]]:
    """``https_target(kind)``: an HTTPS server presenting ``good`` (leaf + intermediate),
    ``expired`` (expired leaf + intermediate), ``incomplete`` (leaf only), ``self_signed``, or
    ``tls12`` (good, but TLS 1.2 at most)."""
    chains = {
        "good": (pki.leaf, pki.intermediate),
        "expired": (pki.expired, pki.intermediate),
        "incomplete": (pki.leaf,),
        "self_signed": (pki.self_signed,),
        "tls12": (pki.leaf, pki.intermediate),
    }
    started: list[HTTPTarget] = []

    def start(kind: str) -> HTTPTarget:
        max_tls = ssl.TLSVersion.TLSv1_2 if kind == "tls12" else None
        server = HTTPTarget(*pki.server_files(kind, *chains[kind]), max_tls=max_tls)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def hung_target() -> Iterator[HungListener]:
    listener = HungListener()
    yield listener
    listener.stop()


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DNSResponder]:
    long_txt = [f'"{"v=fellesdrift-" + str(i) * 60}"' for i in range(10)]
    records = {
        ("www.kommune.test.", "A"): ["192.0.2.10", "192.0.2.11"],
        ("www.kommune.test.", "AAAA"): ["2001:db8::10"],
        ("kommune.test.", "MX"): ["10 mx1.kommune.test.", "20 mx2.kommune.test."],
        ("kommune.test.", "NS"): ["ns1.kommune.test."],
        ("kommune.test.", "SOA"): [DNSResponder.SOA],
        ("kommune.test.", "TXT"): ['"v=spf1 -all"'],
        ("portal.kommune.test.", "CNAME"): ["www.kommune.test."],
        ("big.kommune.test.", "TXT"): long_txt,
    }
    server = DNSResponder("kommune.test.", records)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHServer]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@dataclass
class RunningCollector:
    """A started CollectorService with /metrics served from a fresh registry on a free port."""

    service: CollectorService
    url: str
    targets_file: Path

    def metrics(self) -> dict[str, Metric]:
        return families(self.url)

    def samples(self, name: str) -> list[Sample]:
        """Samples named ``name`` (``x_total``, ``x_bucket``, ...) from a fresh scrape."""
        return [s for f in self.metrics().values() for s in f.samples if s.name == name]

    def write(self, config: dict[str, Any] | str) -> None:
        """Replace the targets file (a new inode and mtime, as an editor or config tool would)."""
        text = config if isinstance(config, str) else yaml.safe_dump(config)
        temporary = self.targets_file.with_suffix(".tmp")
        temporary.write_text(text)
        temporary.replace(self.targets_file)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Callable[..., RunningCollector]]:
    """``collector(config, probes=None, **settings)``: start a collector on a targets file."""
    started: list[tuple[CollectorService, Any, Any]] = []

    def start(
        config: dict[str, Any] | None = None,
        probes: dict[str, Probe] | None = None,
        **overrides: Any,
    ) -> RunningCollector:
        path = tmp_path / f"targets{len(started)}.yaml"
        path.write_text(yaml.safe_dump(config or {}))
        options: dict[str, Any] = {
            "targets_file": path,
            "file_check_seconds": 0.2,
            "concurrency": 8,
            "grace": 0.3,
            **overrides,
        }
        service = CollectorService(Settings(**options), probes)
        service.start()
        server, thread = serve(new_registry(service.store), f"127.0.0.1:{free_port()}")
        started.append((service, server, thread))
        return RunningCollector(service, f"http://127.0.0.1:{server.server_port}/metrics", path)

    yield start
    for service, server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        service.stop()


@pytest.fixture
def inventory_feed() -> Iterator[InventoryFeed]:
    feed = InventoryFeed("s3cret-inventory-token", [])
    yield feed
    feed.stop()
