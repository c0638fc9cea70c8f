"""Background and webhook executions, background commands, the process registry and its kill shapes."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import start_agent
from test_commands import wait_gone


def wait_for(fn, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def record(agent, pid: str) -> dict:
    r = agent.get(f"/execute/processes/{pid}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_status(agent, pid: str, statuses=("completed", "failed", "killed", "timeout"), timeout=60.0) -> dict:
    return wait_for(lambda: (lambda rec: rec if rec["status"] in statuses else None)(record(agent, pid)), timeout)


class Receiver:
    """A webhook receiver on loopback: records every POST; answers `fail_first` of them with 500."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False):
        self.requests: list[dict] = []
        self.fail_first = fail_first
        self.always_fail = always_fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"headers": dict(self.headers), "body": body, "at": time.time()})
                failing = outer.always_fail or len(outer.requests) <= outer.fail_first
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(**kw) -> Receiver:
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture(scope="module")
def small_agent(tmp_path_factory):
    """An agent with small retention, small per-job memory and fast webhook retries."""
    a = start_agent(
        tmp_path_factory.mktemp("small"),
        {
            "KERNELAGENT_JOB_RETENTION": "3",
            "KERNELAGENT_JOB_RETENTION_COUNT": "2",
            "KERNELAGENT_JOB_OUTPUT_BYTES": "1000",
            "KERNELAGENT_WEBHOOK_RETRIES": "2",
            "KERNELAGENT_WEBHOOK_BACKOFF": "0.1",
            "KERNELAGENT_KILL_GRACE": "1",
            "KERNELAGENT_MAX_STDOUT_BYTES": "20000",
            "KERNELAGENT_WARM_LANGUAGES": "python,bash",
        },
    )
    yield a
    a.close()


# --- background executions ---


def test_background_execution_listed_finished_and_read(agent):
    sb = agent.sdk()
    started = sb.run_code_background(
        "import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')", name="bg-read", timeout=60
    )
    pid = started["process_id"]
    assert started["execution_id"] == pid and started["status"] in ("running", "queued")
    assert started["name"] == "bg-read"
    listed = {p["process_id"]: p for p in sb.list_processes()}
    assert pid in listed
    entry = listed[pid]
    for key in (
        "execution_id",
        "name",
        "status",
        "language",
        "start_time",
        "started_at",
        "end_time",
        "completed_at",
        "exit_code",
        "duration",
        "execution_time",
        "pid",
    ):
        assert key in entry, key
    assert entry["status"] in ("queued", "running") and entry["language"] == "python"
    wait_for(lambda: "first" in record(agent, pid)["stdout"], 30)  # output so far, while running
    rec = wait_status(agent, pid)
    assert rec["status"] == "completed" and rec["exit_code"] == 0 and rec["success"] is True
    assert rec["stdout"] == "first\nsecond\n"
    assert rec["end_time"] and rec["duration"] >= 1.0
    assert Path(rec["stdout_file"]).read_text() == "first\nsecond\n"


def test_background_leaves_the_default_context_free(agent):
    sb = agent.sdk()
    pid = sb.run_code_background("import time; time.sleep(4)")["process_id"]
    t0 = time.monotonic()
    assert agent.execute("1 + 1")["result"] == "2"
    assert time.monotonic() - t0 < 3
    assert record(agent, pid)["status"] in ("queued", "running")
    agent.post(f"/execute/kill/{pid}")


def test_background_env_name_and_workdir(agent):
    sub = agent.workspace / "bg-dir"
    sub.mkdir(exist_ok=True)
    for key in ("workdir", "working_dir"):
        r = agent.post(
            "/execute/background",
            {
                "code": "import os; print(os.environ['BG_VAR'], os.getcwd())",
                "env": {"BG_VAR": "hello"},
                key: str(sub),
                "name": f"env-{key}",
            },
        )
        assert r.status_code == 200, r.text
        rec = wait_status(agent, r.json()["process_id"])
        assert rec["status"] == "completed", rec
        assert rec["stdout"] == f"hello {sub}\n" and rec["name"] == f"env-{key}"


def test_background_failure_and_timeout(agent):
    failed = agent.post("/execute/background", {"code": "raise ValueError('bad')"}).json()["process_id"]
    slow = agent.post("/execute/background", {"code": "import time; time.sleep(30)", "timeout": 1}).json()["process_id"]
    rec = wait_status(agent, failed)
    assert rec["status"] == "failed" and rec["exit_code"] != 0 and "ValueError" in rec["stderr"]
    rec = wait_status(agent, slow)
    assert rec["status"] == "timeout" and rec["exit_code"] != 0


def test_background_bad_input(agent):
    assert agent.post("/execute/background", {"language": "python"}).json()["code"] == "MISSING_PARAMETER"
    r = agent.post("/execute/background", {"code": "1", "timeout": "x"})
    assert r.status_code == 400
    r = agent.post("/execute/background", {"code": "1", "workdir": "/no/such/dir"})
    assert r.status_code == 400 and r.json()["code"] == "DIRECTORY_NOT_FOUND"


def test_killed_execution_takes_its_children_along(agent, tmp_path):
    pidfile = tmp_path / "child"
    code = (
        f"import subprocess, time\np = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\nprint('spawned', flush=True)\ntime.sleep(300)"
    )
    sb = agent.sdk()
    pid = sb.run_code_background(code, name="to-kill")["process_id"]
    wait_for(lambda: pidfile.exists() and pidfile.read_text())
    kernel_pid = record(agent, pid)["pid"]
    child = int(pidfile.read_text())
    answer = sb.kill_process(pid)
    assert answer["process_id"] == pid and answer["status"] == "killed"
    assert wait_gone(child), "the job's child survived the kill"
    assert wait_gone(kernel_pid), "the job's kernel survived the kill"
    rec = record(agent, pid)
    assert rec["status"] == "killed" and rec["end_time"] and "spawned" in rec["stdout"]
    # a finished job can be "killed" again: still JSON, says what it is
    again = agent.post(f"/execute/kill/{pid}")
    assert again.status_code == 200 and again.json()["status"] == "killed"


# --- background commands ---


def test_background_command_through_sdk(agent):
    sb = agent.sdk()
    res = sb.commands.run("echo out; echo err >&2; sleep 0.5; echo late", background=True)
    assert res.stdout.startswith("Background process started: proc_")
    pid = res.stdout.rsplit(" ", 1)[1]
    rec = wait_status(agent, pid)
    assert rec["status"] == "completed" and rec["type"] == "command"
    assert rec["stdout"] == "out\nlate\n" and rec["stderr"] == "err\n"
    assert "echo out" in rec["command"]
    assert any(p["process_id"] == pid for p in sb.list_processes())


def test_background_command_timeout_and_failure(agent):
    slow = agent.post("/commands/background", {"command": "sleep 30", "timeout": 1}).json()
    bad = agent.post("/commands/background", {"command": "exit 4", "name": "four"}).json()
    assert slow["status"] == "running" and isinstance(slow["pid"], int)
    rec = wait_status(agent, slow["process_id"])
    assert rec["status"] == "timeout" and rec["exit_code"] == 124
    assert wait_gone(slow["pid"])
    rec = wait_status(agent, bad["process_id"])
    assert rec["status"] == "failed" and rec["exit_code"] == 4 and rec["name"] == "four"


@pytest.mark.parametrize("shape", ["post", "delete-query", "delete-body", "processes"])
def test_every_kill_shape_ends_the_tree(agent, tmp_path, shape):
    pidfile = tmp_path / "gc"
    started = agent.post("/commands/background", {"command": f"sleep 300 & echo $! > {pidfile}; wait"}).json()
    pid = started["process_id"]
    grandchild = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip()))
    if shape == "post":
        r = agent.post(f"/execute/kill/{pid}")
    elif shape == "delete-query":
        r = agent.delete("/execute/kill", params={"process_id": pid})
    elif shape == "delete-body":
        r = agent.http.request("DELETE", "/execute/kill", json={"process_id": pid})
    else:
        r = agent.post(f"/processes/{pid}/kill")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["status"] == "killed" and r.json()["process_id"] == pid and r.json()["message"]
    assert wait_gone(grandchild) and wait_gone(started["pid"])
    assert record(agent, pid)["status"] == "killed"


def test_unknown_process_is_404(agent):
    for r in (
        agent.post("/execute/kill/proc_nope"),
        agent.delete("/execute/kill", params={"process_id": "proc_nope"}),
        agent.http.request("DELETE", "/execute/kill", json={"process_id": "proc_nope"}),
        agent.post("/processes/proc_nope/kill"),
        agent.get("/execute/processes/proc_nope"),
    ):
        assert r.status_code == 404 and r.json()["code"] == "PROCESS_NOT_FOUND", r.text
    r = agent.delete("/execute/kill")
    assert r.status_code == 400 and r.json()["code"] == "MISSING_PARAMETER"


def test_list_shape(agent):
    agent.post("/commands/background", {"command": "true"})
    data = agent.get("/execute/processes").json()
    assert data["count"] == len(data["processes"]) and data["timestamp"]
    lean = agent.get("/execute/processes", params={"output": "false"}).json()["processes"]
    assert lean and "stdout" not in lean[0]


# --- retention and bounded output (private agent) ---


def test_retention_by_count_and_time(small_agent):
    ids = [small_agent.post("/commands/background", {"command": f"echo {i}"}).json()["process_id"] for i in range(3)]
    for pid in ids[1:]:
        wait_status(small_agent, pid)
    time.sleep(0.3)
    listed = {p["process_id"] for p in small_agent.get("/execute/processes").json()["processes"]}
    assert ids[0] not in listed and set(ids[1:]) <= listed  # count: 2 kept, the oldest dropped
    assert small_agent.get(f"/execute/processes/{ids[0]}").status_code == 404
    wait_for(lambda: small_agent.get(f"/execute/processes/{ids[2]}").status_code == 404, 15)  # time: 3 s


def test_output_bounded_in_memory_and_spilled_in_full(small_agent):
    pid = small_agent.post("/commands/background", {"command": "for i in $(seq 1 2000); do echo line-$i; done"}).json()[
        "process_id"
    ]
    rec = wait_status(small_agent, pid)
    assert rec["status"] == "completed" and rec["truncated"] is True
    assert len(rec["stdout"].encode()) < 1000 + 200 and rec["stdout"].startswith("line-1\n")
    full = Path(rec["stdout_file"]).read_text()
    assert full.splitlines() == [f"line-{i}" for i in range(1, 2001)]


@pytest.mark.parametrize(
    "language,code",
    [
        ("python", "for i in range(1, 50001): print(f'line-{i}')"),
        ("bash", "for i in $(seq 1 50000); do echo line-$i; done"),
    ],
)
def test_background_execution_spills_its_whole_output(small_agent, language, code):
    """Past what an /execute answer keeps (20 kB here, cut at the source in Python's kernel), a
    background execution's spill file still gets every line."""
    pid = small_agent.post("/execute/background", {"code": code, "language": language}).json()["process_id"]
    rec = wait_status(small_agent, pid)
    assert rec["status"] == "completed" and rec["truncated"] is True
    assert len(rec["stdout"].encode()) < 1000 + 200
    full = Path(rec["stdout_file"]).read_text()
    assert full.splitlines() == [f"line-{i}" for i in range(1, 50001)]
    r = small_agent.execute("print('x' * 30000)")  # the default context keeps its own cap
    assert r["truncated"] is True and len(r["stdout"]) < 21000


# --- webhooks ---


def test_webhook_delivered_and_signed(agent, receiver):
    hook = receiver()
    sb = agent.sdk()
    t0 = time.monotonic()
    answer = sb.run_code_async(
        "import time; time.sleep(1); print('done')",
        callback_url=hook.url,
        callback_headers={"Authorization": "Bearer cb-token", "X-Custom": "1"},
        callback_signature_secret="s3cret",
        working_dir="/workspace",
    )
    assert time.monotonic() - t0 < 5
    assert answer["status"] == "queued" and answer["callback_url"] == hook.url and answer["execution_id"]
    assert hook.requests == []  # never fetched before the work is done
    wait_for(lambda: hook.requests, 60)
    req = hook.requests[0]
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["authorization"] == "Bearer cb-token" and headers["x-custom"] == "1"
    assert headers["content-type"].startswith("application/json")
    ts = headers["x-hopx-timestamp"]
    expected = hmac.new(b"s3cret", ts.encode() + req["body"], hashlib.sha256).hexdigest()
    assert headers["x-hopx-signature"] == f"sha256={expected}"
    assert abs(int(ts) - time.time()) < 120
    body = json.loads(req["body"])
    assert body["execution_id"] == answer["execution_id"] and body["status"] == "completed"
    assert body["stdout"] == "done\n" and body["exit_code"] == 0 and body["success"] is True
    assert body["execution_time"] >= 1.0 and body["timestamp"]
    rec = wait_for(
        lambda: (lambda r: r if r["webhook"]["status"] == "delivered" else None)(record(agent, answer["execution_id"]))
    )
    assert rec["webhook"]["attempts"] == 1 and rec["webhook"]["last_status_code"] == 200


def test_webhook_unsigned_and_failed_execution(agent, receiver):
    hook = receiver()
    answer = agent.post("/execute/async", {"code": "1/0", "callback_url": hook.url}).json()
    wait_for(lambda: hook.requests, 60)
    headers = {k.lower() for k in hook.requests[0]["headers"]}
    assert "x-hopx-signature" not in headers
    body = json.loads(hook.requests[0]["body"])
    assert body["status"] == "failed" and body["exit_code"] != 0 and "ZeroDivisionError" in body["stderr"]
    assert body["execution_id"] == answer["execution_id"]


def test_webhook_retried_until_delivered(small_agent, receiver):
    hook = receiver(fail_first=2)
    eid = small_agent.post(
        "/execute/async", {"code": "print(42)", "callback_url": hook.url, "callback_signature_secret": "k"}
    ).json()["execution_id"]
    rec = wait_for(
        lambda: (lambda r: r if r["webhook"]["status"] == "delivered" else None)(record(small_agent, eid)), 60
    )
    assert rec["webhook"]["attempts"] == 3 and len(hook.requests) == 3
    bodies = {r["body"] for r in hook.requests}
    assert len(bodies) == 1  # the same result each time, signed afresh


def test_webhook_gives_up_after_bounded_retries(small_agent, receiver):
    hook = receiver(always_fail=True)
    eid = small_agent.post("/execute/async", {"code": "print(1)", "callback_url": hook.url}).json()["execution_id"]
    rec = wait_for(lambda: (lambda r: r if r["webhook"]["status"] == "failed" else None)(record(small_agent, eid)), 60)
    assert rec["webhook"]["attempts"] == 3 and rec["webhook"]["last_status_code"] == 500
    time.sleep(0.5)
    assert len(hook.requests) == 3


def assert_rejected(r, code: str, field: str) -> dict:
    """A 400 in the error envelope whose code is `code` and whose message or details name `field`."""
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["code"] == code, body
    assert body["error"] and body["message"] == body["error"], body
    assert body["request_id"] and body["request_id"] == r.headers.get("x-request-id"), body
    assert body["path"] == "/execute/async", body
    assert field in body["message"] or field in json.dumps(body.get("details") or {}), body
    return body


def test_async_bad_input(agent):
    hook = f"http://127.0.0.1:1/bad-input-{uuid.uuid4().hex[:8]}"  # port 1: nothing answers
    body = assert_rejected(agent.post("/execute/async", {"code": "1"}), "MISSING_PARAMETER", "callback_url")
    assert body["details"] == {"parameter": "callback_url"}
    cases = [
        ({"callback_url": 17}, "callback_url"),
        ({"callback_url": "ftp://127.0.0.1/x"}, "callback_url"),
        ({"callback_url": "http:///no-host"}, "callback_url"),
        ({"callback_url": hook, "callback_headers": {"A": 1}}, "callback_headers"),
        ({"callback_url": hook, "callback_headers": ["A"]}, "callback_headers"),
        ({"callback_url": hook, "callback_headers": {"A:B": "x"}}, "callback_headers"),
        ({"callback_url": hook, "callback_headers": {"A": "x\r\nB: y"}}, "callback_headers"),
        ({"callback_url": hook, "callback_signature_secret": 5}, "callback_signature_secret"),
    ]
    for fields, field in cases:
        assert_rejected(agent.post("/execute/async", {"code": "1", **fields}), "INVALID_REQUEST", field)
    # a rejected request starts nothing
    processes = agent.get("/execute/processes", params={"output": "false"}).json()["processes"]
    assert not [p for p in processes if p.get("callback_url") == hook]
