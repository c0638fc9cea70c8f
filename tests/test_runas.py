"""run_as_user: kernels, commands, background commands and terminals run as an unprivileged user.

Needs root (as CI runs): a throwaway system user, `kagenttest`, is made for the module (and
removed after, if it was made here). Where the agent's Python sits under a directory others may
not enter (/root with pyenv), that directory is opened for traversal (o+x) for the module's
duration and closed again after: the user must be able to run the kernels' interpreter.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from conftest import ROOT, start_agent
from websockets.asyncio.client import connect

USER = "kagenttest"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None, reason="needs root and useradd to make a throwaway user"
)


def _open_for_traversal(paths: list[str]) -> dict[str, int]:
    """Give others o+x on every ancestor of `paths` that lacks it; the modes before, to restore."""
    changed: dict[str, int] = {}
    for path in paths:
        for parent in Path(path).resolve().parents:
            mode = os.stat(parent).st_mode
            if not mode & stat.S_IXOTH and str(parent) not in changed:
                changed[str(parent)] = stat.S_IMODE(mode)
                os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
    return changed


@pytest.fixture(scope="module")
def user():
    made = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", USER], check=True)
        made = True
    changed = _open_for_traversal([os.path.realpath(sys.executable), sys.executable, str(ROOT)])
    yield pwd.getpwnam(USER)
    for path, mode in changed.items():
        os.chmod(path, mode)
    if made:
        subprocess.run(["userdel", USER], check=False)


@pytest.fixture(scope="module")
def agent(user):
    base = Path(tempfile.mkdtemp(prefix="kagent-runas-", dir="/tmp"))
    base.chmod(0o755)  # the workspace below must be reachable by the user
    env = {"KERNELAGENT_RUN_AS_USER": USER, "KERNELAGENT_WARM_LANGUAGES": "python,bash"}
    a = start_agent(base, env, workspace=base / "ws")  # not made here: the agent creates it
    yield a
    a.close()
    shutil.rmtree(base, ignore_errors=True)


def run(agent, command: str, **fields) -> dict:
    r = agent.post("/commands/run", {"command": command, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(fn, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def home_of(user) -> str:
    """Its home, or, where it has none it can write (useradd --no-create-home), the agent's stand-in."""
    if os.path.isdir(user.pw_dir):
        return user.pw_dir
    return os.path.join(tempfile.gettempdir(), f"kernelagent-{os.getuid()}-runas", f"home-{USER}")


def test_execute_runs_as_the_user(agent, user):
    out = agent.execute("import os; print(os.getuid(), os.getgid(), os.environ['HOME'], os.environ['USER'])")
    assert out["success"], out
    assert out["stdout"].split() == [str(user.pw_uid), str(user.pw_gid), home_of(user), USER]
    assert os.stat(home_of(user)).st_uid == user.pw_uid and stat.S_IMODE(os.stat(home_of(user)).st_mode) == 0o700
    bash = agent.execute("id -u; echo $LOGNAME", language="bash")
    assert bash["stdout"].split() == [str(user.pw_uid), USER], bash


def test_agent_environment_is_unreadable_from_execute_and_commands(agent):
    environ = f"/proc/{agent.proc.pid}/environ"
    out = agent.execute(f"open({environ!r}, 'rb').read()")
    assert not out["success"] and out["error"]["ename"] == "PermissionError", out
    cmd = run(agent, f"cat {environ}")
    assert cmd["exit_code"] != 0 and "Permission denied" in cmd["stderr"], cmd
    mem = run(agent, f"head -c 16 /proc/{agent.proc.pid}/mem")
    assert mem["exit_code"] != 0, mem


def test_state_dir_is_unreadable(agent):
    state = str(agent.workspace.parent / "state")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    out = agent.execute(f"import os; os.listdir({state!r})")
    assert not out["success"] and out["error"]["ename"] == "PermissionError", out
    cmd = run(agent, f"ls {state}")
    assert cmd["exit_code"] != 0, cmd


def test_commands_and_background_commands_run_as_the_user(agent, user):
    assert run(agent, "id -u; echo $HOME")["stdout"].split() == [str(user.pw_uid), home_of(user)]
    job = agent.post("/commands/background", {"command": "id -u; id -g"}).json()

    def finished() -> dict | None:
        rec = agent.get(f"/execute/processes/{job['process_id']}").json()
        return rec if rec["status"] in ("completed", "failed") else None

    rec = wait_for(finished)
    assert rec["status"] == "completed" and rec["stdout"].split() == [str(user.pw_uid), str(user.pw_gid)], rec


def test_terminal_runs_as_the_user(agent, user):
    async def session() -> str:
        url = agent.url.replace("http://", "ws://") + f"/terminal?token={agent.token}"
        seen = ""
        async with connect(url) as sock:
            await sock.send(json.dumps({"type": "input", "data": "echo uid=$(id -u)=$USER=\n"}))
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and f"uid={user.pw_uid}={USER}=" not in seen:
                frame = json.loads(await asyncio.wait_for(sock.recv(), 15))
                seen += frame.get("data", "")
        return seen

    assert f"uid={user.pw_uid}={USER}=" in asyncio.run(session())


def test_deadline_still_interrupts(agent):
    started = time.monotonic()
    out = agent.execute("import time; time.sleep(60)", timeout=1)
    assert not out["success"] and out["error"]["code"] == "EXECUTION_TIMEOUT", out
    assert time.monotonic() - started < 20
    assert agent.execute("print(40 + 2)")["stdout"].strip() == "42"
    cmd = run(agent, "sleep 60", timeout=1)
    assert cmd["exit_code"] == 124 and cmd["timed_out"], cmd


def test_kill_still_ends_the_tree(agent, user):
    n = 4_000_000 + int.from_bytes(os.urandom(3), "big")
    job = agent.post("/commands/background", {"command": f"setsid sleep {n} & sleep {n}; wait"}).json()

    def sleepers() -> list[psutil.Process]:
        procs = psutil.process_iter(["cmdline", "uids", "status"])
        live = [p for p in procs if p.info["status"] != psutil.STATUS_ZOMBIE]
        return [p for p in live if f"sleep {n}" in " ".join(p.info["cmdline"] or [])]

    found = wait_for(lambda: len(sleepers()) >= 2 and sleepers(), 10)
    assert all(p.info["uids"].real == user.pw_uid for p in found)
    assert agent.post(f"/execute/kill/{job['process_id']}").status_code == 200
    wait_for(lambda: not sleepers(), 15)


def test_files_written_by_code_are_the_users(agent, user):
    assert os.stat(agent.workspace).st_uid == user.pw_uid  # the agent created it, for the user
    out = agent.execute("open('made-by-code.txt', 'w').write('x')")
    assert out["success"], out
    assert os.stat(agent.workspace / "made-by-code.txt").st_uid == user.pw_uid


def test_an_unknown_user_stops_the_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERNELAGENT_")}
    env.update(KERNELAGENT_RUN_AS_USER="no-such-user-kagent", KERNELAGENT_STATE_DIR=str(tmp_path / "state"))
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "kernelagent", "serve", "--port", "1", "--workspace", str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "no local user called 'no-such-user-kagent'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_files_and_directories_made_through_the_file_api_are_the_users(agent, user):
    ws = str(agent.workspace)
    r = agent.post("/files/write", {"path": f"{ws}/api/deep/given.txt", "content": "from the api"})
    assert r.status_code == 200, r.text
    assert agent.post("/files/mkdir", {"path": f"{ws}/made/dir"}).status_code == 200
    files = {"file": ("up.bin", b"\0" * 1000)}
    r = agent.http.post("/files/upload", params={"path": f"{ws}/api/up.bin"}, files=files)
    assert r.status_code == 200, r.text
    for rel in ("api", "api/deep", "api/deep/given.txt", "api/up.bin", "made", "made/dir"):
        assert os.stat(agent.workspace / rel).st_uid == user.pw_uid, rel
    out = agent.execute(
        "open('api/deep/given.txt', 'a').write(' and the code'); print(open('api/deep/given.txt').read())"
    )
    assert out["stdout"].strip() == "from the api and the code", out
    # a file that exists keeps its owner when the API writes it again
    root_owned = agent.workspace / "root-owned.txt"
    root_owned.write_text("x")
    assert agent.post("/files/write", {"path": f"{ws}/root-owned.txt", "content": "y"}).status_code == 200
    assert os.stat(root_owned).st_uid == 0


def test_forked_kernels_become_the_user_whole(agent, user):
    """A kernel forked from the template (which runs as the agent) takes the user's ids and groups as
    a launched one does, and stays dumpable: it can read its own /proc files."""
    agent.execute("1")
    assert agent.get("/contexts/default-python").json()["kernel_mode"] == "fork"
    out = agent.execute(
        "import os\nwith open('/proc/self/environ', 'rb') as f: marked = b'KA_TREE=' in f.read()\n"
        "print(os.getresuid(), os.getresgid(), sorted(os.getgroups()), marked)"
    )
    uid, gid, groups = user.pw_uid, user.pw_gid, sorted(os.getgrouplist(USER, user.pw_gid))
    assert out["stdout"] == f"({uid}, {uid}, {uid}) ({gid}, {gid}, {gid}) {groups} True\n", out
