"""/execute on real IPython kernels: output, state, rich output, errors, deadlines, death, caps, env."""

from __future__ import annotations

import base64
import threading
import time

import pytest


def test_print_and_result(agent):
    r = agent.execute("print('hello')\n40 + 2", language="python")
    assert r["success"] is True and r["exit_code"] == 0
    assert r["stdout"] == "hello\n"
    assert r["result"] == "42"
    assert r["language"] == "python"
    assert r["execution_time"] > 0 and r["timestamp"].endswith("Z")


def test_state_persists_between_calls(agent):
    agent.execute("persisted_value = 1234")
    assert agent.execute("print(persisted_value * 2)")["stdout"] == "2468\n"


def test_language_aliases_and_unknown_language(agent):
    assert agent.execute("print(1)", language="python3")["success"]
    r = agent.post("/execute", {"code": "1", "language": "cobol"})
    assert r.status_code == 400
    assert r.json()["code"] == "INVALID_REQUEST" and "python" in r.json()["message"]


def test_bad_requests(agent):
    assert agent.post("/execute", {"language": "python"}).json()["code"] == "MISSING_PARAMETER"
    r = agent.http.post("/execute", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_JSON"
    for body in (
        {"code": 1},
        {"code": "1", "timeout": -1},
        {"code": "1", "timeout": "x"},
        {"code": "1", "env": {"A": ["x"]}},
        {"code": "1", "workdir": "relative/dir"},
        {"code": "1", "workdir": "/no/such/dir"},
    ):
        r = agent.post("/execute", body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["code"] in ("INVALID_REQUEST", "INVALID_PATH", "DIRECTORY_NOT_FOUND")


def test_matplotlib_png(agent):
    r = agent.execute("plt.plot([1, 2, 3]); plt.title('t'); plt.show()")
    png = base64.b64decode(r["png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert r["rich_outputs"][0]["type"] == "image/png"
    assert r["rich_outputs"][0]["data"]["image/png"] == r["png"]


def test_two_plots_two_outputs(agent):
    r = agent.execute("for i in range(2):\n    plt.figure(); plt.plot([i, i + 1]); plt.show()")
    pngs = [o for o in r["rich_outputs"] if "image/png" in o["data"]]
    assert len(pngs) == 2
    assert pngs[0]["data"]["image/png"] != pngs[1]["data"]["image/png"]


def test_dataframe_html(agent):
    r = agent.execute("pd.DataFrame({'city': ['Oslo', 'Lima'], 'n': [1, 2]})")
    assert "<table" in r["html"] and "Oslo" in r["html"]
    assert "text/plain" in r["rich_outputs"][0]["data"]
    assert "Oslo" in r["result"]


def test_svg_markdown_json(agent):
    r = agent.execute(
        "from IPython.display import SVG, Markdown, JSON, display\n"
        'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>\'))\n'
        "display(Markdown('# Title'))\n"
        "display(JSON({'a': 1}))"
    )
    assert r["svg"].startswith("<svg")
    assert r["markdown"] == "# Title"
    assert r["json"] == {"a": 1}
    assert [o["type"] for o in r["rich_outputs"]] == ["image/svg+xml", "text/markdown", "application/json"]


def test_exception(agent):
    r = agent.execute("def f():\n    raise ValueError('bad value')\nf()")
    assert r["success"] is False and r["exit_code"] != 0
    assert r["error"]["ename"] == "ValueError"
    assert r["error"]["evalue"] == "bad value"
    assert "bad value" in r["stderr"] and "\x1b[" not in r["stderr"]
    assert any("f()" in line for line in r["error"]["traceback"])
    assert agent.execute("print('still fine')")["stdout"] == "still fine\n"


def test_timeout_keeps_state(agent):
    cid = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    agent.execute("kept = 'yes'", context_id=cid)
    t0 = time.monotonic()
    r = agent.execute("import time\nprint('before', flush=True)\ntime.sleep(30)", timeout=1, context_id=cid)
    assert time.monotonic() - t0 < 10
    assert r["success"] is False and r["exit_code"] != 0
    assert r["error"]["code"] == "EXECUTION_TIMEOUT"
    assert r["error"]["state_preserved"] is True
    assert "before" in r["stdout"]
    assert agent.execute("print(kept)", context_id=cid)["stdout"] == "yes\n"
    agent.delete(f"/contexts/{cid}")


def test_timeout_with_kernel_ignoring_interrupt(agent):
    cid = agent.post("/contexts", {}).json()["context_id"]
    agent.execute("lost = 1", context_id=cid)
    r = agent.execute(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass", timeout=1, context_id=cid
    )
    assert r["error"]["code"] == "EXECUTION_TIMEOUT"
    assert r["error"]["state_preserved"] is False
    after = agent.execute("print('alive'); print('lost' in globals())", context_id=cid, timeout=30)
    assert after["stdout"] == "alive\nFalse\n"
    agent.delete(f"/contexts/{cid}")


@pytest.mark.parametrize(
    "code,why",
    [
        ("import os; os._exit(1)", "status 1"),
        ("import ctypes; ctypes.string_at(0)", "SIGSEGV"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "SIGKILL"),
    ],
)
def test_kernel_death_is_reported_and_recovered(agent, code, why):
    cid = agent.post("/contexts", {}).json()["context_id"]
    agent.execute("x = 1", context_id=cid)
    t0 = time.monotonic()
    r = agent.execute(code, context_id=cid, timeout=60)
    assert time.monotonic() - t0 < 15
    assert r["success"] is False and r["exit_code"] != 0
    assert r["error"]["code"] == "KERNEL_DIED" and r["error"]["state_preserved"] is False
    assert why in r["error"]["message"]
    after = agent.execute("print('x' in globals())", context_id=cid)
    assert after["success"] and after["stdout"] == "False\n"
    agent.delete(f"/contexts/{cid}")


def test_env_and_workdir_as_data(agent, tmp_path):
    nasty = 'it\'s "quoted" \\ back $HOME `uname` $(id)\nnew line ünïcødé 🚀'
    work = tmp_path / "wd with space"
    work.mkdir()
    r = agent.execute(
        "import os; print(repr(os.environ['NASTY'])); print(os.getcwd())", env={"NASTY": nasty}, workdir=str(work)
    )
    assert r["stdout"] == f"{nasty!r}\n{work}\n"
    # neither leaks into the next call
    r = agent.execute("import os; print(os.environ.get('NASTY')); print(os.getcwd())")
    assert r["stdout"] == f"None\n{agent.workspace}\n"
    # the older spelling of workdir
    r = agent.execute("import os; print(os.getcwd())", working_dir=str(work))
    assert r["stdout"] == f"{work}\n"


def test_agent_secret_not_visible(agent):
    r = agent.execute("import os; print([k for k in os.environ if k.startswith('KERNELAGENT')])")
    assert r["stdout"] == "[]\n"


def test_output_cap(agent_factory):
    a = agent_factory(max_stdout_bytes=10000)
    r = a.execute("for i in range(5000): print('x' * 99)")
    assert r["truncated"] is True and r["truncation"]["stdout"] is True
    assert "output truncated" in r["stdout"]
    assert 10000 <= len(r["stdout"]) < 11000
    assert a.execute("print('small')")["truncated"] is False


def test_large_output_bounded_memory(agent_factory):
    import psutil

    a = agent_factory(max_stdout_bytes=1 << 20)
    proc = psutil.Process(a.proc.pid)
    a.execute("print('warm')")
    before = proc.memory_info().rss
    r = a.execute("chunk = 'y' * (1 << 20)\nfor _ in range(200): print(chunk)", timeout=120)
    grown = proc.memory_info().rss - before
    assert r["truncated"] is True
    assert len(r["stdout"]) < (1 << 20) + 4096
    assert grown < 32 << 20, f"agent grew by {grown >> 20} MiB"


def test_contexts_isolated_and_parallel(agent):
    a = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    b = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    agent.execute("who = 'a'", context_id=a)
    agent.execute("who = 'b'", context_id=b)
    assert agent.execute("print(who)", context_id=a)["stdout"] == "a\n"
    assert agent.execute("print(who)", context_id=b)["stdout"] == "b\n"
    results = {}

    def run(cid):
        results[cid] = agent.execute("import time; time.sleep(2); print('done')", context_id=cid)

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(c,)) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - t0 < 3.8, "two contexts did not run in parallel"
    assert all(r["stdout"] == "done\n" for r in results.values())
    listed = {c["context_id"] for c in agent.get("/contexts").json()["contexts"]}
    assert {a, b} <= listed
    sessions = agent.get("/jupyter/sessions").json()["sessions"]
    assert all({"kernel_id", "execution_state", "connections", "last_activity"} <= set(s) for s in sessions)
    for cid in (a, b):
        assert agent.delete(f"/contexts/{cid}").status_code == 200
    assert agent.post("/execute", {"code": "1", "context_id": a}).status_code == 404


def test_one_context_runs_in_arrival_order(agent):
    cid = agent.post("/contexts", {}).json()["context_id"]
    agent.execute("order = []", context_id=cid)
    threads = []
    for i in range(4):
        t = threading.Thread(
            target=agent.execute, args=(f"import time; time.sleep(0.2); order.append({i})",), kwargs={"context_id": cid}
        )
        t.start()
        threads.append(t)
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert agent.execute("print(order)", context_id=cid)["stdout"] == "[0, 1, 2, 3]\n"
    agent.delete(f"/contexts/{cid}")


def test_context_interrupt_and_restart(agent):
    cid = agent.post("/contexts", {}).json()["context_id"]
    agent.execute("v = 5", context_id=cid)
    box = {}
    t = threading.Thread(target=lambda: box.update(r=agent.execute("import time; time.sleep(60)", context_id=cid)))
    t.start()
    time.sleep(1.0)
    assert agent.post(f"/contexts/{cid}/interrupt").status_code == 200
    t.join(20)
    assert box["r"]["error"]["ename"] == "KeyboardInterrupt"
    assert agent.execute("print(v)", context_id=cid)["stdout"] == "5\n"
    assert agent.post(f"/contexts/{cid}/restart").status_code == 200
    assert agent.execute("print('v' in globals())", context_id=cid)["stdout"] == "False\n"
    agent.delete(f"/contexts/{cid}")
    assert agent.post("/contexts/nope/interrupt").status_code == 404


def test_idle_context_culled(agent_factory):
    a = agent_factory(context_idle_timeout=1, cull_interval=0.5)
    cid = a.post("/contexts", {}).json()["context_id"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and a.get(f"/contexts/{cid}").status_code == 200:
        time.sleep(0.3)
    assert a.get(f"/contexts/{cid}").status_code == 404


def test_rich_alias_endpoint(agent):
    r = agent.post("/execute/rich", {"code": "print('rich')"})
    assert r.status_code == 200 and r.json()["stdout"] == "rich\n"


def test_fast_output_is_not_dropped(agent):
    """No iopub rate limit between kernel and agent: 100k quick lines all arrive, in order."""
    r = agent.execute("for i in range(100000): print(i)", timeout=120)
    lines = r["stdout"].splitlines()
    assert r["truncated"] is False
    assert lines == [str(i) for i in range(100000)]
