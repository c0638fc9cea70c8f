"""A figure as data: the structured chart that travels beside a matplotlib figure's PNG.

Read inside the Python kernel by `kernelagent_kernels.charts` (MIME type
`application/vnd.kernelagent.chart+json`); the /execute answer repeats the first one as `chart`.
"""

from __future__ import annotations

from typing import Any, NotRequired

from typing_extensions import TypedDict


class ChartSeries(TypedDict):
    """One series: what one plotting call drew, at most `max_points` of its points (evenly spaced)."""

    kind: str  # line, scatter, bar, pie, box or histogram
    label: str | None
    points: list[list[Any]]  # [x, y]; pie: [label, value]; histogram: [bin start, count]; box: [position, flier]
    total_points: int
    truncated: bool  # points is a sample of total_points
    orientation: NotRequired[str]  # bars: vertical or horizontal ([y, width] when horizontal)
    fractions: NotRequired[list[float]]  # pie: each wedge's share of the whole
    bin_edges: NotRequired[list[Any]]  # histogram
    stats: NotRequired[dict[str, Any]]  # box: whislo, q1, med, q3, whishi, mean


class AxesChart(TypedDict):
    """One set of axes: its kind (the kind of all its series, else unknown), text, axes and series."""

    kind: str  # line, scatter, bar, pie, box, histogram or unknown
    title: str | None
    x_label: str | None
    y_label: str | None
    x_scale: str | None  # linear, log, symlog, logit, categorical or datetime
    y_scale: str | None
    x_lim: list[Any] | None
    y_lim: list[Any] | None
    x_ticks: list[Any]
    y_ticks: list[Any]
    x_tick_labels: list[str]
    y_tick_labels: list[str]
    series: list[ChartSeries]
    truncated: bool  # some series was sampled
    max_points: int


class Chart(AxesChart):
    """A figure: its one set of axes, or (several) the figure's title and each set in `subplots`."""

    subplots: NotRequired[list[AxesChart]]
