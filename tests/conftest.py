"""Fixtures: the real agent, started on a free port with a real key, driven over HTTP and the SDK."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_SHELL = ROOT / "tests" / "bin" / "bash-norc"  # bash without the host's rc files
SECRET = "test-secret-" + "x" * 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_token(secret: str = SECRET, ttl: int = 3600, **claims) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "test", "iat": now, "exp": now + ttl, **claims}, secret, algorithm="HS256")


class Agent:
    """A running kernelagent process and the means to talk to it."""

    def __init__(self, url: str, token: str, workspace: Path, proc: subprocess.Popen, log: Path):
        self.url = url
        self.token = token
        self.workspace = workspace
        self.proc = proc
        self.log = log
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)

    def post(self, path: str, json=None, **kw) -> httpx.Response:
        return self.http.post(path, json=json, **kw)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)

    def delete(self, path: str, **kw) -> httpx.Response:
        return self.http.delete(path, **kw)

    def execute(self, code: str, **fields) -> dict:
        r = self.post("/execute", {"code": code, **fields})
        assert r.status_code == 200, r.text
        return r.json()

    def sdk(self):
        from hopx_ai import Sandbox
        from hopx_ai._ws_client import WebSocketClient

        sb = Sandbox.debug(agent_url=self.url, jwt_token=self.token)
        sb._ws_client = WebSocketClient(self.url, self.token)
        return sb

    def close(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_agent(
    tmp: Path, extra_env: dict[str, str] | None = None, token: str | None = None, workspace: Path | None = None
) -> Agent:
    """An agent on a free port, its state in `tmp`; `workspace` (default `tmp/workspace`, made
    here) may name a directory that does not exist yet, which the agent then creates."""
    port = free_port()
    if workspace is None:
        workspace = tmp / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERNELAGENT_")}
    env.update(
        {
            "KERNELAGENT_JWT_SECRET": SECRET,
            "KERNELAGENT_STATE_DIR": str(tmp / "state"),
            "KERNELAGENT_CULL_INTERVAL": "1",
            "KERNELAGENT_WEBHOOK_ALLOW_PRIVATE": "1",  # the tests' webhook receivers listen on loopback
            "KERNELAGENT_TERMINAL_SHELL": str(TEST_SHELL),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra_env or {})
    log = tmp / "agent.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kernelagent", "serve", "--port", str(port), "--workspace", str(workspace)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    agent = Agent(url, token or make_token(), workspace, proc, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited early:\n{log.read_text()}")
        try:
            r = httpx.get(url + "/health", timeout=2)
            pool = r.json().get("pool", {})
            if r.status_code == 200 and all(p["ready"] >= p["target"] for p in pool.values()):
                return agent
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    agent.close()
    raise RuntimeError(f"agent did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="session")
def agent(tmp_path_factory) -> Agent:
    """One agent for the whole session; tests that break state use their own contexts."""
    a = start_agent(tmp_path_factory.mktemp("agent"))
    yield a
    a.close()


@pytest.fixture
def agent_factory(tmp_path):
    """Start a private agent with extra settings (KERNELAGENT_* variables)."""
    started: list[Agent] = []

    def make(**env: str) -> Agent:
        env.setdefault("warm_languages", "python")  # private agents start fast; say so to warm others
        a = start_agent(tmp_path / f"a{len(started)}", {f"KERNELAGENT_{k.upper()}": str(v) for k, v in env.items()})
        started.append(a)
        return a

    yield make
    for a in started:
        a.close()


@pytest.fixture
def sdk(agent):
    return agent.sdk()
