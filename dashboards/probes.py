"""Tjenestesjekker: the probes of one kommune's services (blackbox_exporter names): status,
latency by phase, HTTP status, certificate expiry, DNS and TLS details."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from dashboards.common import (
    IN_KOMMUNE,
    SERVICE_PROBES,
    Grid,
    kommune_variable,
    new_dashboard,
    query,
    table_panel,
    thresholds,
    timeseries_panel,
    up_down_mapping,
)

UID = "fellesdrift-sjekker"
SERVICES = f"{IN_KOMMUNE}, {SERVICE_PROBES}"
DAY = 86400


def build() -> Dashboard:
    dashboard = new_dashboard(
        UID,
        "Tjenestesjekker",
        "HTTP-, TCP-, TLS- og DNS-sjekker for kommunens tjenester: status, svartid per fase, "
        "statuskoder og sertifikater.",
        ["sjekker", "blackbox_exporter"],
    ).with_variable(kommune_variable())
    grid = Grid(dashboard)
    _status(grid)
    _latency(grid)
    _tls(grid)
    return grid.dashboard


def _status(grid: Grid) -> None:
    grid.add(
        table_panel(
            "Status per sjekk",
            "Siste resultat per tjenestesjekk.",
            query(f"probe_success{{{SERVICES}}}", instant=True),
        ).mappings([up_down_mapping()]),
        12,
        8,
    )
    grid.add(
        table_panel(
            "HTTP-statuskode",
            "Statuskoden i siste svar fra hver HTTP-sjekk.",
            query(f"probe_http_status_code{{{IN_KOMMUNE}}}", instant=True),
        ),
        6,
        8,
    )
    grid.add(
        table_panel(
            "Feilede sjekker siste time",
            "Feilede sjekker per mål og årsak den siste timen (0 når ingen feilet).",
            query(
                "sum by (instance, reason) (increase(fellesdrift_collector_poll_errors_total"
                f"{{{SERVICES}}}[1h])) or on() vector(0)",
                instant=True,
            ),
        ),
        6,
        8,
    )


def _latency(grid: Grid) -> None:
    grid.add(
        timeseries_panel(
            "Svartid per sjekk",
            "Hvor lang tid hele sjekken tok.",
            query(f"probe_duration_seconds{{{SERVICES}}}", "{{instance}}"),
            unit="s",
        ),
        12,
        8,
    )
    grid.add(
        timeseries_panel(
            "HTTP-faser",
            "Tid per fase av HTTP-sjekkene (navneoppslag, tilkobling, TLS, behandling, "
            "overføring), snitt over kommunens sjekker.",
            query(
                f"avg by (phase) (probe_http_duration_seconds{{{IN_KOMMUNE}}})",
                "{{phase}}",
            ),
            unit="s",
        ),
        12,
        8,
    )
    grid.add(
        timeseries_panel(
            "Navneoppslag",
            "Tid brukt på DNS-oppslaget av målets navn.",
            query(f"probe_dns_lookup_time_seconds{{{SERVICES}}}", "{{instance}}"),
            unit="s",
        ),
        12,
        8,
    )


def _tls(grid: Grid) -> None:
    grid.add(
        table_panel(
            "Sertifikat utløper om",
            "Tid til det første sertifikatet som må fornyes utløper (aldri rotsertifikatet). "
            "Varselet CertificateExpiringSoon utløses under 21 dager.",
            query(
                f"probe_ssl_earliest_cert_expiry{{{IN_KOMMUNE}}} - time()",
                instant=True,
            ),
            unit="s",
        ).thresholds(thresholds((None, "red"), (7 * DAY, "orange"), (21 * DAY, "green"))),
        12,
        8,
    )
    grid.add(
        table_panel(
            "TLS-versjon",
            "TLS-versjonen tjenestene forhandlet fram ved siste sjekk.",
            query(f"probe_tls_version_info{{{IN_KOMMUNE}}}", instant=True),
        ),
        12,
        8,
    )
