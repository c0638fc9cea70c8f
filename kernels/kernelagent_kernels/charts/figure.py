"""A figure, and each of its Axes, read into a chart: kind, text, axes and series."""

from __future__ import annotations

from typing import Any

from .notes import RECORDS
from .values import (
    artist_label,
    as_list,
    axis_converter,
    axis_scale,
    axis_ticks,
    make_series,
    round_position,
    text_or_none,
    wedge_fraction,
)


def figure_chart(fig: Any, max_points: int) -> dict[str, Any] | None:
    """The chart of `fig`, or None when it cannot be read (a figure is never refused for that)."""
    try:
        axes = [ax for ax in fig.get_axes() if ax.get_label() != "<colorbar>"]
        if not axes:
            return None
        charts = [axes_chart(ax, max_points) for ax in axes]
        suptitle = getattr(fig, "_suptitle", None)
        title = text_or_none(suptitle.get_text()) if suptitle is not None else None
        if len(charts) == 1:
            chart = charts[0]
            chart["title"] = chart["title"] or title
            return chart
        kinds = {c["kind"] for c in charts}
        return {
            **empty_chart(kinds.pop() if len(kinds) == 1 else "unknown", title, max_points),
            "truncated": any(c["truncated"] for c in charts),
            "subplots": charts,
        }
    except Exception:  # a chart we cannot read is simply absent; the PNG still goes out
        return None


def empty_chart(kind: str, title: str | None, max_points: int) -> dict[str, Any]:
    none_axis = {f"{a}_{k}": None for a in "xy" for k in ("label", "scale", "lim")}
    return {
        "kind": kind,
        "title": title,
        **none_axis,
        "x_ticks": [],
        "x_tick_labels": [],
        "y_ticks": [],
        "y_tick_labels": [],
        "series": [],
        "truncated": False,
        "max_points": max_points,
    }


def axes_chart(ax: Any, max_points: int) -> dict[str, Any]:
    """One Axes as a chart: its series (each read once) and its two axes."""
    series = axes_series(ax, max_points)
    kinds = {s["kind"] for s in series}
    kind = kinds.pop() if len(kinds) == 1 else "unknown"
    chart: dict[str, Any] = {"kind": kind, "title": text_or_none(ax.get_title())}
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        chart[f"{name}_label"] = text_or_none(axis.get_label_text())
        chart[f"{name}_scale"] = axis_scale(axis)
        lo, hi = sorted(axis.get_view_interval())
        convert = axis_converter(axis)
        chart[f"{name}_lim"] = [convert(lo), convert(hi)]
        ticks, labels = axis_ticks(axis)
        chart[f"{name}_ticks"], chart[f"{name}_tick_labels"] = ticks, labels
    chart["series"] = series
    chart["truncated"] = any(s["truncated"] for s in series)
    chart["max_points"] = max_points
    return chart


def axes_series(ax: Any, limit: int) -> list[dict[str, Any]]:
    from matplotlib.collections import PathCollection
    from matplotlib.container import BarContainer
    from matplotlib.patches import Wedge

    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    live = {id(a) for a in [*ax.lines, *ax.patches, *ax.collections]}
    for record in getattr(ax, RECORDS, []):
        if not any(id(a) in live for a in record["artists"]):
            continue  # cleared or removed since
        seen.update(id(a) for a in record["artists"])
        out.extend(record["read"](limit))
    xv, yv = axis_converter(ax.xaxis), axis_converter(ax.yaxis)
    for container in ax.containers:
        if isinstance(container, BarContainer) and not any(id(p) in seen for p in container.patches):
            seen.update(id(p) for p in container.patches)
            out.append(bar_series(ax, container, limit))
    wedges = [p for p in ax.patches if isinstance(p, Wedge) and id(p) not in seen]
    if wedges:  # a pie this module did not see drawn: only its fractions are known
        fractions = [wedge_fraction(w) for w in wedges]
        names = [artist_label(w) or i for i, w in enumerate(wedges)]
        out.append(
            make_series("pie", None, len(wedges), lambda i: [names[i], fractions[i]], limit, fractions=fractions)
        )
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and id(coll) not in seen:
            offsets = as_list(coll.get_offsets())
            label = artist_label(coll)
            out.append(
                make_series("scatter", label, len(offsets), lambda i, o=offsets: [xv(o[i][0]), yv(o[i][1])], limit)
            )
    for line in ax.get_lines():
        if id(line) not in seen:
            xs, ys = as_list(line.get_xdata()), as_list(line.get_ydata())
            n, label = min(len(xs), len(ys)), artist_label(line)
            out.append(make_series("line", label, n, lambda i, xs=xs, ys=ys: [xv(xs[i]), yv(ys[i])], limit))
    return out


def bar_series(ax: Any, container: Any, limit: int) -> dict[str, Any]:
    horizontal = getattr(container, "orientation", None) == "horizontal"
    at_axis, size_axis = (ax.yaxis, ax.xaxis) if horizontal else (ax.xaxis, ax.yaxis)
    at_value, size_value = axis_converter(at_axis), axis_converter(size_axis)
    rects = list(container.patches)
    values = as_list(container.datavalues) if getattr(container, "datavalues", None) is not None else None

    def point(i: int) -> list[Any]:
        r = rects[i]
        if horizontal:
            at, length = r.get_y() + r.get_height() / 2, r.get_width()
        else:
            at, length = r.get_x() + r.get_width() / 2, r.get_height()
        size = values[i] if values is not None and i < len(values) else length
        return [at_value(round_position(at)), size_value(size)]

    series = make_series("bar", artist_label(container), len(rects), point, limit)
    series["orientation"] = "horizontal" if horizontal else "vertical"
    return series
