"""The example notebooks run, cell by cell, against a real agent."""

from __future__ import annotations

import nbformat
from conftest import ROOT


def test_quickstart_notebook_runs(agent, monkeypatch):
    # The notebook takes the agent's address and token from these variables (defaults: a local agent).
    monkeypatch.setenv("KERNELAGENT_URL", agent.url)
    monkeypatch.setenv("KERNELAGENT_TOKEN", agent.token)
    agent.execute("data = None")
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, "quickstart.ipynb", "exec"), namespace)
    assert namespace["AGENT"] == agent.url and namespace["TOKEN"] == agent.token
    assert namespace["r"].success is False  # the last cell's deadline
    # the cells' state is in this agent's kernel, seen over the test's own client
    assert agent.execute("print(data)")["stdout"] == "[1, 4, 9, 16]\n"
