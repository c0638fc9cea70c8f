"""Hardening (issue 10): one test per class of what a hostile or careless caller got through."""

from __future__ import annotations

import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
from conftest import make_token


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
