"""The building blocks of a chart: series sampled to a bound, axes' scales and ticks, and values
turned into JSON (numbers, categories, ISO dates)."""

from __future__ import annotations

import datetime
import math
from typing import Any

MAX_TICKS = 50


def make_series(kind: str, label: Any, n: int, point: Any, limit: int, **extra: list[Any]) -> dict[str, Any]:
    """A series of `n` points (`point(i)` reads the i-th), at most `limit` of them kept."""
    kept = sample_indices(n, limit)
    sampled = {name: [values[i] for i in sample_indices(len(values), limit)] for name, values in extra.items()}
    points = [point(i) for i in kept]
    return {"kind": kind, "label": label, "points": points, "total_points": n, "truncated": len(kept) < n, **sampled}


def sample_indices(n: int, limit: int) -> list[int]:
    """At most `limit` of `n` indices, evenly spaced, the first and the last kept."""
    if n <= limit:
        return list(range(n))
    if limit <= 1:
        return list(range(max(limit, 0)))
    return [round(i * (n - 1) / (limit - 1)) for i in range(limit)]


def wedge_fraction(wedge: Any) -> float:
    return round((wedge.theta2 - wedge.theta1) / 360.0, 12)


def axis_ticks(axis: Any) -> tuple[list[Any], list[str]]:
    lo, hi = sorted(axis.get_view_interval())
    slack = 1e-9 * abs(hi - lo)
    locs = [t for t in axis.get_majorticklocs() if lo - slack <= t <= hi + slack][:MAX_TICKS]
    try:
        labels = [str(s).replace("\u2212", "-") for s in axis.get_major_formatter().format_ticks(locs)]
    except Exception:  # a formatter that needs a drawn figure: the positions say enough
        labels = []
    convert = axis_converter(axis)
    return [convert(round_position(t)) for t in locs], labels


def axis_scale(axis: Any) -> str:
    kind = axis_kind(axis)
    return kind if kind != "numeric" else str(axis.get_scale())


def axis_kind(axis: Any) -> str:
    from matplotlib import category

    if isinstance(axis.get_units(), category.UnitData):
        return "categorical"
    converter = axis.get_converter() if hasattr(axis, "get_converter") else getattr(axis, "converter", None)
    if converter is not None and "DateConverter" in type(converter).__name__:
        return "datetime"
    return "numeric"


def axis_converter(axis: Any) -> Any:
    """A function from a value on `axis` to JSON: a position on a categorical axis as its category,
    on a date axis as an ISO date; anything else as `json_value` has it."""
    kind = axis_kind(axis)
    if kind == "categorical":
        names = {i: k for k, i in axis.get_units()._mapping.items()}

        def category(v: Any) -> Any:
            v = json_value(v)
            return names.get(round(v), v) if isinstance(v, (int, float)) else v

        return category
    if kind == "datetime":
        from matplotlib import dates

        def date(v: Any) -> Any:
            v = json_value(v)
            return dates.num2date(v).isoformat() if isinstance(v, (int, float)) else v

        return date
    return json_value


def json_value(v: Any) -> Any:
    """A JSON value: numbers as numbers (NaN and infinities as null), dates as ISO text."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()  # numpy scalars, datetime64 included
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    return str(v)


def round_position(v: float) -> float:
    """Positions the reading computes (a bar's centre): twelve significant digits, so 0.6 stays 0.6."""
    return float(f"{float(v):.12g}")


def as_list(values: Any) -> list[Any]:
    import numpy as np

    if isinstance(values, np.ma.MaskedArray):
        values = np.ma.filled(values.astype(object), None)
    if isinstance(values, np.ndarray):
        return list(values)
    return list(values) if hasattr(values, "__len__") else [values]


def artist_label(artist: Any) -> str | None:
    label = artist.get_label() if hasattr(artist, "get_label") else None
    return None if not label or str(label).startswith("_") else str(label)


def text_or_none(text: str | None) -> str | None:
    return text if text else None
