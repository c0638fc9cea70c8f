"""Commands, jobs and the terminal with wrong types: a 400 (or an error frame) naming the field,
never a 500; and the running-jobs limit answers 429 and frees its slot when a job ends."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from test_jobs import record, wait_status


def assert_field(r, field: str, code: str = "INVALID_REQUEST") -> dict:
    assert r.status_code == 400, r.text
    data = r.json()
    assert data["code"] == code and data["error"] and data["request_id"], data
    if code == "MISSING_PARAMETER":
        assert data["details"] == {"parameter": field}
    else:
        assert data["details"]["field"] == field, data
    return data


@pytest.mark.parametrize("path", ["/commands/run", "/commands/background"])
@pytest.mark.parametrize(
    "body,field",
    [
        ({"command": "ls", "args": ["-l", 3]}, "args.1"),
        ({"command": "ls", "name": 5}, "name"),
        ({"command": "ls", "workdir": 7}, "workdir"),
        ({"command": "ls", "env": {"A": [1]}}, "env.A"),
        ({"command": "ls", "timeout": True}, "timeout"),
        ({"command": ["ls"]}, "command"),
    ],
)
def test_command_wrong_types_name_the_field(agent, path, body, field):
    assert_field(agent.post(path, body), field)


def test_background_command_empty_command_is_missing(agent):
    assert_field(agent.post("/commands/background", {"command": ""}), "command", "MISSING_PARAMETER")


@pytest.mark.parametrize("path", ["/execute/background", "/execute/async"])
@pytest.mark.parametrize(
    "body,field",
    [
        ({"code": 5}, "code"),
        ({"code": "1", "language": 5}, "language"),
        ({"code": "1", "name": 5}, "name"),
        ({"code": "1", "env": {"A": None}}, "env.A"),
        ({"code": "1", "timeout": "x"}, "timeout"),
        ({"code": "1", "working_dir": 3}, "working_dir"),
    ],
)
def test_execution_wrong_types_name_the_field(agent, path, body, field):
    if path == "/execute/async":
        body = {**body, "callback_url": "http://127.0.0.1:9/hook"}
    assert_field(agent.post(path, body), field)


@pytest.mark.parametrize(
    "extra,field,code",
    [
        ({}, "callback_url", "MISSING_PARAMETER"),
        ({"callback_url": ""}, "callback_url", "MISSING_PARAMETER"),
        ({"callback_url": 5}, "callback_url", "INVALID_REQUEST"),
        ({"callback_url": "ftp://127.0.0.1/x"}, "callback_url", "INVALID_REQUEST"),
        ({"callback_url": "http://h/x", "callback_headers": {"A": 1}}, "callback_headers.A", "INVALID_REQUEST"),
        (
            {"callback_url": "http://h/x", "callback_headers": {"A": "x\r\nB: y"}},
            "callback_headers.A",
            "INVALID_REQUEST",
        ),
        (
            {"callback_url": "http://h/x", "callback_signature_secret": 1},
            "callback_signature_secret",
            "INVALID_REQUEST",
        ),
    ],
)
def test_async_callback_fields(agent, extra, field, code):
    assert_field(agent.post("/execute/async", {"code": "1", **extra}), field, code)


def test_kill_body_of_the_wrong_type(agent):
    assert_field(agent.http.request("DELETE", "/execute/kill", json={"process_id": 5}), "process_id")
    r = agent.http.request("DELETE", "/execute/kill", content=b"[1]")
    assert r.status_code == 400 and r.json()["code"] == "INVALID_JSON"


def test_unknown_language_is_refused_before_a_job_exists(agent):
    before = agent.get("/execute/processes", params={"output": "false"}).json()["count"]
    r = agent.post("/execute/background", {"code": "1", "language": "cobol"})
    assert r.status_code == 400, r.text
    assert agent.get("/execute/processes", params={"output": "false"}).json()["count"] <= before


def test_running_jobs_limit_is_429_and_frees_its_slot(agent_factory):
    a = agent_factory(max_running_jobs=1, warm_languages="")
    first = a.post("/commands/background", {"command": "sleep 60"})
    assert first.status_code == 200, first.text
    r = a.post("/commands/background", {"command": "true"})
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMIT_EXCEEDED" and r.json()["details"]["limit"] == 1
    assert a.post(f"/execute/kill/{first.json()['process_id']}").json()["status"] == "killed"
    again = a.post("/commands/background", {"command": "echo again"})
    assert again.status_code == 200, again.text
    assert wait_status(a, again.json()["process_id"])["stdout"] == "again\n"
    assert record(a, first.json()["process_id"])["status"] == "killed"


# --- the terminal ---


def ws_url(agent, query: str = "") -> str:
    return agent.url.replace("http://", "ws://") + "/terminal" + query


async def next_error(ws, timeout: float = 10.0) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == "error":
            return frame


def test_terminal_bad_size_is_an_error_frame_naming_the_field(agent):
    async def session():
        headers = {"Authorization": f"Bearer {agent.token}"}
        async with websockets.connect(ws_url(agent, "?cols=abc&rows=5"), additional_headers=headers) as ws:
            frame = json.loads(await ws.recv())
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await ws.recv()
            return frame, closed.value.rcvd.code

    frame, close_code = asyncio.run(asyncio.wait_for(session(), 30))
    assert frame["type"] == "error" and frame["code"] == "INVALID_REQUEST" and frame["field"] == "cols"
    assert frame["message"] == frame["error"] and frame["timestamp"]
    assert close_code == 1008


def test_terminal_bad_frames_name_the_field_and_the_shell_goes_on(agent):
    async def session():
        headers = {"Authorization": f"Bearer {agent.token}"}
        async with websockets.connect(ws_url(agent), additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "resize", "cols": "wide", "rows": 5}))
            resize = await next_error(ws)
            await ws.send(json.dumps({"type": "input", "data": 5}))
            data = await next_error(ws)
            await ws.send(json.dumps({"type": "resize", "cols": 80}))
            missing = await next_error(ws)
            await ws.send(json.dumps({"type": "unknown"}))  # skipped, as the contract says
            await ws.send(json.dumps({"type": "input", "data": "exit 7\n"}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["type"] == "exit":
                    return resize, data, missing, frame

    resize, data, missing, exit_frame = asyncio.run(asyncio.wait_for(session(), 60))
    assert resize["code"] == "INVALID_REQUEST" and resize["field"] == "cols"
    assert data["code"] == "INVALID_REQUEST" and data["field"] == "data"
    assert missing["code"] == "MISSING_PARAMETER" and missing["parameter"] == "rows"
    assert exit_frame == {"type": "exit", "code": 7}
