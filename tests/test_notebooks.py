"""Every example notebook in notebooks/ runs clean with nbclient against a real agent.

The notebooks read the agent's address and token from KERNELAGENT_URL and KERNELAGENT_TOKEN (their
defaults are a local agent), so the test passes them to the notebook's kernel as its environment and
runs the notebooks exactly as they are committed.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def execute(path, agent, tmp_path) -> nbformat.NotebookNode:
    """Run a notebook in a kernel of this test's Python, in a scratch directory, against `agent`."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERNELAGENT_")}
    client.execute(env={**env, "KERNELAGENT_URL": agent.url, "KERNELAGENT_TOKEN": agent.token})
    return nb


def outputs_text(cell) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_there_are_examples():
    names = {p.name for p in NOTEBOOKS}
    assert {"quickstart.ipynb", "data-science.ipynb", "notebook-round-trip.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_example_notebook_runs_clean(agent, tmp_path, path):
    nb = execute(path, agent, tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a code cell did not run"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def test_quickstart_works_in_the_agent_it_is_given(agent, tmp_path):
    agent.execute("data = None")
    nb = execute(ROOT / "notebooks" / "quickstart.ipynb", agent, tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "30" in outputs_text(code[1])  # print(sum(data))
    assert any("image/png" in o.get("data", {}) for o in code[3].outputs)  # the plot came back
    assert outputs_text(code[-1]) == "(False, '[1, 4, 9, 16]\\n')"  # the deadline; state kept
    # the cells' state is in this agent's kernel, seen over the test's own client
    assert agent.execute("print(data)")["stdout"] == "[1, 4, 9, 16]\n"


def test_round_trip_notebook_leaves_a_valid_session_notebook(agent, tmp_path):
    execute(ROOT / "notebooks" / "notebook-round-trip.ipynb", agent, tmp_path)
    saved = nbformat.read(tmp_path / "session.ipynb", as_version=4)
    nbformat.validate(saved)
    assert len(saved.cells) == 3 and saved.metadata.kernelspec.name == "python3"
    assert (agent.workspace / "broken.executed.ipynb").exists()
