"""kernelagent as an MCP server (issue 14): the mcp package's own client against a live agent, over
streamable HTTP at /mcp (negotiated, and with a session) and over stdio (`kernelagent mcp`)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid

import httpx
import jwt
import pytest
from conftest import ROOT, make_token
from mcp import MCPError
from mcp_client import TRANSPORTS, run, texts

from kernelagent.mcp.tools import TOOLS
from kernelagent.models.mcp import RunCodeArgs

TOOL_NAMES = {
    "run_code",
    "run_command",
    "context_create",
    "context_list",
    "context_restart",
    "context_delete",
    "context_notebook",
    "file_read",
    "file_write",
    "file_list",
    "file_remove",
    "job_start_code",
    "job_start_command",
    "job_status",
    "job_kill",
}
DESKTOP_TOOLS = {"desktop_screenshot", "desktop_click", "desktop_type", "desktop_key"}  # where a desktop runs


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param


def test_tool_list_and_schemas(agent, transport):
    listed = run(agent, transport, lambda c: c.list_tools()).tools
    assert {t.name for t in listed} == TOOL_NAMES | DESKTOP_TOOLS
    by_name = {t.name: t for t in listed}
    schema = by_name["run_code"].input_schema
    expected = RunCodeArgs.model_json_schema()
    assert schema["properties"] == expected["properties"]  # the request model's, not a second copy
    assert schema["required"] == ["code"]
    assert set(schema["properties"]) == {"code", "language", "context_id", "timeout", "env", "workdir"}
    for tool in TOOLS:
        assert by_name[tool.name].description == tool.description
        assert by_name[tool.name].input_schema["type"] == "object"
    assert by_name["file_read"].annotations.read_only_hint is True
    assert by_name["file_remove"].annotations.destructive_hint is True


def test_run_code_keeps_state(agent, transport):
    name = "v_" + uuid.uuid4().hex[:8]

    async def body(c):
        first = await c.call_tool("run_code", {"code": f"{name} = 41\nprint('set')"})
        second = await c.call_tool("run_code", {"code": f"{name} + 1"})
        return first, second

    first, second = run(agent, transport, body)
    assert not first.is_error and "set" in texts(first)
    assert not second.is_error
    assert "result:\n42" in texts(second)


def test_context_notebook_holds_what_ran(agent, transport):
    marker = "nb_" + uuid.uuid4().hex[:8]

    async def body(c):
        created = await c.call_tool("context_create", {"language": "python"})
        ctx = json.loads(texts(created))["context_id"]
        await c.call_tool("run_code", {"code": f"print('{marker}')", "context_id": ctx})
        notebook = await c.call_tool("context_notebook", {"context_id": ctx})
        await c.call_tool("context_delete", {"context_id": ctx})
        return notebook

    result = run(agent, transport, body)
    assert not result.is_error, texts(result)
    nb = json.loads(texts(result))
    assert nb["nbformat"] == 4
    cell = nb["cells"][-1]
    assert marker in "".join(cell["source"]) and marker in json.dumps(cell["outputs"])


def test_plot_is_png_image_content(agent, transport):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
    result = run(agent, transport, lambda c: c.call_tool("run_code", {"code": code}))
    assert not result.is_error, texts(result)
    images = [b for b in result.content if b.type == "image"]
    assert len(images) == 1
    assert images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data).startswith(b"\x89PNG\r\n\x1a\n")


def test_dataframe_is_html_resource(agent, transport):
    code = "import pandas as pd\npd.DataFrame({'alpha': [1, 2], 'beta': [3, 4]})"
    result = run(agent, transport, lambda c: c.call_tool("run_code", {"code": code}))
    assert not result.is_error, texts(result)
    resources = [b.resource for b in result.content if b.type == "resource"]
    html = [r for r in resources if r.mime_type == "text/html"]
    assert len(html) == 1
    assert "<table" in html[0].text and "alpha" in html[0].text
    assert str(html[0].uri).startswith("kernelagent://contexts/default-python/outputs/")


def test_exception_is_error_result_with_traceback(agent, transport):
    code = "def inner():\n    raise ValueError('bad value here')\ninner()"
    result = run(agent, transport, lambda c: c.call_tool("run_code", {"code": code}))
    assert result.is_error
    text = texts(result)
    assert "ValueError" in text and "bad value here" in text
    assert "Traceback" in text and "inner()" in text
    assert "\x1b[" not in text  # colours stripped
    assert "EXECUTION_ERROR" in text


def test_deadline_is_error_result(agent, transport):
    async def body(c):
        made = await c.call_tool("context_create", {"language": "python"})
        cid = made.content[0].text.split('"context_id": "')[1].split('"')[0]
        started = time.monotonic()
        timed_out = await c.call_tool(
            "run_code", {"code": "x = 7\nimport time\ntime.sleep(60)", "context_id": cid, "timeout": 1}
        )
        elapsed = time.monotonic() - started
        after = await c.call_tool("run_code", {"code": "x * 6", "context_id": cid})
        await c.call_tool("context_delete", {"context_id": cid})
        return timed_out, elapsed, after

    timed_out, elapsed, after = run(agent, transport, body)
    assert timed_out.is_error
    assert "EXECUTION_TIMEOUT" in texts(timed_out)
    assert elapsed < 20
    assert "result:\n42" in texts(after)  # interrupted, state kept


def test_file_written_by_one_tool_read_by_another(agent, transport):
    path = str(agent.workspace / f"mcp-{uuid.uuid4().hex[:8]}.txt")
    shell_path = path + ".sh"

    async def body(c):
        wrote = await c.call_tool("file_write", {"path": path, "content": "hello from file_write\n"})
        read_by_code = await c.call_tool("run_code", {"code": f"print(open({path!r}).read())"})
        await c.call_tool("run_command", {"command": f"printf 'from the shell' > {shell_path}"})
        read_by_file = await c.call_tool("file_read", {"path": shell_path})
        listed = await c.call_tool("file_list", {"path": str(agent.workspace)})
        removed = await c.call_tool("file_remove", {"path": shell_path})
        missing = await c.call_tool("file_read", {"path": shell_path})
        return wrote, read_by_code, read_by_file, listed, removed, missing

    wrote, read_by_code, read_by_file, listed, removed, missing = run(agent, transport, body)
    assert not wrote.is_error and '"success": true' in texts(wrote)
    assert "hello from file_write" in texts(read_by_code)
    assert texts(read_by_file) == "from the shell"
    assert path.rsplit("/", 1)[1] in texts(listed)
    assert not removed.is_error
    assert missing.is_error and "FILE_NOT_FOUND" in texts(missing)


def test_file_read_image_is_image_content(agent, transport):
    path = str(agent.workspace / f"plot-{uuid.uuid4().hex[:8]}.png")
    code = f"import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig({path!r})\nplt.close()"

    async def body(c):
        await c.call_tool("run_code", {"code": code})
        return await c.call_tool("file_read", {"path": path})

    result = run(agent, transport, body)
    assert [b.type for b in result.content] == ["image"]
    assert result.content[0].mime_type == "image/png"
    assert base64.b64decode(result.content[0].data).startswith(b"\x89PNG")


def test_command_exit_code(agent, transport):
    async def body(c):
        failed = await c.call_tool("run_command", {"command": "echo out; echo err >&2; exit 3"})
        argv = await c.call_tool("run_command", {"command": "echo", "args": ["a b", "$HOME"]})
        return failed, argv

    failed, argv = run(agent, transport, body)
    assert failed.is_error
    text = texts(failed)
    assert "exit_code 3" in text and "stdout:\nout" in text and "stderr:\nerr" in text
    assert not argv.is_error and "a b $HOME" in texts(argv)  # no shell with args


def test_background_job_start_status_kill(agent, transport):
    async def body(c):
        started = await c.call_tool("job_start_command", {"command": "echo begun; sleep 60"})
        pid = started.content[0].text.split('"process_id": "')[1].split('"')[0]
        deadline = time.monotonic() + 20
        status = await c.call_tool("job_status", {"process_id": pid})
        while "begun" not in texts(status) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            status = await c.call_tool("job_status", {"process_id": pid})
        killed = await c.call_tool("job_kill", {"process_id": pid})
        after = await c.call_tool("job_status", {"process_id": pid})
        return status, killed, after

    status, killed, after = run(agent, transport, body)
    assert '"status": "running"' in texts(status) and "begun" in texts(status)
    assert not killed.is_error
    assert '"status": "killed"' in texts(after)


def test_unknown_context_is_error_result(agent, transport):
    result = run(agent, transport, lambda c: c.call_tool("run_code", {"code": "1", "context_id": "no-such"}))
    assert result.is_error
    assert "CONTEXT_NOT_FOUND" in texts(result) or "not found" in texts(result).lower()


# --- auth on /mcp ---

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def test_no_token_refused(agent):
    r = httpx.post(agent.url + "/mcp", json=INIT, headers=ACCEPT)
    assert r.status_code == 401
    assert r.json()["code"] == "AUTHENTICATION_REQUIRED"


def test_expired_token_refused(agent):
    expired = make_token(ttl=-3600)
    r = httpx.post(agent.url + "/mcp", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert r.json()["code"] == "INVALID_TOKEN"


def test_valid_token_opens_a_session(agent):
    r = httpx.post(agent.url + "/mcp", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {agent.token}"})
    assert r.status_code == 200, r.text
    assert r.headers.get("mcp-session-id")


def test_session_refused_once_its_token_expires(agent_factory):
    agent = agent_factory(jwt_leeway="0", warm_languages="")
    token = make_token(ttl=4, jti=uuid.uuid4().hex)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]

    async def body(c):
        before = await c.call_tool("file_list", {"path": str(agent.workspace)})
        await asyncio.sleep(max(exp - time.time(), 0) + 1.5)
        try:
            await c.call_tool("file_list", {"path": str(agent.workspace)})
        except Exception as exc:  # the transport reports the 401
            return before, exc
        return before, None

    before, refused = run(agent, "http-session", body, token=token)
    assert not before.is_error
    assert isinstance(refused, MCPError)
    assert "401 POST /mcp" in agent.log.read_text()


@pytest.mark.timeout(60)
def test_open_stream_closed_when_its_token_expires(agent_factory):
    """A session's GET stream stays open while its token is valid and is cut at the token's expiry."""
    agent = agent_factory(jwt_leeway="0", warm_languages="")
    token = make_token(ttl=4, jti=uuid.uuid4().hex)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    headers = {**ACCEPT, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=agent.url, headers=headers, timeout=30) as http:
        r = http.post("/mcp", json=INIT)
        assert r.status_code == 200, r.text
        session = {"Mcp-Session-Id": r.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
        r = http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        assert r.status_code == 202, r.text
        with http.stream("GET", "/mcp", headers={**session, "Accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            try:
                for _ in stream.iter_raw():
                    pass
            except httpx.HTTPError:
                pass  # the agent closed the connection
            ended = time.time()
    assert exp - 0.2 < ended < exp + 3


# --- stdio: `kernelagent mcp --agent-url URL --token TOKEN` ---


def test_stdio_with_a_bad_token_says_so_in_an_error_result(agent):
    result = run(agent, "stdio", lambda c: c.call_tool("run_code", {"code": "1"}), token="not-a-token")
    assert result.is_error
    assert "INVALID_TOKEN" in texts(result)


def test_stdio_needs_a_token():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERNELAGENT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "kernelagent", "mcp", "--agent-url", "http://127.0.0.1:1"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--token" in proc.stderr


# --- the agent's limits apply unchanged ---


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_limits_apply_unchanged(agent_factory, transport):
    agent = agent_factory(max_contexts="1", max_stdout_bytes="1000")

    async def body(c):
        printed = await c.call_tool("run_code", {"code": "print('x' * 5000)"})
        first = await c.call_tool("context_create", {"language": "python"})
        second = await c.call_tool("context_create", {"language": "python"})
        return printed, first, second

    printed, first, second = run(agent, transport, body)
    assert "Output was truncated: stdout was cut at 1000 bytes" in texts(printed)
    assert len(texts(printed)) < 2000
    assert not first.is_error
    assert second.is_error and "RATE_LIMIT_EXCEEDED" in texts(second)


def test_large_file_write_over_http(agent):
    """A body above the SDK's own 4 MiB default: /mcp takes what every route takes."""
    path = str(agent.workspace / f"big-{uuid.uuid4().hex[:8]}.txt")
    content = "y" * (5 << 20)
    result = run(agent, "http-session", lambda c: c.call_tool("file_write", {"path": path, "content": content}))
    assert not result.is_error, texts(result)
    assert os.path.getsize(path) == 5 << 20


def test_desktop_tools_where_the_desktop_runs(agent, transport):
    assert agent.get("/health").json()["features"]["desktop"] is True  # the set-up installs the desktop

    async def body(c):
        names = {t.name for t in (await c.list_tools()).tools}
        shot = await c.call_tool("desktop_screenshot", {})
        clicked = await c.call_tool("desktop_click", {"x": 5, "y": 5})
        typed = await c.call_tool("desktop_type", {"text": "héllo", "delay_ms": 0})
        pressed = await c.call_tool("desktop_key", {"key": "esc"})
        return names, shot, clicked, typed, pressed

    names, shot, clicked, typed, pressed = run(agent, transport, body)
    assert names >= DESKTOP_TOOLS
    image = shot.content[0]
    assert not shot.is_error and image.type == "image" and image.mime_type == "image/png"
    png = base64.b64decode(image.data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    display = agent.get("/desktop/display").json()
    assert (width, height) == (display["width"], display["height"])
    for result in (clicked, typed, pressed):
        assert not result.is_error, texts(result)


def test_desktop_key_unknown_name_is_an_argument_error(agent, transport):
    async def body(c):
        try:
            return await c.call_tool("desktop_key", {"key": "no-such-key"})
        except MCPError as exc:  # raised inside the client's task group, so caught here
            return exc

    error = run(agent, transport, body)
    assert isinstance(error, MCPError) and error.data["argument"] == "key", error


def test_no_desktop_tools_without_a_desktop(agent_factory):
    a = agent_factory(desktop="false")
    names = {t.name for t in run(a, "http", lambda c: c.list_tools()).tools}
    assert not DESKTOP_TOOLS & names and "run_code" in names
