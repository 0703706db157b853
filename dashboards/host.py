"""Vertsdetaljer: one host's metrics as the collectors read them over SSH, under node_exporter's
names (so "Node Exporter Full" works as well; this is the short version drift staff need)."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from dashboards.common import (
    Grid,
    label_variable,
    new_dashboard,
    query,
    stat_panel,
    table_panel,
    thresholds,
    timeseries_panel,
)

UID = "fellesdrift-vert"
HOST = 'instance="$instance"'
FILESYSTEMS = f"node_filesystem_avail_bytes{{{HOST}}}"


def build() -> Dashboard:
    dashboard = new_dashboard(
        UID,
        "Vertsdetaljer",
        "Last, CPU, minne, nettverk, disker og systemd-enheter for én vert, lest over SSH av "
        "innsamleren (node_exporter-navn).",
        ["vert", "node_exporter"],
    ).with_variable(label_variable("instance", "Vert", "node_uname_info"))
    grid = Grid(dashboard)
    _summary(grid)
    _resources(grid)
    _disks_and_units(grid)
    return grid.dashboard


def _summary(grid: Grid) -> None:
    grid.add(
        stat_panel(
            "Oppetid",
            "Tid siden siste oppstart (node_boot_time_seconds).",
            query(f"time() - node_boot_time_seconds{{{HOST}}}"),
            unit="s",
        ),
        6,
        4,
    )
    grid.add(
        stat_panel(
            "CPU-kjerner",
            "Antall logiske CPU-er.",
            query(f'count(node_cpu_seconds_total{{{HOST}, mode="idle"}})'),
        ),
        6,
        4,
    )
    grid.add(
        stat_panel(
            "Minne brukt",
            "Andel av minnet som ikke er tilgjengelig (MemAvailable).",
            query(
                f"1 - node_memory_MemAvailable_bytes{{{HOST}}} "
                f"/ node_memory_MemTotal_bytes{{{HOST}}}"
            ),
            unit="percentunit",
        ).thresholds(thresholds((None, "green"), (0.8, "orange"), (0.95, "red"))),
        6,
        4,
    )
    grid.add(
        table_panel(
            "Operativsystem",
            "Kjerne og distribusjon (node_uname_info, node_os_info).",
            query(f"node_uname_info{{{HOST}}}", instant=True),
            query(f"node_os_info{{{HOST}}}", instant=True, ref="B"),
        ),
        6,
        4,
    )


def _resources(grid: Grid) -> None:
    grid.add(
        timeseries_panel(
            "Last",
            "Gjennomsnittlig last over 1, 5 og 15 minutter.",
            query(f"node_load1{{{HOST}}}", "1 min"),
            query(f"node_load5{{{HOST}}}", "5 min", ref="B"),
            query(f"node_load15{{{HOST}}}", "15 min", ref="C"),
        ),
        8,
        8,
    )
    grid.add(
        timeseries_panel(
            "CPU-bruk",
            "Andel CPU-tid per modus (uten idle), alle kjerner samlet.",
            query(
                f'sum by (mode) (rate(node_cpu_seconds_total{{{HOST}, mode!="idle"}}'
                "[$__rate_interval])) / scalar(count(node_cpu_seconds_total"
                f'{{{HOST}, mode="idle"}}))',
                "{{mode}}",
            ),
            unit="percentunit",
        ),
        8,
        8,
    )
    grid.add(
        timeseries_panel(
            "Minne",
            "Totalt og tilgjengelig minne.",
            query(f"node_memory_MemTotal_bytes{{{HOST}}}", "totalt"),
            query(f"node_memory_MemAvailable_bytes{{{HOST}}}", "tilgjengelig", ref="B"),
            unit="bytes",
        ),
        8,
        8,
    )
    grid.add(
        timeseries_panel(
            "Prosesser og kontekstbytter",
            "Kjørende og blokkerte prosesser; kontekstbytter og nye prosesser per sekund.",
            query(f"node_procs_running{{{HOST}}}", "kjører"),
            query(f"node_procs_blocked{{{HOST}}}", "blokkert", ref="B"),
            query(
                f"rate(node_context_switches_total{{{HOST}}}[$__rate_interval])",
                "kontekstbytter/s",
                ref="C",
            ),
            query(f"rate(node_forks_total{{{HOST}}}[$__rate_interval])", "nye/s", ref="D"),
        ),
        12,
        8,
    )
    grid.add(
        timeseries_panel(
            "Nettverk",
            "Mottatte og sendte byte per sekund per nettverksgrensesnitt (/proc/net/dev; lo er "
            "vertens egen trafikk).",
            query(
                f"rate(node_network_receive_bytes_total{{{HOST}}}[$__rate_interval])",
                "{{device}} inn",
            ),
            query(
                f"rate(node_network_transmit_bytes_total{{{HOST}}}[$__rate_interval])",
                "{{device}} ut",
                ref="B",
            ),
            unit="Bps",
        ),
        12,
        8,
    )


def _disks_and_units(grid: Grid) -> None:
    grid.add(
        table_panel(
            "Diskbruk",
            "Brukt andel per filsystem (node_exporters standardutvalg av filsystemer).",
            query(
                f"1 - {FILESYSTEMS} / node_filesystem_size_bytes{{{HOST}}}",
                instant=True,
            ),
            unit="percentunit",
        ).thresholds(thresholds((None, "green"), (0.85, "orange"), (0.95, "red"))),
        12,
        8,
    )
    grid.add(
        timeseries_panel(
            "Disk-I/O",
            "Leste og skrevne byte per sekund per disk (/proc/diskstats; node_exporters "
            "standardutvalg: uten partisjoner, loop- og RAM-disker).",
            query(
                f"rate(node_disk_read_bytes_total{{{HOST}}}[$__rate_interval])",
                "{{device}} lest",
            ),
            query(
                f"rate(node_disk_written_bytes_total{{{HOST}}}[$__rate_interval])",
                "{{device}} skrevet",
                ref="B",
            ),
            unit="Bps",
        ),
        12,
        8,
    )
    grid.add(
        timeseries_panel(
            "Ledig diskplass med prognose",
            "Ledig plass per filsystem, og hvor mye som er ledig om 24 timer med takten fra "
            "siste 6 timer (under 0: disken blir full; varselet DiskFilling).",
            query(FILESYSTEMS, "{{mountpoint}}"),
            query(
                f"predict_linear({FILESYSTEMS}[6h], 24 * 3600)",
                "{{mountpoint}} om 24 t",
                ref="B",
            ),
            unit="bytes",
        ),
        12,
        8,
    )
    grid.add(
        stat_panel(
            "Feilede systemd-enheter",
            "Overvåkede systemd-enheter i tilstanden failed (varselet SystemdUnitFailed).",
            query(
                f'count(node_systemd_unit_state{{{HOST}, state="failed"}} == 1) or on() vector(0)'
            ),
        ).thresholds(thresholds((None, "green"), (1, "red"))),
        6,
        8,
    )
    grid.add(
        table_panel(
            "Systemd-enheter",
            "Nåværende tilstand for de overvåkede enhetene. Er ingen enheter lest, viser én rad "
            '"ingen enheter lest" om systemd-delen av rapporten lyktes (1) eller feilet (0: '
            "ingen systemd på verten, eller systemctl feiler).",
            query(
                f"node_systemd_unit_state{{{HOST}}} == 1 or on() label_replace("
                f'node_scrape_collector_success{{{HOST}, collector="systemd"}}, '
                '"state", "ingen enheter lest", "", "")',
                instant=True,
            ),
        ),
        18,
        8,
    )
