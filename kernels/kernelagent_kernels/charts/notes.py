"""Wrappers of `Axes.pie`, `Axes.hist` and `Axes.bxp` that note on the axes the values they were
given, since their artists keep only derived geometry (wedge angles, bar rectangles, box lines)."""

from __future__ import annotations

import functools
from typing import Any

from .values import artist_label, as_list, json_value, make_series, text_or_none, wedge_fraction

RECORDS = "_kernelagent_chart_records"  # attribute of an Axes: what the wrapped methods noted


def note(ax: Any, artists: list[Any], read: Any) -> None:
    records = ax.__dict__.setdefault(RECORDS, [])
    records.append({"artists": [a for a in artists if a is not None], "read": read})


def on_pie(ax: Any, args: tuple, kwargs: dict, result: Any) -> None:
    x = as_list(kwargs["x"] if "x" in kwargs else args[0])
    wedges = list(result[0] if isinstance(result, tuple) else result.wedges)
    names = [artist_label(w) for w in wedges]

    def read(limit: int) -> list[dict[str, Any]]:
        fractions = [wedge_fraction(w) for w in wedges]
        return [
            make_series(
                "pie",
                None,
                len(x),
                lambda i: [names[i] if i < len(names) and names[i] else i, json_value(x[i])],
                limit,
                fractions=fractions,
            )
        ]

    note(ax, wedges, read)


def on_hist(ax: Any, args: tuple, kwargs: dict, result: Any) -> None:
    n, bins, patches = result
    multiple = len(n) > 0 and hasattr(n[0], "__len__")
    counts = list(n) if multiple else [n]
    groups = list(patches) if multiple else [patches]
    label = kwargs.get("label")
    labels = list(label) if isinstance(label, (list, tuple)) else [label] * len(counts)
    edges = [json_value(b) for b in as_list(bins)]
    for i, (count, group) in enumerate(zip(counts, groups, strict=False)):
        values = [json_value(c) for c in as_list(count)]
        name = labels[i] if i < len(labels) and labels[i] is not None else None

        def read(limit: int, values: list[Any] = values, name: Any = name) -> list[dict[str, Any]]:
            return [
                make_series(
                    "histogram",
                    None if name is None else str(name),
                    len(values),
                    lambda j: [edges[j], values[j]],
                    limit,
                    bin_edges=edges,
                )
            ]

        note(ax, list(group) if hasattr(group, "__iter__") else [group], read)


def on_bxp(ax: Any, args: tuple, kwargs: dict, result: Any) -> None:
    stats = list(kwargs["bxpstats"] if "bxpstats" in kwargs else args[0])
    positions = kwargs.get("positions")
    positions = list(positions) if positions is not None else list(range(1, len(stats) + 1))

    def read(limit: int) -> list[dict[str, Any]]:
        out = []
        for i, st in enumerate(stats):
            at = json_value(positions[i]) if i < len(positions) else i + 1
            fliers = as_list(st.get("fliers", []))
            label = text_or_none(str(st.get("label", "")))
            series = make_series("box", label, len(fliers), lambda j, f=fliers, at=at: [at, json_value(f[j])], limit)
            series["stats"] = {k: json_value(st[k]) for k in ("whislo", "q1", "med", "q3", "whishi", "mean") if k in st}
            out.append(series)
        return out

    note(ax, [a for artists in result.values() for a in artists], read)


def wrap_axes() -> None:
    from matplotlib.axes import Axes

    for name, note in (("pie", on_pie), ("hist", on_hist), ("bxp", on_bxp)):
        original = getattr(Axes, name)
        if getattr(original, "_kernelagent", False):
            continue

        def wrapper(self: Any, *args: Any, _original: Any = original, note: Any = note, **kwargs: Any) -> Any:
            result = _original(self, *args, **kwargs)
            try:
                note(self, args, kwargs, result)
            except Exception:  # noting is best effort: the plot itself is what the user asked for
                pass
            return result

        functools.update_wrapper(wrapper, original)
        wrapper._kernelagent = True  # type: ignore[attr-defined]
        setattr(Axes, name, wrapper)
