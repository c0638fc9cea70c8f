"""JupyterLab beside the agent: a real jupyter_server started with --gateway-url at the agent, driven
through its own REST and WebSocket API, works in the agent's contexts (issue 12 item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest
from conftest import free_port, make_token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

JUPYTER_TOKEN = "jupyter-test-token"


class Jupyter:
    """A jupyter_server whose kernels are the agent's contexts."""

    def __init__(self, url: str, proc: subprocess.Popen, log):
        self.url = url
        self.proc = proc
        self.log = log
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"token {JUPYTER_TOKEN}"}, timeout=60)

    def channels(self, kernel_id: str):
        ws_url = self.url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels?token={JUPYTER_TOKEN}"
        return connect(ws_url, open_timeout=30, max_size=None)

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_jupyter(tmp_path, agent_url: str, agent_token: str, *extra: str) -> Jupyter:
    port = free_port()
    log = tmp_path / f"jupyter-{port}.log"
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={JUPYTER_TOKEN}",
            f"--gateway-url={agent_url}",
            f"--GatewayClient.auth_token={agent_token}",
            "--GatewayClient.request_timeout=60",
            *extra,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
    )
    server = Jupyter(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter_server exited:\n{log.read_text()}")
        try:
            server.http.get("/api/status")  # any answer: it serves (with a bad agent token, a refusal)
            return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.close()
    raise RuntimeError(f"jupyter_server did not start:\n{log.read_text()}")


@pytest.fixture
def jupyter(agent, tmp_path):
    server = start_jupyter(
        tmp_path,
        agent.url,
        agent.token,
        "--ServerApp.kernel_manager_class=kernelagent.gateway.jupyter.AgentKernelManager",
    )
    yield server
    server.close()


def send_execute(ws, code: str) -> str:
    """Send an execute_request as JupyterLab does; its msg_id."""
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "session": "test-session",
                    "username": "test",
                    "date": "2026-01-01T00:00:00.000000Z",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True},
                "channel": "shell",
                "buffers": [],
            }
        )
    )  # fmt: skip
    return msg_id


def execute(ws, code: str, timeout: float = 60) -> dict:
    """Run `code` over a channels socket as JupyterLab does; its stdout, result, error and reply."""
    msg_id = send_execute(ws, code)
    out: dict = {"stdout": "", "result": None, "error": None, "reply": None, "idle": False}
    deadline = time.monotonic() + timeout
    while not (out["reply"] and out["idle"]):
        msg = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "stream" and content["name"] == "stdout":
            out["stdout"] += content["text"]
        elif kind == "execute_result":
            out["result"] = content["data"]["text/plain"]
        elif kind == "error":
            out["error"] = content["ename"]
        elif kind == "execute_reply":
            assert msg["channel"] == "shell"
            out["reply"] = content
        elif kind == "status" and content["execution_state"] == "idle":
            out["idle"] = True
    return out


def test_jupyter_server_works_in_the_agents_contexts(agent, jupyter):
    agent.execute("shared_from_agent = 41")
    named = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    try:
        kernels = jupyter.http.get("/api/kernels")
        assert kernels.status_code == 200, kernels.text
        listed = {k["id"]: k for k in kernels.json()}
        assert named in listed, "a named context is a kernel under its own id"
        default = next(k for k in agent.get("/api/kernels").json() if k["context_id"] == "default-python")
        assert default["id"] in listed and listed[default["id"]]["name"] == "python3"

        with jupyter.channels(default["id"]) as ws:
            got = execute(ws, "print(shared_from_agent + 1)\nshared_from_jupyter = 'hello'\nshared_from_agent * 2")
            assert got["reply"]["status"] == "ok", got
            assert got["stdout"] == "42\n" and got["result"] == "82"
            assert execute(ws, "1/0")["error"] == "ZeroDivisionError"
        back = agent.execute("print(shared_from_jupyter)")
        assert back["stdout"] == "hello\n", back

        with jupyter.channels(named) as ws:
            assert execute(ws, "x = 5; x")["result"] == "5"
        assert agent.execute("print(x)", context_id=named)["stdout"] == "5\n"
    finally:
        agent.delete(f"/contexts/{named}")


def test_jupyter_starts_and_shuts_down_contexts(agent, jupyter):
    started = jupyter.http.post("/api/kernels", json={"name": "python3"})
    assert started.status_code == 201, started.text
    kid = started.json()["id"]
    info = agent.get(f"/contexts/{kid}")
    assert info.status_code == 200 and info.json()["language"] == "python"
    session = jupyter.http.post("/api/sessions", json={"path": "a.ipynb", "type": "notebook", "kernel": {"id": kid}})
    assert session.status_code == 201, session.text
    assert jupyter.http.post(f"/api/kernels/{kid}/interrupt").status_code == 204
    assert jupyter.http.post(f"/api/kernels/{kid}/restart").status_code == 200
    assert jupyter.http.delete(f"/api/sessions/{session.json()['id']}").status_code == 204
    assert agent.get(f"/contexts/{kid}").status_code == 404, "shutting the kernel down deleted its context"


def test_executions_from_both_sides_take_turns(agent, jupyter):
    named = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    try:
        assert named in {k["id"] for k in jupyter.http.get("/api/kernels").json()}
        with jupyter.channels(named) as ws:
            execute(ws, "import time; log = []")
            ws_run = {}

            def from_jupyter():
                ws_run.update(execute(ws, "log.append('jupyter start'); time.sleep(1.5); log.append('jupyter end')"))

            thread = threading.Thread(target=from_jupyter)
            thread.start()
            time.sleep(0.5)  # the jupyter run holds the context now
            assert agent.get(f"/contexts/{named}").json()["busy"]
            # its deadline counts from its turn: waiting behind the jupyter run does not use it up (and
            # so never interrupts the jupyter run)
            r = agent.execute("log.append('agent'); print(log)", context_id=named, timeout=1)
            thread.join()
            assert ws_run["reply"]["status"] == "ok" and ws_run["error"] is None, ws_run
            assert r["success"] and r["stdout"] == "['jupyter start', 'jupyter end', 'agent']\n", r
    finally:
        agent.delete(f"/contexts/{named}")


def test_a_bad_token_is_refused(agent, tmp_path):
    wrong = make_token(secret="not-the-agents-secret-" + "y" * 40)
    server = start_jupyter(tmp_path, agent.url, wrong)
    try:
        r = server.http.get("/api/kernelspecs")
        assert r.status_code == 401 and "Error from Gateway" in r.text, r.text
        assert "Invalid token" in server.log.read_text(), "the agent said why"
        started = server.http.post("/api/kernels", json={"name": "python3"})
        assert started.status_code == 401, started.text
    finally:
        server.close()
    r = httpx.get(agent.url + "/api/kernels", headers={"Authorization": f"token {wrong}"})
    assert r.status_code == 401 and r.json()["code"] == "INVALID_TOKEN"


def agent_channels(agent, kernel_id: str):
    url = agent.url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
    return connect(url, additional_headers={"Authorization": f"token {agent.token}"}, open_timeout=30, max_size=None)


def test_the_relay_follows_a_restart_and_ends_with_its_context(agent):
    ctx = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    with agent_channels(agent, ctx) as ws:
        assert execute(ws, "before = 1; before")["result"] == "1"
        assert agent.get(f"/api/kernels/{ctx}").json()["connections"] == 1
        assert agent.post(f"/api/kernels/{ctx}/restart").status_code == 200
        after = execute(ws, "before")
        assert after["error"] == "NameError", "the same socket now speaks to the fresh kernel"
        agent.delete(f"/contexts/{ctx}")
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=10)


def test_queued_cells_after_an_error_are_aborted_as_a_kernel_does(agent):
    ctx = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    try:
        with agent_channels(agent, ctx) as ws:
            ids = [send_execute(ws, code) for code in ("import time; time.sleep(0.5); 1/0", "ran = True", "2")]
            replies = {}
            while len(replies) < 3:
                msg = json.loads(ws.recv(timeout=30))
                if msg["msg_type"] == "execute_reply":
                    replies[msg["parent_header"]["msg_id"]] = msg["content"]["status"]
            assert [replies[i] for i in ids] == ["error", "aborted", "aborted"]
        assert "ran" not in agent.execute("print(dir())", context_id=ctx)["stdout"]
    finally:
        agent.delete(f"/contexts/{ctx}")


def test_cells_from_jupyter_see_the_agents_environment(agent):
    """/env is what every later execution sees, JupyterLab's cells included, as /execute's do."""
    ctx = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    try:
        assert agent.http.put("/env", json={"env_vars": {"KA_GATEWAY_SEES": "yes"}}).status_code == 200
        with agent_channels(agent, ctx) as ws:
            code = "import os; print(os.environ.get('KA_GATEWAY_SEES'))"
            assert execute(ws, code)["stdout"].strip() == "yes"
            assert agent.delete("/env/KA_GATEWAY_SEES").status_code == 200
            assert execute(ws, code)["stdout"].strip() == "None"
    finally:
        agent.delete("/env")
        agent.delete(f"/contexts/{ctx}")


def test_cells_from_jupyter_are_in_the_contexts_notebook(agent):
    ctx = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    try:
        agent.execute("print('from the api')", context_id=ctx)
        with agent_channels(agent, ctx) as ws:
            assert execute(ws, "print('from the lab')")["stdout"] == "from the lab\n"
            assert execute(ws, "1/0")["error"] == "ZeroDivisionError"
        cells = agent.get(f"/contexts/{ctx}/notebook").json()["cells"]
        assert [c["source"] for c in cells] == ["print('from the api')", "print('from the lab')", "1/0"]
        assert cells[1]["outputs"][0]["text"] == "from the lab\n"
        assert any(o.get("ename") == "ZeroDivisionError" for o in cells[2]["outputs"]), cells[2]
    finally:
        agent.delete(f"/contexts/{ctx}")
