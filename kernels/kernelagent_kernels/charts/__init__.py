"""Charts as data: a matplotlib figure read from its artists into a structured chart.

Runs inside the Python kernel. `install` (called at warm-up) registers a display formatter for
matplotlib figures, so every figure shown (the inline backend's flush, `plt.show()`, a figure as a
cell's value) carries `application/vnd.kernelagent.chart+json` beside its PNG: the kind (line,
scatter, bar, pie, box, histogram or unknown), title, axis labels, scales, ticks and limits, and
each series with its label and points. A series longer than `max_points` is an evenly spaced
sample of it, and says so (`truncated`, `total_points`).

Lines, scatters and bars keep the exact data plotted (`Line2D` data, collection offsets, a bar
container's `datavalues`). Pies, histograms and box plots keep only derived geometry in their
artists, so `install` also wraps `Axes.pie`, `Axes.hist` and `Axes.bxp` to note the values they
were given on the axes (wrappers that never change what the originals return).
"""

from __future__ import annotations

from typing import Any

from .figure import figure_chart
from .notes import wrap_axes

MIME = "application/vnd.kernelagent.chart+json"

__all__ = ["MIME", "figure_chart", "install"]


def install(ip: Any, max_points: int) -> None:
    """Register the chart formatter in IPython `ip` (again: only the limit changes) and wrap the
    Axes methods whose artists lose the values they were given."""
    from IPython.core.formatters import BaseFormatter
    from matplotlib.figure import Figure
    from traitlets import ObjectName, Unicode

    class ChartFormatter(BaseFormatter):
        """The structured chart of a matplotlib figure, as its own MIME type."""

        format_type = Unicode(MIME)
        _return_type = (dict,)
        print_method = ObjectName("_repr_kernelagent_chart_")

    formatters = ip.display_formatter.formatters
    if MIME not in formatters:
        formatters[MIME] = ChartFormatter(parent=ip.display_formatter)
    formatters[MIME].for_type(Figure, lambda fig: figure_chart(fig, max_points))
    wrap_axes()
