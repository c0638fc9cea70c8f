"""Hardening (issue 10): one test per class of what a hostile or careless caller got through."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import psutil
import pytest
import websockets
from conftest import SECRET, make_token, start_agent
from websockets.asyncio.client import connect


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


class Receiver:
    """A webhook receiver on loopback: counts POSTs, answers 200 with `answer_bytes` of body
    (announcing `declared` bytes, so a reader that waits for all of them never sees the end)."""

    def __init__(self, answer_bytes: int = 0, declared: int | None = None):
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", str(answer_bytes if declared is None else declared))
                self.end_headers()
                chunk = b"x" * 65536
                left = answer_bytes
                try:
                    while left > 0:
                        self.wfile.write(chunk[: min(left, len(chunk))])
                        left -= len(chunk)
                except OSError:
                    pass  # the agent stopped reading: that is the point

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def webhook_of(agent, eid: str, timeout: float = 60.0) -> dict:
    def settled():
        rec = agent.get(f"/execute/processes/{eid}").json()
        return rec if rec["webhook"]["status"] in ("delivered", "failed") else None

    return wait_for(settled, timeout)["webhook"]


# --- class 7: webhooks reach where they should not ---


def test_webhooks_refuse_inward_destinations_after_resolution(agent_factory):
    agent = agent_factory(webhook_allow_private="0", webhook_backoff="0.1")
    hook = Receiver()
    try:
        targets = [
            f"http://127.0.0.1:{hook.port}/hook",
            f"http://2130706433:{hook.port}/hook",  # loopback, decimal-encoded
            f"http://localhost:{hook.port}/hook",  # a name that resolves inward
            "http://169.254.169.254/latest/meta-data/",  # link-local metadata
            "http://10.0.0.1/hook",
            "http://[::ffff:127.0.0.1]:9/hook",
            "http://224.0.0.1/hook",
        ]
        eids = [
            agent.post("/execute/async", {"code": "1", "callback_url": url}).json()["execution_id"] for url in targets
        ]
        for url, eid in zip(targets, eids, strict=True):
            webhook = webhook_of(agent, eid)
            assert webhook["status"] == "failed", (url, webhook)
            assert webhook["attempts"] == 1 and webhook["last_status_code"] is None, (url, webhook)
            assert "not allowed" in webhook["last_error"], (url, webhook)
        assert hook.hits == 0
    finally:
        hook.close()


def test_webhook_never_forwards_the_agents_token(agent):
    body = {"code": "1", "callback_url": "http://127.0.0.1:9/hook"}
    for value in (f"Bearer {agent.token}", agent.token, f"Bearer {make_token(ttl=60)}"):
        r = agent.post("/execute/async", {**body, "callback_headers": {"X-Fwd": value}})
        assert r.status_code == 400, r.text
        assert r.json()["details"]["field"] == "callback_headers.X-Fwd"
    r = agent.post("/execute/async", {**body, "callback_headers": {"Authorization": "Bearer someone-elses"}})
    assert r.status_code == 200, r.text


def test_webhook_answer_is_not_read_whole(agent):
    """A receiver that announces 1 GiB: the agent reads its status, not the body (capped)."""
    hook = Receiver(answer_bytes=8 << 20, declared=1 << 30)
    try:
        eid = agent.post("/execute/async", {"code": "1", "callback_url": f"http://127.0.0.1:{hook.port}/hook"}).json()[
            "execution_id"
        ]
        webhook = webhook_of(agent, eid)
        assert webhook["status"] == "delivered" and webhook["last_status_code"] == 200, webhook
        assert webhook["attempts"] == 1 and hook.hits == 1
    finally:
        hook.close()


# --- class 2: bad input that reaches deep code ---


def test_symlink_loop_is_a_400_on_every_file_route(agent):
    loop = agent.workspace / "harden-loop"
    if not loop.is_symlink():
        loop.symlink_to("harden-loop")
    path = str(loop)
    answers = {
        "read": agent.get("/files/read", params={"path": path}),
        "list": agent.get("/files/list", params={"path": path}),
        "download": agent.get("/files/download", params={"path": path}),
        "write": agent.post("/files/write", json={"path": path, "content": "x"}),
        "write under": agent.post("/files/write", json={"path": path + "/x", "content": "x"}),
        "mkdir under": agent.post("/files/mkdir", json={"path": path + "/x"}),
        "upload": agent.post("/files/upload", data={"path": path}, files={"file": ("f", b"x")}),
    }
    for name, r in answers.items():
        assert r.status_code < 500, (name, r.status_code, r.text)
    for name in ("read", "list", "download", "write"):
        body = answers[name].json()
        assert answers[name].status_code == 400 and body["code"] == "INVALID_PATH", (name, body)


# --- class 1: registered work that cannot finish; shutdown bounded whatever state jobs are in ---


def test_shutdown_is_bounded_with_a_job_that_ignores_sigterm(agent_factory):
    agent = agent_factory(kill_grace="60", shutdown_timeout="3")
    r = agent.post("/commands/background", {"command": "trap '' TERM; echo ready; while :; do sleep 0.2; done"})
    assert r.status_code == 200, r.text
    pid = r.json()["pid"]
    wait_for(lambda: "ready" in agent.get(f"/execute/processes/{r.json()['process_id']}").json()["stdout"])
    t0 = time.monotonic()
    agent.proc.send_signal(signal.SIGTERM)
    agent.proc.wait(30)
    assert time.monotonic() - t0 < 10, "shutdown waited on a job that ignores SIGTERM"
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 5)


# --- class 3: unbounded memory ---


def test_result_is_capped_like_stdout(agent):
    out = agent.execute("'x' * 3_000_000")
    assert len(out["result"].encode()) < (1 << 20) + 200, len(out["result"])
    assert out["truncated"] is True and out["truncation"]["result"] is True
    assert "output truncated by kernelagent" in out["result"]


def finished(rec: dict) -> dict | None:
    return rec if rec["status"] in ("completed", "failed", "killed", "timeout") else None


def test_finished_job_records_keep_bounded_results(agent):
    code = "from IPython.display import HTML, display\ndisplay(HTML('<p>' + 'x' * 3_000_000))\n'y' * 3_000_000"
    pid = agent.post("/execute/background", {"code": code}).json()["process_id"]
    rec = wait_for(
        lambda: (lambda r: r if r["status"] == "completed" else None)(agent.get(f"/execute/processes/{pid}").json())
    )
    assert len(json.dumps(rec)) < 2 << 20, len(json.dumps(rec))
    assert rec["truncated"] is True and rec["rich_outputs"] == [] and "html" not in rec
    listing = agent.get("/execute/processes")
    assert len(listing.content) < 8 << 20


def ws(agent, path: str) -> str:
    return agent.url.replace("http://", "ws://") + path


def test_stream_to_a_client_that_does_not_read_is_bounded(agent_factory):
    agent = agent_factory(ws_buffer_bytes=str(64 << 10), max_stdout_bytes=str(64 << 20))
    code = "import sys\nfor i in range(60):\n    sys.stdout.write('x' * 500_000 + '\\n'); sys.stdout.flush()\n"

    async def slow_reader():
        headers = {"Authorization": f"Bearer {agent.token}"}
        async with connect(ws(agent, "/execute/stream"), additional_headers=headers, max_queue=1) as sock:
            await sock.send(json.dumps({"type": "execute", "code": code, "timeout": 60}))
            await asyncio.sleep(6)  # not reading while the cell prints 30 MB
            async for raw in sock:
                frame = json.loads(raw)
                if frame["type"] == "result":
                    return frame
        return None

    async def vanishing_reader():
        headers = {"Authorization": f"Bearer {agent.token}"}
        sock = await connect(ws(agent, "/execute/stream"), additional_headers=headers, max_queue=1)
        await sock.send(json.dumps({"type": "execute", "code": code, "timeout": 60}))
        await asyncio.sleep(2)
        sock.transport.abort()  # gone mid-stream, with writes pending

    result = asyncio.run(slow_reader())
    assert result is not None and result["dropped_frames"] > 0 and result["truncated"] is True, result
    asyncio.run(vanishing_reader())
    time.sleep(2)
    assert agent.execute("1")["success"]
    assert "exception was never retrieved" not in agent.log.read_text()


def test_made_up_methods_add_no_metrics_series(agent):
    for method in ("FOO1", "FOO2", "FOO3"):
        httpx.request(method, agent.url + "/execute")
    text = agent.get("/metrics/prometheus").text
    assert "FOO" not in text


# --- class 4: sessions outlive their token ---


@pytest.mark.parametrize("path", ["/execute/stream", "/files/watch", "/terminal"])
def test_sockets_close_when_their_token_expires(agent_factory, path):
    agent = agent_factory(jwt_leeway="0")
    token = make_token(ttl=2)

    async def session():
        async with connect(ws(agent, path) + f"?token={token}") as sock:
            t0 = time.monotonic()
            try:
                while True:
                    await asyncio.wait_for(sock.recv(), 10)
            except websockets.exceptions.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None, time.monotonic() - t0
            except TimeoutError:
                return None, time.monotonic() - t0

    code, elapsed = asyncio.run(session())
    assert code == 4001 and elapsed < 6, (code, elapsed)
    assert token not in agent.log.read_text()  # the query-string token is redacted from the access log


# --- class 6: limits that races or sizes get past ---


def closed_within(agent, payload: bytes, seconds: float) -> bool:
    """Open a raw connection, send `payload`, and say whether the agent closed it in time."""
    host, port = agent.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(payload)
        sock.settimeout(seconds)
        try:
            while sock.recv(4096):
                pass
            return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True


def test_idle_and_slow_connections_are_closed(agent_factory):
    agent = agent_factory(idle_timeout="1", body_timeout="2")
    assert closed_within(agent, b"", 5), "an idle connection was held open"
    assert closed_within(agent, b"GET /health HTTP/1.1\r\nHost: x\r\n", 5), "half-sent headers were waited on"
    body = b"POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
    assert closed_within(agent, body, 6), "a body that never ends was waited on"
    assert agent.get("/health").status_code == 200


def test_one_connection_cannot_take_every_watch(agent_factory):
    agent = agent_factory(max_watchers="4", max_watchers_per_connection="2")
    for i in range(4):
        (agent.workspace / f"d{i}").mkdir()

    async def greedy():
        headers = {"Authorization": f"Bearer {agent.token}"}
        async with connect(ws(agent, "/files/watch"), additional_headers=headers) as first:
            for i in range(3):
                await first.send(json.dumps({"action": "watch", "path": str(agent.workspace / f"d{i}")}))
            await first.send(json.dumps({"action": "ping"}))
            frames = []
            while not frames or frames[-1]["type"] != "pong":
                frames.append(json.loads(await first.recv()))
            async with connect(ws(agent, "/files/watch"), additional_headers=headers) as second:
                await second.send(json.dumps({"action": "watch", "path": str(agent.workspace / "d3")}))
                await second.send(json.dumps({"action": "ping"}))
                other = json.loads(await second.recv())
            return frames, other

    frames, other = asyncio.run(greedy())
    errors = [f for f in frames if f["type"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == "RATE_LIMIT_EXCEEDED", frames
    assert other["type"] == "pong", other  # the second connection still got its watch


# --- class 8: secrets and leftovers ---


def test_state_dir_is_private_and_holds_the_runtime_dir(tmp_path):
    short = Path(tempfile.mkdtemp(prefix="ka", dir="/tmp"))  # kernels' socket paths must stay short
    state = short / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    stale = state / "runtime" / "run-4194999"  # a killed agent's leftover, keys included
    stale.mkdir(parents=True)
    (stale / "kernel-x.json").write_text('{"key": "secret"}')
    agent = start_agent(tmp_path, {"KERNELAGENT_WARM_LANGUAGES": "python", "KERNELAGENT_STATE_DIR": str(state)})
    run = state / "runtime" / f"run-{agent.proc.pid}"
    try:
        assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
        assert not stale.exists()
        assert stat.S_IMODE(os.stat(run).st_mode) & 0o777 == 0o700  # (jupyter adds the sticky bit)
        assert list(run.glob("kernel-*.json")), "the kernels' connection files live under the state dir"
    finally:
        agent.close()
        assert not run.exists()
        shutil.rmtree(short, ignore_errors=True)


@pytest.mark.parametrize("mode", ["4755", "2755", "1777", "6777", "0o4700"])
def test_files_write_refuses_privileged_modes(agent, mode):
    r = agent.post("/files/write", {"path": str(agent.workspace / "suid"), "content": "x", "mode": mode})
    assert r.status_code == 400 and r.json()["details"]["field"] == "mode", r.text
    assert not (agent.workspace / "suid").exists()


# --- class 5: process trees that escape by setsid or double fork ---


def escaped(tag: str) -> list[psutil.Process]:
    """Live processes whose command line carries `tag`."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if tag in " ".join(p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


def escaping(seconds: int) -> str:
    """A shell snippet that leaves two sleepers behind, out of its session and out of its parentage."""
    return f"setsid sleep {seconds} & (setsid sh -c 'sleep {seconds}' &) ; "


def assert_ended(tag: str) -> None:
    try:
        wait_for(lambda: not escaped(tag), 15)
    except AssertionError:
        left = escaped(tag)
        for p in left:
            p.kill()
        raise AssertionError(f"escaped the tree: {[p.info['cmdline'] for p in left]}") from None


def tag() -> int:
    return 4_000_000 + int.from_bytes(os.urandom(3), "big")


def test_command_deadline_ends_escaped_children(agent):
    n = tag()
    r = agent.post("/commands/run", {"command": escaping(n) + "sleep 60", "timeout": 1})
    assert r.status_code == 200 and r.json()["timed_out"] is True, r.text
    assert_ended(f"sleep {n}")


def test_background_kill_ends_escaped_children(agent):
    n = tag()
    pid = agent.post("/commands/background", {"command": escaping(n) + "sleep 60"}).json()["process_id"]
    wait_for(lambda: len(escaped(f"sleep {n}")) >= 2, 10)
    assert agent.post(f"/execute/kill/{pid}").status_code == 200
    assert_ended(f"sleep {n}")


def test_deleted_context_ends_escaped_children(agent):
    n = tag()
    ctx = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    code = f"import subprocess\nsubprocess.run(['sh', '-c', {escaping(n)!r} + 'true'])"
    assert agent.execute(code, context_id=ctx)["success"]
    wait_for(lambda: len(escaped(f"sleep {n}")) >= 2, 10)
    assert agent.delete(f"/contexts/{ctx}").status_code == 200
    assert_ended(f"sleep {n}")


def test_closed_terminal_ends_escaped_children(agent):
    n = tag()

    async def session():
        async with connect(ws(agent, "/terminal") + f"?token={agent.token}") as sock:
            await sock.send(json.dumps({"type": "input", "data": escaping(n) + "echo started\n"}))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(escaped(f"sleep {n}")) < 2:
                await asyncio.sleep(0.1)

    asyncio.run(session())
    assert_ended(f"sleep {n}")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "9999999999"},
        {"exp": [1]},
        {"exp": None},
        {"nbf": "soon"},
        {"nbf": [1]},
        {"nbf": {"a": 1}},
        {"iat": "now"},
        {"iat": [1]},
        {"aud": 5},
    ],
)
def test_jwt_claims_of_the_wrong_type_are_401_every_time(agent, claims):
    now = int(time.time())
    token = jwt.encode({"sub": "t", "iat": now, "exp": now + 600, **claims}, SECRET, algorithm="HS256")
    for _ in range(2):  # a token must not be accepted once, cached, and fail differently after
        r = httpx.get(agent.url + "/info", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (200, 401), (claims, r.status_code, r.text)
    assert r.status_code == 401 or claims == {"aud": 5}, (claims, r.text)


@pytest.mark.parametrize("path", ["/execute/stream", "/files/watch", "/terminal"])
def test_deep_or_broken_frames_keep_the_socket(agent, path):
    bad = ["[" * 100_000 + "]" * 100_000, '{"type": "input", "data": "\\ud800"}', "\udcff", "{" * 50_000]

    async def session():
        async with connect(ws(agent, path) + f"?token={agent.token}") as sock:
            for frame in bad:
                await sock.send(frame.encode("utf-8", "surrogatepass"))
            await sock.send(json.dumps({"type": "ping", "action": "ping"}))
            await asyncio.sleep(1)
            return sock.close_code

    assert asyncio.run(session()) is None  # still open: nothing broke it
    assert agent.get("/health").status_code == 200


def test_lone_surrogates_in_query_strings_are_not_5xx(agent):
    for path in ("/files/read", "/files/list", "/files/exists", "/files/download", "/execute/processes"):
        r = agent.get(path + "?path=/tmp/%ED%B2%80x&output=%ED%B2%80")
        assert r.status_code < 500, (path, r.status_code, r.text)


def test_a_body_field_cannot_rebind_an_idempotency_key(agent):
    key = {"Idempotency-Key": f"harden-{os.urandom(6).hex()}"}
    first = agent.post("/commands/run", {"command": "echo once", "endpoint": "/execute"}, headers=key)
    assert first.status_code == 200, first.text
    again = agent.post("/execute", {"code": "print('twice')", "endpoint": "/commands/run"}, headers=key)
    assert again.status_code == 422, again.text
    replay = agent.post("/commands/run", {"command": "echo once", "endpoint": "/elsewhere"}, headers=key)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true", replay.text
