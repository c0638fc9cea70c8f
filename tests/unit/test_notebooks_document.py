"""Answers as nbformat outputs and cells, a history as a valid notebook, a caller's notebook read by nbformat."""

from __future__ import annotations

import nbformat
import pytest

from kernelagent.core.errors import AgentError
from kernelagent.engine import render
from kernelagent.engine.history import History
from kernelagent.engine.outputs import Outputs
from kernelagent.notebooks import cells, document
from kernelagent.notebooks.run import may_fail, runnable

CODE_CELL = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def run_answer(build, count: int = 1, error: bool = False):
    out = Outputs(10_000, 10_000, 100_000)
    build(out)
    err = render.kernel_error(out.error) if out.error else None
    return render.answer(
        outputs=out,
        reply={"status": "error" if error else "ok", "execution_count": count},
        exit_code=1 if err else 0,
        error=err,
        execution_time=0.25,
        language="python",
        context_id="c",
        restarted=False,
    )


def prints(out: Outputs) -> None:
    out.add_stream("stdout", "hello\n")
    out.add_stream("stderr", "careful\n")


def plot(out: Outputs) -> None:
    out.add_display("display_data", {"data": {"image/png": "iVBOR", "text/plain": "<Figure>"}, "metadata": {}})


def frame(out: Outputs) -> None:
    data = {"text/html": "<table></table>", "text/plain": "   a\n0  1"}
    out.add_display("execute_result", {"data": data, "metadata": {}, "execution_count": 3})


def value(out: Outputs) -> None:
    out.add_display("execute_result", {"data": {"text/plain": "42"}, "metadata": {}, "execution_count": 4})


def fails(out: Outputs) -> None:
    out.add_stream("stdout", "before\n")
    out.add_error({"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": ["Traceback", "ZeroDiv"]})


def test_streams_then_rich_outputs_then_the_value():
    a = run_answer(lambda o: (prints(o), plot(o), value(o)), count=4)
    assert cells.outputs(a) == [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {"output_type": "stream", "name": "stderr", "text": "careful\n"},
        {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}, "metadata": {}},
        {"output_type": "execute_result", "execution_count": 4, "data": {"text/plain": "42"}, "metadata": {}},
    ]


def test_a_rich_value_is_the_one_execute_result():
    outs = cells.outputs(run_answer(frame, count=3))
    assert [o["output_type"] for o in outs] == ["execute_result"]
    assert outs[0]["data"]["text/html"] == "<table></table>" and outs[0]["execution_count"] == 3


def test_an_error_is_an_error_output_and_its_traceback_leaves_stderr():
    a = run_answer(fails, error=True)
    assert a["stderr"] == "Traceback\nZeroDiv\n"  # what the API returns
    outs = cells.outputs(a)
    assert outs == [
        {"output_type": "stream", "name": "stdout", "text": "before\n"},
        {
            "output_type": "error",
            "ename": "ZeroDivisionError",
            "evalue": "division by zero",
            "traceback": ["Traceback", "ZeroDiv"],
        },
    ]


def test_a_timeout_without_traceback_still_says_why():
    a = run_answer(lambda o: None)
    a["error"] = render.timeout_error("Execution timed out after 1 s", True)
    error = cells.outputs(a)[-1]
    assert error["output_type"] == "error" and error["traceback"] == ["TimeoutError: Execution timed out after 1 s"]


def test_bundles_keep_to_what_nbformat_accepts():
    bundle = {"text/plain": ["a", "b"], "application/vnd.x+json": {"k": [1]}, "text/csv": {"not": "text"}, "bad": "x"}
    assert cells.mimebundle(bundle) == {
        "text/plain": "ab",
        "application/vnd.x+json": {"k": [1]},
        "text/csv": '{"not": "text"}',
    }


def history_notebook(h: History):
    return document.from_history(
        h.entries(),
        h.state(),
        kernelspec=KERNELSPEC,
        language_info={"name": "python"},
        context_id="c",
        language="python",
    )


def test_a_history_is_a_valid_notebook_one_code_cell_per_execution():
    h = History(100, 1 << 20)
    for count, (code, build) in enumerate(
        [("print('hello')", prints), ("plt.plot([1])", plot), ("df", frame), ("1/0", fails)], start=1
    ):
        h.record(code, run_answer(build, count=count, error=build is fails), started=1000.0 + count)
    nb = history_notebook(h)
    nbformat.validate(nbformat.from_dict(nb))
    assert [c["cell_type"] for c in nb["cells"]] == ["code"] * 4
    assert [c["source"] for c in nb["cells"]] == ["print('hello')", "plt.plot([1])", "df", "1/0"]
    assert [c["execution_count"] for c in nb["cells"]] == [1, 2, 3, 4]
    assert [c["id"] for c in nb["cells"]] == ["exec-1", "exec-2", "exec-3", "exec-4"]
    assert nb["metadata"]["kernelspec"] == KERNELSPEC and nb["metadata"]["language_info"] == {"name": "python"}
    timing = nb["cells"][0]["metadata"]["execution"]
    assert timing == {
        "iopub.execute_input": "1970-01-01T00:16:41Z",
        "shell.execute_reply": "1970-01-01T00:16:41.250000Z",
    }
    assert nb["cells"][3]["metadata"]["kernelagent"]["success"] is False


def test_a_bounded_history_says_so_first_and_stays_valid():
    h = History(2, 60)
    for i in range(3):
        h.record(f"x = {i}", run_answer(prints))
    h.record("big()", run_answer(lambda o: o.add_stream("stdout", "y" * 100)))
    nb = history_notebook(h)
    nbformat.validate(nbformat.from_dict(nb))
    note, *code = nb["cells"]
    assert note["cell_type"] == "markdown" and "oldest executions were dropped" in note["source"]
    assert "kept without their outputs" in note["source"]
    assert [c["source"] for c in code] == ["x = 2", "big()"]
    assert code[1]["outputs"][0]["text"].startswith("[kernelagent] this execution's outputs (100 characters)")
    assert nb["metadata"]["kernelagent"]["history"]["truncated"] is True


def test_parse_converts_and_validates():
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [{"cells": [{"cell_type": "code", "input": "1+1", "outputs": [], "language": "python"}]}],
    }
    nb = document.parse(v3)
    assert nb.nbformat == 4 and nb.cells[0].source == "1+1"
    text = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# hi")]))
    assert document.parse(text).cells[0].cell_type == "markdown"


@pytest.mark.parametrize(
    ("notebook", "reason"),
    [
        ({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}, "missing an expected key: cells"),
        (
            {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [{**CODE_CELL, "source": 5}]},
            "5 is not valid under any of the given schemas (at cells/0/source)",
        ),
        ({"nbformat": 9, "cells": []}, "Unsupported nbformat version 9"),
        ("not json", "Notebook does not appear to be JSON"),
    ],
)
def test_what_nbformat_refuses_is_a_400_with_its_reason(notebook, reason):
    with pytest.raises(AgentError) as caught:
        document.parse(notebook)
    err = caught.value
    assert err.status == 400 and err.details["field"] == "notebook"
    assert reason in err.details["reason"] and err.message.startswith("Invalid notebook: ")
    assert len(err.details["reason"]) < 400


def test_which_cells_run_and_which_may_fail():
    assert runnable({"cell_type": "code", "source": "x"}) and not runnable({"cell_type": "code", "source": "  \n"})
    assert not runnable({"cell_type": "markdown", "source": "x"}) and not runnable({"cell_type": "raw", "source": "x"})
    assert may_fail({"metadata": {"tags": ["raises-exception"]}}) and not may_fail({"metadata": {}})
