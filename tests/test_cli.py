"""The command line: `kernelagent serve` with no key generates one, prints a token and keeps it private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import httpx
from conftest import ROOT, free_port


def test_serve_without_key_generates_token(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERNELAGENT_")}
    env.update(
        {"KERNELAGENT_STATE_DIR": str(tmp_path / "state"), "KERNELAGENT_POOL_SIZE": "0", "PYTHONPATH": str(ROOT)}
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "kernelagent", "serve", "--port", str(port), "--workspace", str(tmp_path / "ws")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        token_line = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not token_line:
            line = proc.stdout.readline()
            if line.startswith("token"):
                token_line = line
        token = token_line.rsplit(" ", 1)[-1].strip()
        token_file = tmp_path / "state" / "token"
        assert token_file.read_text().strip() == token
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "state" / "secret").stat().st_mode) == 0o600
        assert (tmp_path / "ws").is_dir()
        r = httpx.get(f"http://127.0.0.1:{port}/info", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200
        # `kernelagent token` mints another valid token for the same key
        minted = subprocess.run(
            [sys.executable, "-m", "kernelagent", "token", "--ttl", "60"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        r = httpx.get(f"http://127.0.0.1:{port}/info", headers={"Authorization": f"Bearer {minted}"}, timeout=10)
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(30)


def test_kernels_end_with_an_agent_killed_outright(agent_factory):
    """SIGKILL leaves the agent no chance to clean up: every kernel must notice and exit by itself."""
    import signal

    import psutil

    a = agent_factory(warm_languages="all")
    kids = psutil.Process(a.proc.pid).children(recursive=True)
    assert len(kids) >= 5
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait(10)
    deadline = time.monotonic() + 15
    alive = kids
    while alive and time.monotonic() < deadline:
        alive = [k for k in alive if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.2)
    for k in alive:
        k.kill()
    assert not alive, [k.name() for k in alive]
