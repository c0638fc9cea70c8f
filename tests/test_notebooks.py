"""The example notebooks run, cell by cell, against a real agent."""

from __future__ import annotations

import nbformat

from conftest import ROOT


def test_quickstart_notebook_runs(agent):
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source.replace("'http://127.0.0.1:7777'", repr(agent.url))
        source = source.replace("(Path.home() / '.kernelagent' / 'token').read_text().strip()", repr(agent.token))
        exec(compile(source, "quickstart.ipynb", "exec"), namespace)
    assert namespace["r"].success is False  # the last cell's deadline
    assert namespace["sb"].run_code("print(data)").stdout == "[1, 4, 9, 16]\n"
