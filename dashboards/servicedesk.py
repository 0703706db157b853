"""Tjenestedesk: open tickets by kommune and priority, created and resolved rates, SLA clocks at
risk and breaches, and the health of the service desk's outbox (from the service desk's own
/metrics)."""

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
)

UID = "fellesdrift-tjenestedesk"
OPEN = "fellesdrift_tickets_open"


def build() -> Dashboard:
    dashboard = new_dashboard(
        UID,
        "Tjenestedesk",
        "Åpne saker per kommune og prioritet, nye og løste saker, og e-postkøen.",
        ["tjenestedesk"],
    )
    grid = Grid(dashboard)
    _open(grid)
    _flow(grid)
    _sla(grid)
    _outbox(grid)
    return grid.dashboard


def _open(grid: Grid) -> None:
    grid.add(stat_panel("Åpne saker", "Alle åpne saker.", query(f"sum({OPEN})")), 6, 4)
    grid.add(
        stat_panel(
            "Åpne saker med prioritet 1",
            "Åpne saker med høyeste prioritet.",
            query(f'sum({OPEN}{{priority="1"}})'),
        ).thresholds(thresholds((None, "green"), (1, "red"))),
        6,
        4,
    )
    grid.add(
        stat_panel(
            "Åpne hendelser",
            "Åpne saker av typen hendelse (incident).",
            query(f'sum({OPEN}{{type="incident"}})'),
        ),
        6,
        4,
    )
    grid.add(
        stat_panel(
            "Metrikker lest",
            "1 når tjenestedesken fikk lest tallene fra databasen.",
            query("min(fellesdrift_servicedesk_metrics_up)"),
        ).thresholds(thresholds((None, "red"), (1, "green"))),
        6,
        4,
    )
    grid.add(
        table_panel(
            "Åpne saker per kommune og prioritet",
            "Åpne saker per kommune (felles: saker uten én kommune) og prioritet.",
            query(f"sum by (kommune, priority) ({OPEN})", instant=True),
        ),
        12,
        10,
    )
    grid.add(
        timeseries_panel(
            "Åpne saker per kommune",
            "Åpne saker per kommune over tid.",
            query(f"sum by (kommune) ({OPEN})", "{{kommune}}"),
        ),
        12,
        10,
    )


def _flow(grid: Grid) -> None:
    grid.add(
        timeseries_panel(
            "Nye og løste saker per time",
            "Saker opprettet og løst per time, alle kommuner.",
            query("sum(increase(fellesdrift_tickets_created_total[1h]))", "opprettet"),
            query("sum(increase(fellesdrift_tickets_resolved_total[1h]))", "løst", ref="B"),
        ),
        12,
        8,
    )
    grid.add(
        table_panel(
            "Nye og løste saker siste døgn per kommune",
            "Saker opprettet og løst det siste døgnet, per kommune.",
            query(
                "sum by (kommune) (increase(fellesdrift_tickets_created_total[1d]))",
                "opprettet",
                instant=True,
            ),
            query(
                "sum by (kommune) (increase(fellesdrift_tickets_resolved_total[1d]))",
                "løst",
                instant=True,
                ref="B",
            ),
        ),
        12,
        8,
    )


def _sla(grid: Grid) -> None:
    """Tjenesteavtalene: frister nær brudd nå og brudd siste døgn, per kommune og prioritet."""
    grid.add(
        stat_panel(
            "Frister nær brudd",
            "Løpende frister (svar og løsning) som har passert en varslingsgrense og ennå ikke "
            "er forfalt.",
            query("sum(fellesdrift_sla_clocks_at_risk)"),
        ).thresholds(thresholds((None, "green"), (1, "orange"))),
        6,
        8,
    )
    grid.add(
        stat_panel(
            "Brudd på tjenesteavtalen siste døgn",
            "Frister (svar og løsning) som ble brutt det siste døgnet.",
            query("sum(increase(fellesdrift_sla_breaches_total[1d]))"),
        ).thresholds(thresholds((None, "green"), (1, "red"))),
        6,
        8,
    )
    grid.add(
        table_panel(
            "Frister nær brudd og brudd per kommune og prioritet",
            "Frister nær brudd nå, og brudd det siste døgnet, per kommune og prioritet.",
            query(
                "sum by (kommune, priority) (fellesdrift_sla_clocks_at_risk)",
                "nær brudd",
                instant=True,
            ),
            query(
                "sum by (kommune, priority) (increase(fellesdrift_sla_breaches_total[1d]))",
                "brudd",
                instant=True,
                ref="B",
            ),
        ),
        12,
        8,
    )


def _outbox(grid: Grid) -> None:
    grid.add(
        timeseries_panel(
            "E-postkø",
            "Varsler som venter på sending, og varsler det er gitt opp (se /api/v1/outbox).",
            query("sum(fellesdrift_outbox_pending)", "venter"),
            query("sum(fellesdrift_outbox_failed)", "gitt opp", ref="B"),
        ),
        12,
        8,
    )
    grid.add(
        stat_panel(
            "Eldste ventende e-post",
            "Alderen på den eldste e-posten i køen (varselet OutboxStuck over en time).",
            query("max(fellesdrift_outbox_oldest_pending_age_seconds)"),
            unit="s",
        ).thresholds(thresholds((None, "green"), (600, "orange"), (3600, "red"))),
        12,
        8,
    )
