"""Oversikt per kommune: are this kommune's services and hosts up, what is firing, how many
tickets are open. The ``kommune`` variable takes in shared systems the kommune uses."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from dashboards.common import (
    HOST_PROBES,
    IN_KOMMUNE,
    SERVICE_PROBES,
    Grid,
    kommune_variable,
    new_dashboard,
    query,
    stat_panel,
    table_panel,
    thresholds,
    timeseries_panel,
    up_down_mapping,
)

UID = "fellesdrift-oversikt"
SERVICES = f"probe_success{{{IN_KOMMUNE}, {SERVICE_PROBES}}}"
HOSTS = f"probe_success{{{IN_KOMMUNE}, {HOST_PROBES}}}"
FIRING = f'ALERTS{{alertstate="firing", {IN_KOMMUNE}}}'


def build() -> Dashboard:
    dashboard = new_dashboard(
        UID,
        "Oversikt per kommune",
        "Tjenester, verter, aktive varsler og åpne saker for én kommune, med felles systemer "
        "kommunen bruker.",
        ["oversikt"],
    ).with_variable(kommune_variable())
    grid = Grid(dashboard)
    _summary(grid)
    _details(grid)
    return grid.dashboard


def _summary(grid: Grid) -> None:
    grid.add(
        stat_panel(
            "Tjenester oppe",
            "Andel av kommunens tjenestesjekker (http, tcp, tls, dns) som lyktes ved siste sjekk.",
            query(f"sum({SERVICES}) / count({SERVICES})"),
            unit="percentunit",
        ).thresholds(thresholds((None, "red"), (0.95, "orange"), (1, "green"))),
        6,
        4,
    )
    grid.add(
        stat_panel(
            "Verter oppe",
            "Verter som svarer på SSH eller ping, av alle kommunens overvåkede verter.",
            query(f"sum({HOSTS})", "oppe"),
            query(f"count({HOSTS})", "totalt", ref="B"),
        ),
        6,
        4,
    )
    grid.add(
        stat_panel(
            "Aktive varsler",
            "Varsler som utløses nå for kommunens systemer (0 når alt er i orden).",
            query(f"count({FIRING}) or on() vector(0)"),
        ).thresholds(thresholds((None, "green"), (1, "red"))),
        6,
        4,
    )
    grid.add(
        stat_panel(
            "Åpne saker",
            "Åpne saker i tjenestedesken for kommunen (ny, tildelt, under arbeid, venter).",
            query('sum(fellesdrift_tickets_open{kommune="$kommune"})'),
        ),
        6,
        4,
    )


def _details(grid: Grid) -> None:
    grid.add(
        table_panel(
            "Status nå",
            "Resultatet av siste sjekk for hver tjeneste og vert.",
            query(f"probe_success{{{IN_KOMMUNE}}}", instant=True),
        ).mappings([up_down_mapping()]),
        12,
        9,
    )
    grid.add(
        table_panel(
            "Tilgjengelighet siste 24 timer",
            "Andel vellykkede sjekker per tjeneste det siste døgnet.",
            query(
                f"avg by (service, instance) (avg_over_time({SERVICES}[24h]))",
                instant=True,
            ),
            unit="percentunit",
        ).thresholds(thresholds((None, "red"), (0.99, "orange"), (0.999, "green"))),
        12,
        9,
    )
    grid.add(
        timeseries_panel(
            "Tjenester og verter oppe over tid",
            "Antall tjenester og verter som svarte, over tid.",
            query(f"sum({SERVICES})", "tjenester oppe"),
            query(f"sum({HOSTS})", "verter oppe", ref="B"),
        ),
        12,
        8,
    )
    grid.add(
        table_panel(
            "Aktive varsler etter type",
            "Varsler som utløses nå, per varselnavn og alvorlighet (tom rad med 0 når ingen).",
            query(
                f"count by (alertname, severity) ({FIRING}) or on() vector(0)",
                instant=True,
            ),
        ),
        6,
        8,
    )
    grid.add(
        table_panel(
            "Åpne saker per prioritet",
            "Åpne saker for kommunen per prioritet (1 er høyest).",
            query(
                'sum by (priority) (fellesdrift_tickets_open{kommune="$kommune"})',
                instant=True,
            ),
        ),
        6,
        8,
    )
