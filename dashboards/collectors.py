"""Innsamlere: the health of the collectors themselves (``fellesdrift_collector_*``): are they
scraped, do they keep up with their schedule, what fails and why, are their sources readable."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from dashboards.common import (
    Grid,
    new_dashboard,
    query,
    stat_panel,
    table_panel,
    thresholds,
    timeseries_panel,
    up_down_mapping,
)

UID = "fellesdrift-innsamlere"
P = "fellesdrift_collector_"
RATE = "[$__rate_interval]"


def build() -> Dashboard:
    dashboard = new_dashboard(
        UID,
        "Innsamlere",
        "Helsen til innsamlerne: skraping, planlegging, sjekker og feil, målkilder.",
        ["innsamlere"],
    )
    grid = Grid(dashboard)
    _summary(grid)
    _work(grid)
    _sources(grid)
    return grid.dashboard


def _summary(grid: Grid) -> None:
    grid.add(
        table_panel(
            "Innsamlere oppe",
            "Om Prometheus får skrapt hver innsamler (varselet CollectorDown).",
            query('up{job="fellesdrift-collectors"}', instant=True),
        ).mappings([up_down_mapping()]),
        8,
        6,
    )
    grid.add(
        stat_panel(
            "Mål",
            "Mål innsamlerne sjekker, alle shards.",
            query(f"sum({P}targets)"),
        ),
        4,
        6,
    )
    grid.add(
        stat_panel(
            "Mål nede (hard)",
            "Mål som har feilet så mange ganger på rad at de regnes som nede.",
            query(f'sum({P}target_state{{state="hard_down"}})'),
        ).thresholds(thresholds((None, "green"), (1, "red"))),
        4,
        6,
    )
    grid.add(
        stat_panel(
            "Eldste resultat",
            "Lengste tid siden et mål sist ble sjekket (varselet CollectorStale over 15 min).",
            query(f"time() - min({P}last_poll_timestamp_seconds)"),
            unit="s",
        ).thresholds(thresholds((None, "green"), (300, "orange"), (900, "red"))),
        4,
        6,
    )
    grid.add(
        stat_panel(
            "Pågående sjekker",
            "Sjekker som kjører nå, alle innsamlere.",
            query(f"sum({P}polls_in_flight)"),
        ),
        4,
        6,
    )


def _work(grid: Grid) -> None:
    grid.add(
        timeseries_panel(
            "Sjekker per sekund",
            "Fullførte sjekker per sekund per innsamler.",
            query(f"sum by (job) (rate({P}polls_total{RATE}))", "sjekker/s"),
            unit="ops",
        ),
        8,
        8,
    )
    grid.add(
        timeseries_panel(
            "Feil per årsak",
            "Feilede sjekker per sekund etter årsak (tidsavbrudd, avvist, innlogging, "
            "vertsnøkkel, ...); 0 når ingen feiler.",
            query(
                f"sum by (reason) (rate({P}poll_errors_total{RATE})) or on() vector(0)",
                "{{reason}}",
            ),
            unit="ops",
        ),
        8,
        8,
    )
    grid.add(
        timeseries_panel(
            "Sjekketid per type (p95)",
            "95-persentilen av sjekketiden per sjekktype.",
            query(
                "histogram_quantile(0.95, sum by (le, probe) "
                f"(rate({P}poll_duration_seconds_bucket{RATE})))",
                "{{probe}}",
            ),
            unit="s",
        ),
        8,
        8,
    )
    grid.add(
        timeseries_panel(
            "Planleggerforsinkelse (p95)",
            "Hvor sent sjekkene starter etter planlagt tid; høy verdi betyr at innsamleren "
            "ikke rekker over målene sine.",
            query(
                "histogram_quantile(0.95, sum by (le, instance) "
                f"(rate({P}scheduler_lag_seconds_bucket{RATE})))",
                "{{instance}}",
            ),
            unit="s",
        ),
        12,
        8,
    )
    grid.add(
        timeseries_panel(
            "Hoppet over og avbrutt",
            "Sjekker som ikke ble kjørt (forrige kjører fortsatt, tapt) og sjekker som ble "
            "avbrutt etter fristen.",
            query(f"sum by (reason) (rate({P}polls_skipped_total{RATE}))", "{{reason}}"),
            query(f"sum(rate({P}polls_abandoned_total{RATE}))", "avbrutt", ref="B"),
            unit="ops",
        ),
        12,
        8,
    )


def _sources(grid: Grid) -> None:
    grid.add(
        table_panel(
            "Målkilder",
            "Om siste innlesing av hver målkilde (fil, inventar) lyktes.",
            query(f"{P}config_last_reload_successful", instant=True),
        ).mappings([up_down_mapping()]),
        12,
        8,
    )
    grid.add(
        table_panel(
            "Ugyldige mål",
            "Oppføringer i målkildene som avvises, med grunnen (0 når alle er gyldige).",
            query(
                f"sum by (source, entry, message) ({P}config_errors) or on() vector(0)",
                instant=True,
            ),
        ),
        12,
        8,
    )
