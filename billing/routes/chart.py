"""A grouped bar chart drawn on the server as SVG (no script): two bars per kommune, each with
its amount written beside it, so the figure reads without colour; the page also shows the
same figures as a table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

LABEL_WIDTH = 170
BAR_AREA = 420
VALUE_WIDTH = 150
BAR_HEIGHT = 16
GROUP_GAP = 14
TOP = 8


@dataclass(frozen=True)
class Bar:
    series: str  # "a" or "b"
    x: int
    y: int
    width: int
    text: str
    text_x: int


@dataclass(frozen=True)
class Group:
    label: str
    label_y: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    groups: tuple[Group, ...]
    axis_x: int


def grouped_bars(
    rows: list[tuple[str, Decimal, Decimal]], fmt: object, names: tuple[str, str]
) -> Chart:
    """``rows``: (label, value of A, value of B). ``fmt`` writes an amount; ``names`` are the
    short names of the two series, written before each amount."""
    assert callable(fmt)
    top = max([max(a, b) for _, a, b in rows] + [Decimal(0)])
    groups = []
    y = TOP
    for label, a, b in rows:
        bars = []
        for i, (series, value) in enumerate((("a", a), ("b", b))):
            width = int(BAR_AREA * value / top) if top > 0 else 0
            bar_y = y + i * BAR_HEIGHT
            bars.append(
                Bar(
                    series,
                    LABEL_WIDTH,
                    bar_y,
                    max(width, 1),
                    f"{names[i]}: {fmt(value)}",
                    LABEL_WIDTH + width + 6,
                )
            )
        groups.append(Group(label, y + BAR_HEIGHT + 4, tuple(bars)))
        y += 2 * BAR_HEIGHT + GROUP_GAP
    return Chart(LABEL_WIDTH + BAR_AREA + VALUE_WIDTH, y + TOP, tuple(groups), LABEL_WIDTH)
