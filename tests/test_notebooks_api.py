"""A context's history as a notebook, and notebooks run through the agent, against the real agent."""

from __future__ import annotations

import json

import nbformat
import pytest

SESSION = [
    "print('hello')\nprint('oops', file=__import__('sys').stderr)\nx = 41",
    "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9]); plt.title('squares'); plt.show()",
    "pd.DataFrame({'n': [1, 2, 3], 'sq': [1, 4, 9]})",
    "x + 1",
    "1 / 0",
]


def notebook_of(agent, context_id: str) -> dict:
    r = agent.get(f"/contexts/{context_id}/notebook")
    assert r.status_code == 200, r.text
    nb = r.json()
    nbformat.validate(nbformat.from_dict(nb))
    return nb


def run(agent, **body) -> dict:
    r = agent.post("/notebooks/run", body)
    assert r.status_code == 200, r.text
    answer = r.json()
    nbformat.validate(nbformat.from_dict(answer["notebook"]))
    return answer


def code_cell(source: str, **metadata) -> dict:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.update(metadata)
    return cell


def notebook(*cells) -> dict:
    return nbformat.v4.new_notebook(cells=list(cells))


@pytest.fixture
def context(agent):
    cid = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    yield cid
    agent.delete(f"/contexts/{cid}")


def test_a_session_saved_as_a_notebook_holds_what_the_api_returned(agent, context):
    answers = [agent.execute(code, context_id=context) for code in SESSION]
    assert [a["success"] for a in answers] == [True, True, True, True, False]
    nb = notebook_of(agent, context)
    meta = nb["metadata"]
    assert meta["kernelspec"]["name"] == "python3" and meta["kernelspec"]["language"] == "python"
    assert meta["language_info"]["name"] == "python" and meta["language_info"]["file_extension"] == ".py"
    assert meta["kernelagent"]["context_id"] == context and meta["kernelagent"]["history"]["cells"] == 5
    cells = nb["cells"]
    assert [c["cell_type"] for c in cells] == ["code"] * 5
    assert [c["source"] for c in cells] == SESSION
    assert [c["execution_count"] for c in cells] == [a["execution_count"] for a in answers] == [1, 2, 3, 4, 5]

    prints, plot, frame, value, error = (c["outputs"] for c in cells)
    assert prints == [
        {"output_type": "stream", "name": "stdout", "text": answers[0]["stdout"]},
        {"output_type": "stream", "name": "stderr", "text": answers[0]["stderr"]},
    ]
    assert answers[0]["stdout"] == "hello\n" and answers[0]["stderr"] == "oops\n"
    assert [o["output_type"] for o in plot] == ["display_data"]
    assert plot[0]["data"]["image/png"] == answers[1]["png"] == answers[1]["rich_outputs"][0]["data"]["image/png"]
    assert [o["output_type"] for o in frame] == ["execute_result"]
    assert frame[0]["data"] == answers[2]["rich_outputs"][0]["data"] and "<table" in frame[0]["data"]["text/html"]
    assert frame[0]["execution_count"] == 3
    assert value == [
        {"output_type": "execute_result", "execution_count": 4, "data": {"text/plain": "42"}, "metadata": {}}
    ]
    assert [o["output_type"] for o in error] == ["error"]
    assert error[0]["ename"] == answers[4]["error"]["ename"] == "ZeroDivisionError"
    assert error[0]["traceback"] == answers[4]["error"]["traceback"]
    assert cells[4]["metadata"]["kernelagent"]["success"] is False
    assert set(cells[0]["metadata"]["execution"]) == {"iopub.execute_input", "shell.execute_reply"}

    # run again through the agent, in a fresh context: the same outputs, and the same stop at the error
    nb["cells"].insert(0, nbformat.v4.new_markdown_cell("# The session again"))
    nb["cells"].append(nbformat.v4.new_raw_cell("not run"))
    answer = run(agent, notebook=nb)
    summary = answer["summary"]
    assert summary["success"] is False and summary["stopped"] == "error"
    assert summary["cells"] == 7 and summary["code_cells"] == 5 and summary["cells_run"] == 5
    assert summary["failed_cell"] == 5 and summary["error"]["ename"] == "ZeroDivisionError"
    assert summary["context_id"] != context and summary["context_kept"] is False
    assert agent.get(f"/contexts/{summary['context_id']}").status_code == 404  # a fresh context goes after
    again = answer["notebook"]["cells"]
    assert again[0] == nb["cells"][0] and again[6] == nb["cells"][6]  # markdown and raw cells untouched
    for before, after in zip(nb["cells"][1:6], again[1:6], strict=True):
        assert after["outputs"] == before["outputs"], before["source"]
        assert after["execution_count"] == before["execution_count"]


def test_a_failing_cell_stops_the_run_there_unless_asked_to_go_on(agent):
    nb = notebook(code_cell("a = 1"), code_cell("raise ValueError('no')"), code_cell("print('after')"))
    summary = run(agent, notebook=nb)["summary"]
    assert summary["stopped"] == "error" and summary["cells_run"] == 2 and summary["failed_cells"] == [1]
    answer = run(agent, notebook=nb)
    assert answer["notebook"]["cells"][2]["outputs"] == [] and answer["notebook"]["cells"][2]["execution_count"] is None

    answer = run(agent, notebook=nb, continue_on_error=True)
    summary = answer["summary"]
    assert summary["success"] is False and summary["stopped"] is None
    assert summary["cells_run"] == 3 and summary["failed_cell"] == 1 and summary["error"]["evalue"] == "no"
    assert answer["notebook"]["cells"][2]["outputs"][0]["text"] == "after\n"

    nb["cells"][1]["metadata"]["tags"] = ["raises-exception"]  # nbclient's convention: this one may fail
    summary = run(agent, notebook=nb)["summary"]
    assert summary["success"] is True and summary["cells_run"] == 3 and summary["failed_cell"] is None


def test_per_cell_and_total_deadlines(agent):
    nb = notebook(code_cell("import time; time.sleep(30)"), code_cell("print('next')"))
    summary = run(agent, notebook=nb, timeout=1)["summary"]
    assert summary["stopped"] == "error" and summary["error"]["code"] == "EXECUTION_TIMEOUT"
    assert summary["cells_run"] == 1 and summary["execution_time"] < 10

    nb = notebook(*(code_cell("import time; time.sleep(0.8)") for _ in range(4)))
    answer = run(agent, notebook=nb, timeout=10, total_timeout=2)
    summary = answer["summary"]
    assert summary["stopped"] == "deadline" and summary["success"] is False
    assert 2 <= summary["cells_run"] <= 3 and summary["execution_time"] < 5


def test_a_named_context_keeps_what_the_notebook_did(agent, context):
    answer = run(agent, notebook=notebook(code_cell("from_notebook = 7")), context_id=context)
    assert answer["summary"]["context_id"] == context and answer["summary"]["context_kept"] is True
    assert agent.execute("print(from_notebook * 6)", context_id=context)["stdout"] == "42\n"
    cells = notebook_of(agent, context)["cells"]
    assert [c["source"] for c in cells] == ["from_notebook = 7", "print(from_notebook * 6)"]

    kept = run(agent, notebook=notebook(code_cell("y = 1")), keep_context=True)["summary"]
    assert kept["context_kept"] is True and agent.get(f"/contexts/{kept['context_id']}").status_code == 200
    agent.delete(f"/contexts/{kept['context_id']}")


def test_a_notebook_file_runs_in_its_directory_and_is_written_beside(agent):
    folder = agent.workspace / "nbdir"
    folder.mkdir(exist_ok=True)
    (folder / "data.txt").write_text("from a file\n")
    nb = notebook(nbformat.v4.new_markdown_cell("# Reads its neighbour"), code_cell("print(open('data.txt').read())"))
    (folder / "reads.ipynb").write_text(nbformat.writes(nbformat.from_dict(nb)))
    answer = run(agent, path=str(folder / "reads.ipynb"), write=True, env={"NB_VAR": "1"})
    assert answer["summary"]["success"] is True and answer["summary"]["written"] == str(folder / "reads.executed.ipynb")
    assert answer["notebook"]["cells"][1]["outputs"][0]["text"] == "from a file\n\n"
    written = nbformat.read(folder / "reads.executed.ipynb", as_version=4)
    nbformat.validate(written)
    assert written.cells[1].outputs[0].text == "from a file\n\n" and written.cells[0].source == "# Reads its neighbour"

    out = agent.workspace / "elsewhere.ipynb"
    answer = run(agent, notebook=nb, output_path=str(out), workdir=str(folder))
    assert answer["summary"]["written"] == str(out) and json.loads(out.read_text())["cells"][1]["outputs"]


def test_default_contexts_are_reachable_by_their_ids(agent):
    agent.execute("marker_for_history = 'default context'")
    ids = [c["context_id"] for c in agent.get("/contexts").json()["contexts"]]
    assert "default-python" in ids
    nb = notebook_of(agent, "default-python")
    assert nb["cells"][-1]["source"] == "marker_for_history = 'default context'"
    assert nb["metadata"]["kernelagent"]["context_id"] == "default-python"
    if "bash" in agent.get("/health").json().get("pool", {}):
        agent.execute("echo from bash", language="bash")
        nb = notebook_of(agent, "default-bash")
        assert nb["metadata"]["kernelspec"]["name"] == "bash" and nb["metadata"]["language_info"]["name"] == "bash"
        assert nb["cells"][-1]["outputs"][0]["text"] == "from bash\n"


def test_history_bounds_restart_and_delete(agent_factory):
    agent = agent_factory(history_max_cells=3, history_max_bytes=2000)
    for i in range(5):
        agent.execute(f"v = {i}")
    agent.execute("print('z' * 5000)")
    nb = notebook_of(agent, "default-python")
    history = nb["metadata"]["kernelagent"]["history"]
    assert history["truncated"] is True and history["dropped_cells"] == 3 and history["dropped_outputs"] == 1
    assert history["limits"] == {"cells": 3, "bytes": 2000}
    note, *cells = nb["cells"]
    assert note["cell_type"] == "markdown" and "3 oldest executions were dropped" in note["source"]
    assert [c["source"] for c in cells] == ["v = 3", "v = 4", "print('z' * 5000)"]
    assert cells[-1]["outputs"][0]["text"].startswith("[kernelagent] this execution's outputs")

    r = agent.post("/contexts/default-python/restart")
    assert r.status_code == 200
    nb = notebook_of(agent, "default-python")
    assert nb["cells"] == [] and nb["metadata"]["kernelagent"]["history"]["truncated"] is False

    agent.execute("w = 1")
    assert agent.delete("/contexts/default-python").status_code == 200
    agent.execute("w = 2")
    assert [c["source"] for c in notebook_of(agent, "default-python")["cells"]] == ["w = 2"]


def test_a_notebook_asked_for_leaves_the_context_answering(agent_factory):
    """The notebook's language_info is asked of the kernel by a second, short-lived client; sharing
    the main client's session (and so its socket name at the kernel) cut the main one off from
    every later reply, so the next run in that context met its deadline."""
    agent = agent_factory(warm_languages="python,bash")
    for language, code, out in (("python", "print(6 * 7)", "42\n"), ("bash", "echo $((6 * 7))", "42\n")):
        assert agent.execute(code, language=language)["success"]
        assert agent.get(f"/contexts/default-{language}/notebook").status_code == 200
        after = agent.execute(code, language=language, timeout=10)
        assert after["success"] and after["stdout"] == out, (language, after)
