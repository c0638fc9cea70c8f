"""Charts as data: a matplotlib figure comes back as its PNG and as a structured chart that carries
the exact data plotted (issue 12 item 5)."""

from __future__ import annotations

CHART = "application/vnd.kernelagent.chart+json"


def chart_of(agent, code: str) -> dict:
    r = agent.execute("import matplotlib.pyplot as plt\nplt.close('all')\n" + code)
    assert r["success"], r
    assert r["png"], "the PNG still comes back"
    figure = next(o for o in r["rich_outputs"] if "image/png" in o["data"])
    assert figure["type"] == "image/png"
    assert figure["data"][CHART] == r["chart"], "the chart field is the bundle's chart"
    return r["chart"]


def test_line_chart_carries_its_points_labels_and_axes(agent):
    chart = chart_of(
        agent,
        "fig, ax = plt.subplots()\n"
        "ax.plot([1, 2, 3, 4], [1.5, -2.25, 3.0, 10.125], label='speed')\n"
        "ax.plot([1, 2], [7, 8], label='_hidden')\n"
        "ax.set_title('Speed'); ax.set_xlabel('time (s)'); ax.set_ylabel('m/s'); ax.set_yscale('symlog')\n"
        "plt.show()",
    )
    assert chart["kind"] == "line"
    assert (chart["title"], chart["x_label"], chart["y_label"]) == ("Speed", "time (s)", "m/s")
    assert (chart["x_scale"], chart["y_scale"]) == ("linear", "symlog")
    first, second = chart["series"]
    assert first["label"] == "speed" and second["label"] is None
    assert first["points"] == [[1, 1.5], [2, -2.25], [3, 3.0], [4, 10.125]]
    assert first["total_points"] == 4 and not first["truncated"] and not chart["truncated"]
    assert chart["x_ticks"] and len(chart["x_ticks"]) == len(chart["x_tick_labels"])
    assert chart["x_lim"][0] <= 1 and chart["x_lim"][1] >= 4


def test_bar_chart_keeps_categories_and_heights(agent):
    chart = chart_of(
        agent,
        "fig, ax = plt.subplots()\n"
        "ax.bar(['north', 'south', 'east'], [12.5, 7, 30], label='sales')\n"
        "ax.set_title('Sales by region')",
    )
    assert chart["kind"] == "bar" and chart["title"] == "Sales by region"
    assert chart["x_scale"] == "categorical"
    assert chart["x_tick_labels"] == ["north", "south", "east"]
    (series,) = chart["series"]
    assert series["label"] == "sales" and series["orientation"] == "vertical"
    assert series["points"] == [["north", 12.5], ["south", 7], ["east", 30]]


def test_scatter_chart_keeps_every_point(agent):
    chart = chart_of(
        agent,
        "import numpy as np\n"
        "fig, ax = plt.subplots()\n"
        "ax.scatter(np.array([0.1, 0.2, 0.35]), np.array([3.0, 1e-3, 2.5e6]), label='obs')\n"
        "ax.set_yscale('log')\n"
        "fig",
    )
    assert chart["kind"] == "scatter" and chart["y_scale"] == "log"
    (series,) = chart["series"]
    assert series["label"] == "obs"
    assert series["points"] == [[0.1, 3.0], [0.2, 1e-3], [0.35, 2.5e6]]


def test_pie_chart_keeps_values_labels_and_shares(agent):
    chart = chart_of(agent, "plt.pie([10, 30, 60], labels=['a', 'b', 'c'])\nplt.title('Share')")
    assert chart["kind"] == "pie" and chart["title"] == "Share"
    (series,) = chart["series"]
    assert series["points"] == [["a", 10], ["b", 30], ["c", 60]]
    assert series["fractions"] == [0.1, 0.3, 0.6]


def test_histogram_and_box_plot(agent):
    hist = chart_of(agent, "plt.hist([1, 2, 2, 3, 3, 3, 4], bins=[1, 2, 3, 4], label='n')")
    assert hist["kind"] == "histogram"
    (series,) = hist["series"]
    assert series["bin_edges"] == [1, 2, 3, 4] and series["label"] == "n"
    assert series["points"] == [[1, 1], [2, 2], [3, 4]]
    box = chart_of(agent, "plt.boxplot([[1, 2, 3, 4, 5], [2, 2, 3, 50]])")
    assert box["kind"] == "box" and len(box["series"]) == 2
    assert box["series"][0]["stats"]["med"] == 3
    assert [50] in [p[1:] for p in box["series"][1]["points"]]


def test_subplots_and_no_chart_for_other_outputs(agent):
    chart = chart_of(
        agent, "fig, (a, b) = plt.subplots(1, 2)\na.plot([1, 2], [3, 4])\nb.bar([1, 2], [5, 6])\nfig.suptitle('Two')"
    )
    assert chart["title"] == "Two" and chart["kind"] == "unknown"
    assert [s["kind"] for s in chart["subplots"]] == ["line", "bar"]
    r = agent.execute("from IPython.display import HTML\nHTML('<b>x</b>')")
    assert "chart" not in r and CHART not in r["rich_outputs"][0]["data"]


def test_points_per_series_are_bounded_and_the_cut_is_said(agent_factory):
    agent = agent_factory(chart_max_points="5")
    chart = chart_of(agent, "plt.plot(range(100), [i * i for i in range(100)])")
    (series,) = chart["series"]
    assert chart["truncated"] and series["truncated"] and chart["max_points"] == 5
    assert series["total_points"] == 100
    assert series["points"] == [[0, 0], [25, 625], [50, 2500], [74, 5476], [99, 9801]]
