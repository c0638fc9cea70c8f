"""Guards of issue 17, each against the real agent over HTTP/WebSocket (real kernels, real processes):

1. paths whose last component is `.` or `..` (remove, write, mkdir, upload, list);
2. a cached token stops working when it expires (HTTP and WebSocket upgrades);
3. one run at a time per context: a second run waits its turn, its timeout counts from its start;
4. truncation of one stream alone says which stream was cut (/execute, /commands/run, jobs);
5. an orphan left in the command's process group dies at the deadline and on a kill;
6. a context busy running is never culled as idle.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import httpx
import jwt
import psutil
import pytest
import websockets
from conftest import make_token, start_agent
from websockets.asyncio.client import connect

MARKER = "output truncated by kernelagent"


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll predicate() until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Background:
    """An HTTP request run in a thread, so the test can look at the agent while it is in flight."""

    def __init__(self, fn, *args, **kwargs):
        self.response = None
        self.error: BaseException | None = None
        self.finished_at: float | None = None

        def run():
            try:
                self.response = fn(*args, **kwargs)
            except BaseException as exc:  # surfaced by result()
                self.error = exc
            finally:
                self.finished_at = time.monotonic()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def done(self) -> bool:
        return not self.thread.is_alive()

    def result(self, timeout: float) -> httpx.Response:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"request still running after {timeout} s"
        if self.error is not None:
            raise self.error
        return self.response


# --- 1. paths ending in `.` or `..` ------------------------------------------------------------------


@pytest.fixture(scope="module")
def files_agent(tmp_path_factory):
    """A private agent without kernels whose only allowed root is its workspace, so that the
    workspace's parent (which holds an `outside` directory) is out of reach."""
    a = start_agent(
        tmp_path_factory.mktemp("dots"),
        {
            "KERNELAGENT_ALLOWED_ROOTS": "{workspace}",
            "KERNELAGENT_WARM_LANGUAGES": "",
        },
    )
    yield a
    a.close()


@pytest.fixture
def tree(files_agent):
    """A fresh tree in the workspace and beside it; returns the directory whose content is watched."""
    ws = files_agent.workspace
    base = ws.parent
    ws.mkdir(parents=True, exist_ok=True)  # a guard that failed in an earlier case may have taken it
    for entry in ws.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (ws / "keep.txt").write_text("keep")
    (ws / "f.txt").write_text("f")
    (ws / "sub" / "deeper").mkdir(parents=True)
    (ws / "sub" / "inner.txt").write_text("inner")
    (ws / "sub" / "deeper" / "leaf.txt").write_text("leaf")
    (base / "outside").mkdir(exist_ok=True)
    (base / "outside" / "secret.txt").write_text("secret")
    return base


def snapshot(base: Path) -> dict[str, str | None]:
    """Every directory (None) and file (its text) under the workspace and `outside`, relative to base."""
    out: dict[str, str | None] = {}
    for top in ("workspace", "outside"):
        root = base / top
        out[top] = None
        for dirpath, dirnames, filenames in os.walk(root):
            for d in dirnames:
                out[os.path.relpath(os.path.join(dirpath, d), base)] = None
            for f in filenames:
                p = os.path.join(dirpath, f)
                out[os.path.relpath(p, base)] = Path(p).read_text()
    return out


def gone(before: dict, rel: str) -> dict:
    return {k: v for k, v in before.items() if k != rel and not k.startswith(rel + "/")}


def written(before: dict, rel: str, text: str) -> dict:
    return {**before, rel: text}


CONTENT = "NEW CONTENT"


def do(agent, op: str, path: str) -> httpx.Response:
    if op == "remove":
        return agent.delete("/files/remove", params={"path": path})
    if op == "write":
        return agent.post("/files/write", {"path": path, "content": CONTENT})
    if op == "mkdir":
        return agent.post("/files/mkdir", {"path": path})
    if op == "upload":
        return agent.post("/files/upload", files={"file": ("x", CONTENT.encode())}, data={"path": path})
    if op == "list":
        return agent.get("/files/list", params={"path": path})
    raise AssertionError(op)


# (operation, path under the workspace, what today's code answers, what the tree may become if the
# operation is allowed). `refused` cases must be refused with that status and code and leave the tree
# as it was; `allowed` cases may be refused (then nothing changes) or succeed, and then the tree may
# change only as the expected effect says (None: not at all).
REFUSED = "refused"
ALLOWED = "allowed"
DOT_CASES = [
    # remove: the workspace itself (whichever way it is spelled) is an allowed root and is never removed
    ("remove", "/.", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
    ("remove", "/sub/..", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
    ("remove", "/sub/deeper/../..", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
    ("remove", "/..", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
    ("remove", "/sub/../..", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
    # below the root, as rm does: a removal names what it removes (`sub/ghost/..` would take sub)
    *[
        ("remove", suffix, REFUSED, (400, "INVALID_PATH"), None)
        for suffix in ("/sub/.", "/sub/deeper/..", "/sub/ghost/..", "/f.txt/.", "/sub/deeper/../")
    ],
    # write and upload: a directory is never replaced by a file, outside is out of reach
    *[
        (op, suffix, REFUSED, answer, None)
        for op in ("write", "upload")
        for suffix, answer in [
            ("/.", (400, "INVALID_PATH")),
            ("/sub/..", (400, "INVALID_PATH")),
            ("/sub/.", (400, "INVALID_PATH")),
            ("/sub/ghost/..", (400, "INVALID_PATH")),
            ("/..", (403, "PATH_NOT_ALLOWED")),
            ("/sub/../..", (403, "PATH_NOT_ALLOWED")),
        ]
    ],
    *[(op, "/f.txt/.", ALLOWED, None, lambda b: written(b, "workspace/f.txt", CONTENT)) for op in ("write", "upload")],
    # mkdir: an existing directory is left alone; nothing named before a `..` is created
    ("mkdir", "/.", ALLOWED, None, None),
    ("mkdir", "/sub/..", ALLOWED, None, None),
    ("mkdir", "/ghost/..", ALLOWED, None, None),
    ("mkdir", "/..", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
    ("mkdir", "/sub/../..", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
    ("mkdir", "/f.txt/.", REFUSED, (409, "FILE_ALREADY_EXISTS"), None),
    # list: reads only, and never above the root
    ("list", "/.", ALLOWED, None, None),
    ("list", "/sub/..", ALLOWED, None, None),
    ("list", "/sub/deeper/..", ALLOWED, None, None),
    ("list", "/..", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
    ("list", "/sub/../..", REFUSED, (403, "PATH_NOT_ALLOWED"), None),
]


@pytest.mark.parametrize("op,suffix,kind,answer,effect", DOT_CASES, ids=[f"{c[0]}:{c[1]}" for c in DOT_CASES])
def test_paths_ending_in_dot_or_dotdot_are_refused_or_harmless(files_agent, tree, op, suffix, kind, answer, effect):
    base = tree
    ws = str(files_agent.workspace)
    path = ws + suffix  # a plain string: pathlib would drop the `.` components
    before = snapshot(base)
    r = do(files_agent, op, path)
    after = snapshot(base)
    assert (base / "outside" / "secret.txt").exists(), "a file outside the allowed root was removed"
    assert files_agent.workspace.is_dir(), "the workspace (an allowed root) was removed"
    if kind == REFUSED:
        assert (r.status_code, r.json().get("code")) == answer, r.text
        assert after == before, "a refused operation changed the filesystem"
        return
    if r.status_code >= 400:  # refusing is always acceptable
        assert after == before, r.text
        return
    assert r.status_code == 200, r.text
    assert after == (effect(before) if effect else before), f"{op} {path} changed more than it named"
    if op == "list":
        named = os.path.normpath(path)
        body = r.json()
        assert body["path"] == named
        assert sorted(f["name"] for f in body["files"]) == sorted(os.listdir(named))


# --- 2. a cached token expires ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_clock_agent(tmp_path_factory):
    """No leeway: a token is refused from its `exp` second on. No kernels needed."""
    a = start_agent(
        tmp_path_factory.mktemp("leeway0"),
        {
            "KERNELAGENT_JWT_LEEWAY": "0",
            "KERNELAGENT_WARM_LANGUAGES": "",
        },
    )
    yield a
    a.close()


def short_token(ttl: int = 3) -> tuple[str, int]:
    token = make_token(ttl=ttl, jti=uuid.uuid4().hex)  # a token of its own: never cached by another test
    return token, jwt.decode(token, options={"verify_signature": False})["exp"]


def poll_until_refused(attempt, exp: int) -> list[tuple[float, int]]:
    """Call attempt() (-> status code) until it answers 401; every answer with the wall-clock time."""
    seen: list[tuple[float, int]] = []
    deadline = exp + 5
    while True:
        t = time.time()
        status = attempt()
        seen.append((t, status))
        if status == 401:
            return seen
        assert time.time() < deadline, f"still accepted {deadline - exp} s after expiry: {seen[-3:]}"
        time.sleep(0.1)


def test_cached_token_is_refused_once_expired_http(strict_clock_agent):
    a = strict_clock_agent
    token, exp = short_token()
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.get(a.url + "/execute/processes", headers=headers)
    assert r.status_code == 200, r.text  # verified once: now served from the cache
    assert time.time() < exp

    def attempt() -> int:
        return httpx.get(a.url + "/execute/processes", headers=headers).status_code

    seen = poll_until_refused(attempt, exp)
    for t, status in seen[:-1]:
        assert status == 200 and t < exp + 0.5
    refused_at = seen[-1][0]
    assert refused_at >= exp - 0.5  # not refused early (the clock is the agent's, on this machine)
    r = httpx.get(a.url + "/execute/processes", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "INVALID_TOKEN", r.text


@pytest.mark.parametrize("route", ["/execute/stream", "/terminal"])
def test_cached_token_is_refused_once_expired_websocket(strict_clock_agent, route):
    a = strict_clock_agent
    token, exp = short_token()
    url = a.url.replace("http://", "ws://") + route

    async def upgrade() -> int:
        try:
            async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10):
                return 101
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code

    assert asyncio.run(upgrade()) == 101  # the upgrade verified the token and cached it
    assert time.time() < exp

    def attempt() -> int:
        status = asyncio.run(upgrade())
        return 200 if status == 101 else status

    seen = poll_until_refused(attempt, exp)
    for t, status in seen[:-1]:
        assert status == 200 and t < exp + 0.5
    assert seen[-1][0] >= exp - 0.5
    # the HTTP side agrees: the same token is not served from the cache either
    r = httpx.get(a.url + "/execute/processes", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["code"] == "INVALID_TOKEN", r.text


# --- 3. one run at a time per context -----------------------------------------------------------------


def test_second_run_in_a_busy_context_waits_its_turn_and_succeeds(agent):
    r = agent.post("/contexts", {"language": "python"})
    assert r.status_code == 201, r.text
    cid = r.json()["context_id"]
    try:
        first = Background(
            agent.post,
            "/execute",
            {
                "code": "import time\ntime.sleep(4)\nturn = 'first'\nprint('first done')",
                "context_id": cid,
                "timeout": 30,
            },
        )
        info = wait_for(
            lambda: (lambda j: j if j["busy"] else None)(agent.get(f"/contexts/{cid}").json()),
            10,
            what="the context to report itself busy",
        )
        assert info["queued"] == 0
        arrived = time.monotonic()
        # its 2 s timeout is shorter than the ~4 s it waits in line: the deadline counts from its own start
        second = Background(
            agent.post, "/execute", {"code": "print('second sees', turn)", "context_id": cid, "timeout": 2}
        )
        info = wait_for(
            lambda: (lambda j: j if j["queued"] == 1 else None)(agent.get(f"/contexts/{cid}").json()),
            5,
            what="the second run to be queued",
        )
        assert info["busy"] is True
        r1 = first.result(30)
        r2 = second.result(30)
        assert r1.status_code == 200 and r1.json()["success"] is True, r1.text
        assert r2.status_code == 200, r2.text
        body = r2.json()
        assert body["success"] is True and "error" not in body, body
        assert body["stdout"] == "second sees first\n"
        assert first.finished_at <= second.finished_at
        assert second.finished_at - arrived > 2  # it did wait longer than its own timeout, in line
        after = agent.get(f"/contexts/{cid}").json()
        assert after["busy"] is False and after["queued"] == 0 and after["executions"] == 2
    finally:
        agent.delete(f"/contexts/{cid}")


# --- 4. one stream truncated alone ------------------------------------------------------------------


CAP = 1000
OVER = 5000


@pytest.fixture(scope="module")
def capped_agent(tmp_path_factory):
    a = start_agent(
        tmp_path_factory.mktemp("caps"),
        {
            "KERNELAGENT_MAX_STDOUT_BYTES": str(CAP),
            "KERNELAGENT_MAX_STDERR_BYTES": str(CAP),
            "KERNELAGENT_JOB_OUTPUT_BYTES": str(CAP),
            "KERNELAGENT_WARM_LANGUAGES": "python",
        },
    )
    yield a
    a.close()


def python_flood(stream: str) -> str:
    other = "stderr" if stream == "stdout" else "stdout"
    return (
        f"import sys\nsys.{stream}.write('x' * {OVER})\nsys.{stream}.flush()\n"
        f"sys.{other}.write('small')\nsys.{other}.flush()\n"
    )


def shell_flood(stream: str) -> str:
    cut, other = ("", " >&2") if stream == "stdout" else (" >&2", "")
    return f"head -c {OVER} /dev/zero | tr '\\0' x{cut}; printf small{other}"


def check_streams(body: dict, stream: str) -> None:
    """What every answer says: truncated, which stream was cut (`truncation`), the cut stream holds the
    cap and the marker, the other is whole."""
    other = "stderr" if stream == "stdout" else "stdout"
    assert body["truncated"] is True, body
    assert body["truncation"][stream] is True and body["truncation"][other] is False, body["truncation"]
    assert body[stream].startswith("x" * CAP) and MARKER in body[stream]
    assert body[other] == "small"


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_execute_truncation_of_one_stream_says_which(capped_agent, stream):
    body = capped_agent.execute(python_flood(stream), timeout=30)
    check_streams(body, stream)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_command_run_truncation_of_one_stream(capped_agent, stream):
    r = capped_agent.post("/commands/run", {"command": shell_flood(stream), "timeout": 30})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["exit_code"] == 0
    check_streams(body, stream)
    assert body["truncation"]["limits"] == {"stdout_bytes": CAP, "stderr_bytes": CAP}


def poll_job(agent, pid: str, timeout: float = 60) -> dict:
    def finished():
        rec = agent.get(f"/execute/processes/{pid}").json()
        return rec if rec.get("status") in ("completed", "failed", "killed", "timeout") else None

    return wait_for(finished, timeout, interval=0.1, what=f"job {pid} to finish")


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
@pytest.mark.parametrize("kind", ["execute", "command"])
def test_background_job_truncation_of_one_stream(capped_agent, kind, stream):
    if kind == "execute":
        r = capped_agent.post("/execute/background", {"code": python_flood(stream), "timeout": 60})
    else:
        r = capped_agent.post("/commands/background", {"command": shell_flood(stream), "timeout": 60})
    assert r.status_code == 200, r.text
    rec = poll_job(capped_agent, r.json()["process_id"])
    assert rec["status"] == "completed", rec
    check_streams(rec, stream)
    other = "stderr" if stream == "stdout" else "stdout"
    assert rec[f"{stream}_bytes"] == OVER and rec[f"{other}_bytes"] == len("small")
    # the spill file of the cut stream holds it whole
    assert Path(rec[f"{stream}_file"]).read_text() == "x" * OVER
    # gap: the record has no per-stream flag; only the marker and <stream>_bytes > the cap tell which


# --- 5. an orphan in the command's process group ---------------------------------------------------


def unique_sleep() -> str:
    """A sleep duration no other process on the machine uses, to find this test's orphan."""
    return f"{400 + (uuid.uuid4().int % 100000) / 1000:.3f}"


def sleepers(duration: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        try:
            if p.info["cmdline"] == ["sleep", duration] and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


def reap(duration: str) -> None:
    for p in sleepers(duration):
        try:
            p.kill()
        except psutil.Error:
            pass


def test_orphan_in_group_dies_at_the_command_deadline(agent):
    duration = unique_sleep()
    try:
        run = Background(agent.post, "/commands/run", {"command": f"(sleep {duration} &); sleep 60", "timeout": 2})
        orphan = wait_for(lambda: sleepers(duration), 10, what="the orphan sleep to start")[0]
        assert orphan.ppid() != 0 and os.getpgid(orphan.pid) != os.getpgrp()
        r = run.result(30)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["timed_out"] is True and body["exit_code"] == 124, body
        wait_for(lambda: not sleepers(duration), 5, what="the orphan to be gone after the deadline")
    finally:
        reap(duration)


def test_orphan_in_group_dies_when_the_background_command_is_killed(agent):
    duration = unique_sleep()
    try:
        r = agent.post("/commands/background", {"command": f"(sleep {duration} &); sleep 60", "timeout": 120})
        assert r.status_code == 200, r.text
        pid = r.json()["process_id"]
        wait_for(lambda: sleepers(duration), 10, what="the orphan sleep to start")
        r = agent.post(f"/execute/kill/{pid}")
        assert r.status_code == 200, r.text
        rec = poll_job(agent, pid, timeout=30)
        assert rec["status"] == "killed", rec
        wait_for(lambda: not sleepers(duration), 5, what="the orphan to be gone after the kill")
    finally:
        reap(duration)


# --- 6. a busy context is never culled ----------------------------------------------------------------


def test_busy_context_outlives_the_idle_timeout(agent_factory):
    idle = 1.0
    a = agent_factory(context_idle_timeout=idle, cull_interval=0.2)
    r = a.post("/contexts", {"language": "python"})
    assert r.status_code == 201, r.text
    cid = r.json()["context_id"]
    t0 = time.monotonic()
    body = a.execute("import time\ntime.sleep(4)\nprint('survived')", context_id=cid, timeout=30)
    assert time.monotonic() - t0 > 3 * idle  # it ran well past the idle timeout, culler passes included
    assert body["success"] is True and body["stdout"] == "survived\n", body
    assert "kernel_restarted" not in body and "error" not in body
    r = a.get(f"/contexts/{cid}")
    assert r.status_code == 200, r.text
    assert r.json()["executions"] == 1
    # and once idle it is culled after all: the culler was running during the test
    wait_for(
        lambda: a.get(f"/contexts/{cid}").status_code == 404, 10, interval=0.1, what="the idle context to be culled"
    )
