"""Observability, the terminal and the execution cache, through HTTP, WebSocket and the hopx-ai SDK."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import websockets
from conftest import make_token
from prometheus_client.parser import text_string_to_metric_families

# --- helpers ---

# a whole output line: bash ends its bracketed-paste sequence with a bare \r before a command's output
LINE = r"(?:^|\r)"


def ws_url(agent, path: str = "/terminal") -> str:
    return agent.url.replace("http://", "ws://") + path


async def read_until(ws, pattern: str, timeout: float = 30.0) -> str:
    """Output frames gathered until `pattern` (a multiline regex) matches their text."""
    text = ""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, text, re.M):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{pattern!r} not seen in terminal output:\n{text[-2000:]}")
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if frame["type"] == "output":
            text += frame["data"]
        elif frame["type"] == "exit":
            raise AssertionError(f"shell exited ({frame}) before {pattern!r}:\n{text[-2000:]}")
    return text


async def wait_exit(ws, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if frame["type"] == "exit":
            return frame


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The pids still alive (zombies count as gone) after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def lines_in(path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def appending_code(path, sleep: float = 0.0) -> str:
    """Code whose side effect, one line appended to a file, counts how often it ran."""
    return (
        f"import time\nwith open({str(path)!r}, 'a') as f:\n    f.write('ran\\n')\ntime.sleep({sleep})\nprint('done')"
    )


# --- system and processes ---


def test_system_has_both_shapes(agent):
    r = agent.get("/system")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    s = r.json()
    # the docs' shape
    assert s["os"]["name"] == "linux" and s["os"]["hostname"]
    assert s["hardware"]["cpu_cores"] >= 1 and s["hardware"]["memory_mb"] > 0 and s["hardware"]["disk_mb"] > 0
    assert any(i["name"] == "lo" and i["ip"] == "127.0.0.1" for i in s["network"]["interfaces"])
    assert s["environment"]["working_dir"] == str(agent.workspace)
    assert isinstance(s["capabilities"], list)
    # the SDK's SystemMetrics shape
    assert 0 <= s["cpu"]["usage_percent"] <= 100 and s["cpu"]["cores"] >= 1
    mem = s["memory"]
    assert mem["total"] >= mem["used"] > 0 and 0 < mem["usage_percent"] < 100
    assert s["disk"]["total"] > 0 and s["disk"]["free"] >= 0
    assert s["uptime"] > 0


def test_processes_lists_a_new_process(agent, sdk):
    marker = f"kernelagent-proc-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(["sh", "-c", "sleep 60", marker])  # the marker is the script's $0
    try:
        procs = sdk.list_system_processes()
        mine = [p for p in procs if p["pid"] == proc.pid]
        assert mine, "the new process is not listed"
        assert marker in mine[0]["command"]
        assert mine[0]["name"] == "sh" and mine[0]["user"]
        assert any(p["pid"] == agent.proc.pid for p in procs)
        body = agent.get("/processes").json()
        assert body["count"] == len(body["processes"]) > 1
        assert {"pid", "name", "command", "user", "status", "cpu_percent", "memory_mb"} <= set(body["processes"][0])
    finally:
        proc.kill()
        proc.wait()
    assert all(p["pid"] != proc.pid for p in sdk.list_system_processes())


# --- metrics ---


def test_metrics_move_when_work_is_done(agent, sdk):
    info = sdk.get_agent_info()
    assert info["agent"] == "kernelagent" and "/metrics/snapshot" in info["endpoints"]

    before = sdk.get_agent_metrics()
    for key in ("uptime_seconds", "total_requests", "total_errors", "active_executions", "total_executions"):
        assert key in before
    assert before["pool"]["python"]["target"] >= 1
    agent.execute("x = 1")
    agent.execute("print(x)")
    assert agent.get("/no/such/endpoint").status_code == 404
    assert agent.post("/execute", json={"nocode": 1}).status_code == 400
    time.sleep(0.2)
    after = sdk.get_agent_metrics()

    assert after["uptime_seconds"] > before["uptime_seconds"]
    assert after["total_executions"] >= before["total_executions"] + 2
    assert after["total_requests"] >= before["total_requests"] + 5
    assert after["total_errors"] >= before["total_errors"] + 2
    req_b, req_a = before["requests_by_endpoint"], after["requests_by_endpoint"]
    assert req_a["POST /execute"] >= req_b.get("POST /execute", 0) + 3
    assert req_a["GET /metrics/snapshot"] >= req_b.get("GET /metrics/snapshot", 0) + 1
    err_b, err_a = before["errors_by_endpoint"], after["errors_by_endpoint"]
    assert err_a["GET (unmatched)"] >= err_b.get("GET (unmatched)", 0) + 1
    assert err_a["POST /execute"] >= err_b.get("POST /execute", 0) + 1
    assert after["avg_duration_ms_by_endpoint"]["POST /execute"] > 0
    # the JS SDK's scalars: the same totals, and durations over all routes
    assert after["requests_total"] == after["total_requests"] and after["error_count"] == after["total_errors"]
    assert after["p95_duration_ms"] > 0 and after["avg_duration_ms"] == after["avg_duration_ms_overall"] > 0
    assert after["system"]["memory"]["free"] > 0 and after["system"]["disk"]["total"] > 0
    assert after["process"]["running"] >= 1  # this agent, answering
    # route patterns, not raw paths: one entry however many contexts are touched
    agent.get(f"/contexts/{uuid.uuid4()}")
    assert "GET /contexts/{context_id}" in agent.get("/metrics").json()["requests_by_endpoint"]
    for key in ("cache", "terminals", "system", "process"):
        assert key in after


def test_active_executions_seen_while_running(agent):
    ctx = agent.post("/contexts", json={"language": "python"}).json()["context_id"]
    try:
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(agent.execute, "import time; time.sleep(3)", context_id=ctx)
            deadline = time.monotonic() + 20
            seen = 0
            while time.monotonic() < deadline and not running.done():
                seen = max(seen, agent.get("/metrics/snapshot").json()["active_executions"])
                if seen:
                    break
                time.sleep(0.05)
            assert running.result()["success"]
        assert seen >= 1
    finally:
        agent.delete(f"/contexts/{ctx}")


def _samples(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_prometheus_text(agent):
    r = agent.get("/metrics/prometheus")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    before = _samples(r.text)
    agent.execute("1 + 1")
    after = _samples(agent.get("/metrics/prometheus").text)
    label = (("endpoint", "/execute"), ("method", "POST"))
    assert (
        after[("kernelagent_http_requests_total", label)]
        >= before.get(("kernelagent_http_requests_total", label), 0) + 1
    )
    assert after[("kernelagent_executions_total", ())] >= before[("kernelagent_executions_total", ())] + 1
    assert after[("kernelagent_uptime_seconds", ())] > 0
    assert ("kernelagent_pool_ready_kernels", (("language", "python"),)) in after
    for name in (
        "kernelagent_cache_hits_total",
        "kernelagent_terminals_active",
        "kernelagent_system_memory_used_bytes",
    ):
        assert any(k[0] == name for k in after), name


# --- the cache ---


def test_retried_request_runs_once(agent, sdk):
    marker = agent.workspace / f"ran-{uuid.uuid4().hex}.txt"
    code = appending_code(marker)
    key = str(uuid.uuid4())
    stats0 = sdk.cache.stats()

    first = agent.post("/execute", {"code": code}, headers={"Idempotency-Key": key})
    second = agent.post("/execute", {"code": code}, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and first.json()["stdout"] == "done\n"
    assert "Idempotent-Replayed" not in first.headers and second.headers["Idempotent-Replayed"] == "true"
    assert lines_in(marker) == 1

    # the body field is the same key; a different key runs again
    third = agent.post("/execute", {"code": code, "idempotency_key": key})
    assert third.json() == first.json() and lines_in(marker) == 1
    agent.post("/execute", {"code": code}, headers={"Idempotency-Key": key + "-other"})
    assert lines_in(marker) == 2
    # without a key nothing is cached: the same code runs each time
    agent.execute(code)
    assert lines_in(marker) == 3

    stats = sdk.cache.stats()
    assert stats["hits"] == stats0["hits"] + 2 and stats["misses"] == stats0["misses"] + 2
    assert stats["size"] >= 2 and 0 < stats["hit_rate"] <= 1
    assert stats["cache"]["total_hits"] == stats["hits"] and stats["cache"]["max_size"] == stats["max_size"]
    assert stats["ttl"] > 0
    keys = [e["key"] for e in agent.get("/cache").json()["entries"]]
    assert key in keys


def test_concurrent_retries_share_the_running_execution(agent):
    marker = agent.workspace / f"ran-{uuid.uuid4().hex}.txt"
    code = appending_code(marker, sleep=2)
    key = str(uuid.uuid4())

    def send(i: int):
        return agent.post("/execute", {"code": code, "idempotency_key": key})

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(send, i) for i in range(4)]
        time.sleep(0.5)
        assert agent.get("/cache/stats").json()["in_flight"] >= 1
        responses = [f.result() for f in futures]
    assert all(r.status_code == 200 for r in responses)
    bodies = [r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies) and bodies[0]["stdout"] == "done\n"
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 3
    assert lines_in(marker) == 1


def test_a_dropped_connection_does_not_cancel_the_keyed_run(agent):
    import httpx

    marker = agent.workspace / f"ran-{uuid.uuid4().hex}.txt"
    key = str(uuid.uuid4())
    body = {"code": appending_code(marker, sleep=2), "idempotency_key": key}
    with pytest.raises(httpx.TimeoutException):
        agent.post("/execute", body, timeout=0.5)  # the client gives up and drops the connection
    retry = agent.post("/execute", body)
    assert retry.status_code == 200 and retry.json()["stdout"] == "done\n"
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert lines_in(marker) == 1


def test_same_key_with_a_different_request_is_refused(agent):
    key = str(uuid.uuid4())
    assert agent.post("/execute", {"code": "1"}, headers={"Idempotency-Key": key}).status_code == 200
    r = agent.post("/execute", {"code": "2"}, headers={"Idempotency-Key": key})
    assert r.status_code == 422 and r.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_failed_request_is_not_kept(agent):
    key = str(uuid.uuid4())
    bad = agent.post("/execute", {"code": "1", "language": "cobol"}, headers={"Idempotency-Key": key})
    assert bad.status_code == 400
    again = agent.post("/execute", {"code": "1", "language": "cobol"}, headers={"Idempotency-Key": key})
    assert again.status_code == 400 and "Idempotent-Replayed" not in again.headers


def test_retried_commands_and_jobs_start_once(agent):
    """The same key on /commands/run, /commands/background and /execute/background starts one
    piece of work; the same key on another endpoint is another request."""
    marker = agent.workspace / f"cmd-{uuid.uuid4().hex}.txt"
    key = str(uuid.uuid4())
    body = {"command": "sh", "args": ["-c", f"echo x >> {marker}; echo ok"]}
    runs = [agent.post("/commands/run", body, headers={"Idempotency-Key": key}) for _ in range(2)]
    assert runs[0].json() == runs[1].json() and runs[1].headers["Idempotent-Replayed"] == "true"
    assert lines_in(marker) == 1
    started = [agent.post("/commands/background", body, headers={"Idempotency-Key": key}) for _ in range(2)]
    assert started[0].status_code == 422  # same key, other endpoint: refused, not confused
    bkey = str(uuid.uuid4())
    started = [agent.post("/commands/background", body, headers={"Idempotency-Key": bkey}) for _ in range(2)]
    assert started[0].json()["process_id"] == started[1].json()["process_id"]
    deadline = time.monotonic() + 20
    while lines_in(marker) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert lines_in(marker) == 2
    code = appending_code(marker)
    ekey = str(uuid.uuid4())
    jobs = [agent.post("/execute/background", {"code": code}, headers={"Idempotency-Key": ekey}) for _ in range(2)]
    assert jobs[0].json()["process_id"] == jobs[1].json()["process_id"]
    pid = jobs[0].json()["process_id"]
    while agent.get(f"/execute/processes/{pid}").json()["status"] == "running" and time.monotonic() < deadline + 20:
        time.sleep(0.1)
    assert lines_in(marker) == 3


def test_cache_clear(agent, sdk):
    marker = agent.workspace / f"ran-{uuid.uuid4().hex}.txt"
    code = appending_code(marker)
    key = str(uuid.uuid4())
    agent.post("/execute", {"code": code, "idempotency_key": key})
    cleared = sdk.cache.clear()
    assert cleared["message"] == "Cache cleared successfully" and cleared["entries_removed"] >= 1
    assert sdk.cache.stats()["size"] == 0
    agent.post("/execute", {"code": code, "idempotency_key": key})
    assert lines_in(marker) == 2  # forgotten, so it ran again


def test_cache_bounds(agent_factory):
    a = agent_factory(cache_max_entries=2, cache_max_bytes=4000, cache_ttl=2)
    marker = a.workspace / "ran.txt"
    code = appending_code(marker)
    for key in ("a", "b", "c"):
        assert a.post("/execute", {"code": code, "idempotency_key": key}).status_code == 200
    stats = a.get("/cache/stats").json()
    assert stats["size"] == 2 and stats["evictions"] == 1 and stats["max_size"] == 2
    a.post("/execute", {"code": code, "idempotency_key": "a"})  # evicted, so it runs
    assert lines_in(marker) == 4
    a.post("/execute", {"code": code, "idempotency_key": "c"})  # kept, so it does not
    assert lines_in(marker) == 4
    # an answer larger than the byte bound is not kept
    big = "print('x' * 10000)"
    a.post("/execute", {"code": big, "idempotency_key": "big"})
    assert "big" not in [e["key"] for e in a.get("/cache").json()["entries"]]
    assert a.get("/cache/stats").json()["bytes"] <= 4000
    # past the ttl, nothing is left
    time.sleep(2.5)
    assert a.get("/cache/stats").json()["size"] == 0
    a.post("/execute", {"code": code, "idempotency_key": "c"})
    assert lines_in(marker) == 5


# --- the terminal ---


def test_sdk_terminal_cd_resize_exit(agent, sdk):
    async def session():
        term = sdk.terminal
        ws = await term.connect(timeout=30)
        async with ws:
            await term.send_input(ws, "cd /tmp; pwd\n")
            await read_until(ws, LINE + r"/tmp\r?$")
            await term.resize(ws, cols=123, rows=45)
            await term.send_input(ws, "stty size\n")
            await read_until(ws, LINE + r"45 123\r?$")
            await term.send_input(ws, "exit\n")
            async for msg in term.iter_output(ws):
                if msg["type"] == "exit":
                    return msg
        return None  # the socket ended without an exit frame: the assert below says so

    frame = asyncio.run(asyncio.wait_for(session(), 60))
    assert frame == {"type": "exit", "code": 0}


def test_terminal_exit_code_and_env(agent):
    async def session():
        async with websockets.connect(
            ws_url(agent) + "?cols=100&rows=30", additional_headers={"Authorization": f"Bearer {agent.token}"}
        ) as ws:
            await ws.send(json.dumps({"type": "input", "data": "stty size\n"}))
            await read_until(ws, LINE + r"30 100\r?$")
            await ws.send("not json")  # skipped, not fatal
            await ws.send(json.dumps({"type": "resize", "cols": 0, "rows": 5}))  # refused with an error frame
            await ws.send(json.dumps({"type": "input", "data": "exit 3\n"}))
            return await wait_exit(ws)

    assert asyncio.run(session())["code"] == 3


def test_terminal_close_ends_shell_and_children(agent):
    async def session():
        async with websockets.connect(
            ws_url(agent), additional_headers={"Authorization": f"Bearer {agent.token}"}
        ) as ws:
            # A background job (its own process group, deaf to SIGHUP, so bash's own hang-up of its
            # jobs does not end it: only the agent's sweep does) and a foreground one. Each prints its
            # pid once set up, then execs sleep (exec keeps the pid), so nothing races the fork/exec.
            await ws.send(
                json.dumps(
                    {
                        "type": "input",
                        "data": "sh -c 'trap \"\" HUP; echo BG $$; exec sleep 1001' & "
                        "echo PIDS $$ $!; sh -c 'echo FG $$; exec sleep 1003'\n",
                    }
                )
            )
            # whole lines only (\r\n seen), so a pid split across frames is never read short
            marks = {
                "PIDS": LINE + r"PIDS (\d+) (\d+)\r?\n",
                "BG": LINE + r"BG (\d+)\r?\n",
                "FG": LINE + r"FG (\d+)\r?\n",
            }
            text = ""
            while not all(re.search(m, text, re.M) for m in marks.values()):
                frame = json.loads(await ws.recv())
                assert frame["type"] != "exit", text
                text += frame["data"] if frame["type"] == "output" else ""
            shell, job = map(int, re.search(marks["PIDS"], text, re.M).groups())
            bg, fg = (int(re.search(marks[w], text, re.M).group(1)) for w in ("BG", "FG"))
            family = [shell] + [c.pid for c in psutil.Process(shell).children(recursive=True)]
            assert bg == job and job in family and fg in family, (shell, job, bg, fg, family)
            assert os.getpgid(job) != os.getpgid(shell)  # job control gave the job its own group
            return family

    family = asyncio.run(asyncio.wait_for(session(), 60))
    assert wait_gone(family) == []
    deadline = time.monotonic() + 10
    while agent.get("/metrics/snapshot").json()["terminals"]["active"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert agent.get("/metrics/snapshot").json()["terminals"]["active"] == 0


def test_terminal_auth_limit_and_token_expiry(agent_factory):
    a = agent_factory(terminal_max=2, jwt_leeway=0, warm_languages="")
    headers = {"Authorization": f"Bearer {a.token}"}

    async def scenario():
        # the token is checked at the upgrade
        for bad in (None, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {make_token(secret='x' * 40)}"}):
            with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
                await websockets.connect(ws_url(a), additional_headers=bad)
            assert exc.value.response.status_code == 401
        # several at once, bounded by the setting
        one = await websockets.connect(ws_url(a), additional_headers=headers)
        two = await websockets.connect(ws_url(a), additional_headers=headers)
        await one.send(json.dumps({"type": "input", "data": "echo one-$((40+1))\n"}))
        await two.send(json.dumps({"type": "input", "data": "echo two-$((40+2))\n"}))
        await read_until(one, LINE + r"one-41\r?$")
        await read_until(two, LINE + r"two-42\r?$")
        assert a.get("/metrics/snapshot").json()["terminals"]["active"] == 2
        three = await websockets.connect(ws_url(a), additional_headers=headers)
        frame = json.loads(await three.recv())
        assert frame["type"] == "error" and frame["code"] == "RATE_LIMIT_EXCEEDED"
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await three.recv()
        assert closed.value.rcvd.code == 1013
        await one.close()
        await two.close()
        # a socket whose token expires is closed
        short = make_token(ttl=3)
        ws = await websockets.connect(ws_url(a), additional_headers={"Authorization": f"Bearer {short}"})
        started = time.monotonic()
        await ws.send(json.dumps({"type": "input", "data": "echo alive\n"}))
        await read_until(ws, LINE + r"alive\r?$")
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 15)
        assert closed.value.rcvd.code == 4001
        assert time.monotonic() - started < 10

    asyncio.run(asyncio.wait_for(scenario(), 90))
