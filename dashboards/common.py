"""Building blocks shared by the dashboards: the Prometheus data source variable, queries, the
panel kinds we use, a grid that places panels left to right, and the JSON encoding.

Panel titles are in Norwegian bokmål (drift staff read them); descriptions say in bokmål what
the panel shows and where the numbers come from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.builders.common import (
    ReduceDataOptions,
    VizLegendOptions,
    VizTooltipOptions,
)
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DashboardLink,
    DatasourceVariable,
    QueryVariable,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TableCellHeight,
    TooltipDisplayMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    GridPos,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
GRID_WIDTH = 24
#: Series of one kommune: its own systems and the shared ones it uses (the inventory's
#: ``kommuner`` label lists every owner and user between commas).
IN_KOMMUNE = 'kommuner=~".*,$kommune,.*"'
#: Probes that tell whether a host is up, as the HostDown rule counts them.
HOST_PROBES = 'probe=~"ssh|icmp"'
SERVICE_PROBES = 'probe!~"ssh|icmp"'
#: Columns a table of instant results need not show: the time, the metric name, the scrape job
#: and the inventory's bookkeeping labels.
HIDDEN_COLUMNS = ("Time", "__name__", "job", "kommuner", "ci_kind", "le")


def query(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> Dataquery:
    target = Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        target = target.legend_format(legend)
    return target.instant().format(PromQueryFormat.TABLE) if instant else target.range()


def thresholds(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    """``(None, "green"), (0.9, "red")``: the base colour, then a colour from each value on."""
    return (
        ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def up_down_mapping() -> ValueMap:
    return ValueMap(
        options={
            "1": ValueMappingResult(text="Oppe", color="green", index=0),
            "0": ValueMappingResult(text="Nede", color="red", index=1),
        }
    )


def stat_panel(title: str, description: str, *targets: Dataquery, unit: str = "short") -> Any:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .graph_mode(BigValueGraphMode.AREA)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
    )
    for target in targets:
        panel = panel.with_target(target)
    return panel


def timeseries_panel(title: str, description: str, *targets: Dataquery, unit: str = "short") -> Any:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .fill_opacity(10)
        .line_width(1)
        .legend(
            VizLegendOptions()
            .show_legend(True)
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.BOTTOM)
            .calcs([])
        )
        .tooltip(VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING))
    )
    for target in targets:
        panel = panel.with_target(target)
    return panel


def table_panel(title: str, description: str, *targets: Dataquery, unit: str = "short") -> Any:
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .cell_height(TableCellHeight.SM)
        # Colour the values by their thresholds and value mappings (Oppe/Nede).
        .override_by_regexp(
            "Value.*",
            [DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-text"})],
        )
        .with_transformation(
            DataTransformerConfig(
                id_val="organize",
                options={"excludeByName": dict.fromkeys(HIDDEN_COLUMNS, True)},
            )
        )
    )
    for target in targets:
        panel = panel.with_target(target)
    return panel


def datasource_variable() -> DatasourceVariable:
    return DatasourceVariable("datasource").label("Datakilde").type("prometheus")


def label_variable(name: str, label: str, metric: str, regex: str = "") -> QueryVariable:
    """A variable whose values are those of ``name`` on ``metric`` (label_values), kept if
    they match ``regex`` (a JavaScript regex, as Grafana applies it)."""
    variable = (
        QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(f"label_values({metric}, {name})")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    return variable.regex(regex) if regex else variable


def kommune_variable() -> QueryVariable:
    """The kommuner the service desk knows (its metrics list every one), without ``felles``:
    shared systems show up under each kommune that uses them."""
    return label_variable("kommune", "Kommune", "fellesdrift_tickets_open", "/^(?!felles$).+$/")


def new_dashboard(uid: str, title: str, description: str, tags: Iterable[str]) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["fellesdrift", *tags])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("browser")
        .editable()
        .link(
            # The other fellesdrift dashboards, keeping the time range and the kommune.
            DashboardLink("fellesdrift")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["fellesdrift"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(datasource_variable())
    )


class Grid:
    """Places panels left to right in rows of 24 columns and numbers them."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.x = self.y = self.row_height = 0
        self.next_id = 1

    def add(self, panel: Any, width: int, height: int) -> Grid:
        if self.x + width > GRID_WIDTH:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel = panel.id(self.next_id).grid_pos(GridPos(h=height, w=width, x=self.x, y=self.y))
        self.dashboard = self.dashboard.with_panel(panel)
        self.next_id += 1
        self.x += width
        self.row_height = max(self.row_height, height)
        return self


def to_json(dashboard: Dashboard) -> str:
    """The dashboard as Grafana's JSON model, stable for review and comparison."""
    model = json.loads(json.dumps(dashboard.build(), cls=JSONEncoder))
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
