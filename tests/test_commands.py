"""Shell commands: both forms, deadlines that end whole process trees, bounded output, bad input."""

from __future__ import annotations

import os
import threading
import time

import httpx
import psutil
import pytest


def gone(pid: int) -> bool:
    """True once a process has exited (a zombie waiting for an absent reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_shell_string(agent):
    r = agent.post("/commands/run", {"command": "echo $((1+2)); echo oops >&2; exit 3"})
    assert r.status_code == 200
    data = r.json()
    assert data["stdout"] == "3\n"
    assert data["stderr"] == "oops\n"
    assert data["exit_code"] == 3 and data["success"] is False
    assert data["command"] == "echo $((1+2)); echo oops >&2; exit 3"
    assert isinstance(data["pid"], int) and data["execution_time"] >= 0 and data["timestamp"].endswith("Z")


def test_argv_is_not_shell_parsed(agent):
    r = agent.post("/commands/run", {"command": "printf", "args": ["%s|", "a b", "$HOME", ";echo x"]})
    assert r.status_code == 200
    assert r.json()["stdout"] == "a b|$HOME|;echo x|"
    assert r.json()["exit_code"] == 0 and r.json()["success"] is True


def test_env_and_both_workdir_spellings(agent):
    sub = agent.workspace / "cmd-dir"
    sub.mkdir(exist_ok=True)
    for key in ("workdir", "working_dir"):
        r = agent.post(
            "/commands/run", {"command": "bash", "args": ["-c", 'echo "$K|$PWD"'], "env": {"K": "v 1"}, key: str(sub)}
        )
        assert r.status_code == 200, r.text
        assert r.json()["stdout"] == f"v 1|{sub}\n"


def test_default_workdir_is_the_workspace(agent):
    r = agent.post("/commands/run", {"command": "pwd"})
    assert r.json()["stdout"].strip() == str(agent.workspace)


def test_sdk_commands_run(agent):
    sb = agent.sdk()
    res = sb.commands.run("echo hello && echo $GREETING >&2 && false", env={"GREETING": "hi"})
    assert res.stdout == "hello\n"
    assert res.stderr == "hi\n"
    assert res.exit_code == 1


def test_missing_program_is_an_exit_code_not_an_error(agent):
    r = agent.post("/commands/run", {"command": "/nonexistent/prog", "args": []})
    assert r.status_code == 200
    assert r.json()["exit_code"] == 127 and "not found" in r.json()["stderr"]


@pytest.mark.parametrize(
    "body,code",
    [
        ({}, "MISSING_PARAMETER"),
        ({"command": ""}, "MISSING_PARAMETER"),
        ({"command": 5}, "INVALID_REQUEST"),
        ({"command": "ls", "args": "-l"}, "INVALID_REQUEST"),
        ({"command": "ls", "args": ["-l", 3]}, "INVALID_REQUEST"),
        ({"command": "ls", "timeout": "soon"}, "INVALID_REQUEST"),
        ({"command": "ls", "timeout": -1}, "INVALID_REQUEST"),
        ({"command": "ls", "timeout": 10**9}, "INVALID_REQUEST"),
        ({"command": "ls", "workdir": "/no/such/dir"}, "DIRECTORY_NOT_FOUND"),
        ({"command": "ls", "working_dir": "relative/dir"}, "INVALID_PATH"),
        ({"command": "ls", "env": {"A": 1.5, "B": None}}, "INVALID_REQUEST"),
    ],
)
def test_bad_input_is_400(agent, body, code):
    r = agent.post("/commands/run", body)
    assert r.status_code == 400, r.text
    data = r.json()
    assert data["code"] == code and data["error"] and data["message"]
    assert r.headers["content-type"].startswith("application/json")


def test_deadline_ends_the_whole_tree(agent, tmp_path):
    """A grandchild in the group and one that left it with setsid both die; output so far comes back."""
    pids = tmp_path / "pids"
    script = f"echo started; sleep 300 & echo $! > {pids}; setsid sleep 301 & echo $! >> {pids}; sleep 302"
    t0 = time.monotonic()
    r = agent.post("/commands/run", {"command": "bash", "args": ["-c", script], "timeout": 1})
    elapsed = time.monotonic() - t0
    assert r.status_code == 200
    data = r.json()
    assert data["timed_out"] is True and data["success"] is False and data["exit_code"] == 124
    assert data["error"]["code"] == "EXECUTION_TIMEOUT"
    assert data["stdout"] == "started\n"
    assert "timed out" in data["stderr"]
    assert elapsed < 15
    children = [int(p) for p in pids.read_text().split()]
    assert len(children) == 2
    for pid in children + [data["pid"]]:
        assert wait_gone(pid), f"process {pid} survived the deadline"


def test_deadline_kills_what_ignores_sigterm(agent, tmp_path):
    pidfile = tmp_path / "pid"
    script = f"trap '' TERM; sleep 300 & echo $! > {pidfile}; wait; wait"
    t0 = time.monotonic()
    r = agent.post("/commands/run", {"command": "bash", "args": ["-c", script], "timeout": 1})
    assert r.status_code == 200 and r.json()["timed_out"] is True
    assert time.monotonic() - t0 < 20  # SIGKILL after the grace (3 s by default)
    assert wait_gone(int(pidfile.read_text()))
    assert wait_gone(r.json()["pid"])


def test_left_in_background_does_not_hang(agent, tmp_path):
    """A daemon started with & keeps the pipes open; the command still answers when its shell exits."""
    pidfile = tmp_path / "pid"
    t0 = time.monotonic()
    r = agent.post("/commands/run", {"command": f"sleep 60 & echo $! > {pidfile}; echo done", "timeout": 30})
    assert r.status_code == 200 and r.json()["stdout"] == "done\n" and r.json()["exit_code"] == 0
    assert time.monotonic() - t0 < 10
    os.kill(int(pidfile.read_text()), 9)


def test_output_is_bounded(agent):
    r = agent.post("/commands/run", {"command": "head -c 3000000 /dev/zero | tr '\\0' a"})
    assert r.status_code == 200
    data = r.json()
    assert data["truncated"] is True
    assert data["stdout"].startswith("a" * 1000)
    assert len(data["stdout"]) < (1 << 20) + 200
    assert "truncated" in data["stdout"][-200:]


def test_utf8_output(agent):
    r = agent.post("/commands/run", {"command": "printf 'h\\303\\251llo \\342\\234\\223\\n'"})
    assert r.json()["stdout"] == "héllo ✓\n"


def test_commands_do_not_block_the_loop(agent):
    """While a command sleeps, the agent keeps answering."""
    result = {}

    def slow():
        result["r"] = agent.post("/commands/run", {"command": "sleep 2; echo slept"})

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    with httpx.Client(base_url=agent.url, headers={"Authorization": f"Bearer {agent.token}"}) as c:
        for _ in range(5):
            assert c.get("/health").status_code == 200
            assert c.post("/commands/run", json={"command": "true"}).json()["exit_code"] == 0
    assert time.monotonic() - t0 < 1.5
    thread.join()
    assert result["r"].json()["stdout"] == "slept\n"
