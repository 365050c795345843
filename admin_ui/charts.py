"""Bar charts as plain geometry for server-rendered SVG (``templates/_charts.html``).

No JavaScript and no chart library: a chart is a title, a description (read by screen readers
with the chart, beside the table of the same numbers that each chart has on the page) and bars
with their coordinates in the SVG's own units. Every bar carries its label and its number as
text, so nothing is told by colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# SVG user units; the SVG scales to its container's width.
WIDTH = 640
LABEL_WIDTH = 190
VALUE_WIDTH = 90
ROW_HEIGHT = 26
BAR_HEIGHT = 18
COLUMN_AREA_HEIGHT = 160
AXIS_LABEL_HEIGHT = 34
TOP_MARGIN = 18

Item = tuple[str, float | None, str]  # (label, value, the value as shown)


@dataclass(frozen=True)
class Bar:
    """One bar: its label and shown value, and where it is drawn."""

    label: str
    text: str
    x: float
    y: float
    width: float
    height: float
    show_label: bool = True


@dataclass(frozen=True)
class Chart:
    """A chart ready to draw: ``kind`` is ``rows`` (horizontal bars) or ``columns``."""

    id: str
    title: str
    description: str
    kind: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    baseline_y: float = 0

    @property
    def empty(self) -> bool:
        """True when there is nothing to draw."""
        return not self.bars


def _scale(items: Sequence[Item], maximum: float | None) -> float:
    top = maximum if maximum is not None else max((v or 0 for _, v, _ in items), default=0)
    return top if top > 0 else 1.0


def rows(
    chart_id: str,
    title: str,
    description: str,
    items: Sequence[Item],
    *,
    maximum: float | None = None,
) -> Chart:
    """Horizontal bars, one row per item, longest for the largest value (or ``maximum``)."""
    top = _scale(items, maximum)
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = tuple(
        Bar(
            label=label,
            text=text,
            x=LABEL_WIDTH,
            y=index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
            width=round(room * min(value or 0, top) / top, 1),
            height=BAR_HEIGHT,
        )
        for index, (label, value, text) in enumerate(items)
    )
    return Chart(chart_id, title, description, "rows", WIDTH, len(items) * ROW_HEIGHT, bars)


def columns(
    chart_id: str,
    title: str,
    description: str,
    items: Sequence[Item],
    *,
    maximum: float | None = None,
    label_every: int = 1,
) -> Chart:
    """Vertical bars left to right (days, weeks, buckets); every ``label_every``th is labelled
    under the axis (each bar's own label and value are in its tooltip title)."""
    top = _scale(items, maximum)
    slot = WIDTH / max(len(items), 1)
    baseline = TOP_MARGIN + COLUMN_AREA_HEIGHT
    bars = []
    for index, (label, value, text) in enumerate(items):
        height = round(COLUMN_AREA_HEIGHT * min(value or 0, top) / top, 1)
        bars.append(
            Bar(
                label=label,
                text=text,
                x=round(index * slot + slot * 0.15, 1),
                y=round(baseline - height, 1),
                width=round(slot * 0.7, 1),
                height=height,
                show_label=index % label_every == 0,
            )
        )
    height = TOP_MARGIN + COLUMN_AREA_HEIGHT + AXIS_LABEL_HEIGHT
    return Chart(chart_id, title, description, "columns", WIDTH, height, tuple(bars), baseline)
