"""The chart reader on figures made in-process (Agg backend): no kernel, no agent."""

from __future__ import annotations

import json

import matplotlib
import pytest
from pydantic import TypeAdapter

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from kernelagent_kernels import charts  # noqa: E402
from kernelagent_kernels.charts import notes, values  # noqa: E402

from kernelagent.models.charts import Chart  # noqa: E402

notes.wrap_axes()


@pytest.fixture
def fig():
    figure = plt.figure()
    yield figure
    plt.close(figure)


def read(fig, max_points: int = 1000) -> dict:
    chart = charts.figure_chart(fig, max_points)
    assert chart is not None
    TypeAdapter(Chart).validate_python(chart)  # the shape the API document declares
    json.dumps(chart, allow_nan=False)  # strict JSON: no NaN, no numpy types
    return chart


def test_line_with_gaps_and_dates(fig):
    ax = fig.subplots()
    ax.plot(np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]"), [1.0, np.nan], label="temp")
    chart = read(fig)
    assert chart["x_scale"] == "datetime"
    assert chart["series"][0]["points"] == [["2024-01-01", 1.0], ["2024-01-02", None]]
    assert all(isinstance(t, str) for t in chart["x_ticks"])


def test_horizontal_bars_and_mixed_kinds(fig):
    ax = fig.subplots()
    ax.barh(["a", "b"], [3, 4])
    ax.plot([1, 2], [0, 1])
    chart = read(fig)
    assert chart["kind"] == "unknown"
    bars = chart["series"][0]
    assert bars["orientation"] == "horizontal" and bars["points"] == [["a", 3], ["b", 4]]


def test_sampling_keeps_first_and_last():
    assert values.sample_indices(3, 5) == [0, 1, 2]
    assert values.sample_indices(101, 5) == [0, 25, 50, 75, 100]
    assert values.sample_indices(10, 1) == [0]


def test_pie_drawn_before_the_wrapper_still_says_its_shares(fig):
    ax = fig.subplots()
    ax.pie([1, 3])
    ax.__dict__.pop(notes.RECORDS)  # as if drawn without the wrapper: only the wedges are left
    (series,) = read(fig)["series"]
    assert series["fractions"] == [0.25, 0.75]


def test_cleared_axes_forget_what_was_noted(fig):
    ax = fig.subplots()
    ax.hist([1, 2, 3])
    ax.cla()
    ax.plot([1], [2])
    assert [s["kind"] for s in read(fig)["series"]] == ["line"]


def test_a_figure_without_axes_has_no_chart(fig):
    assert charts.figure_chart(fig, 10) is None


def test_wrappers_return_what_matplotlib_returns(fig):
    ax = fig.subplots()
    n, bins, patches = ax.hist([1, 2, 2], bins=2)
    assert list(n) == [1, 2] and len(patches) == 2
    assert getattr(type(ax).hist, "_kernelagent", False)
