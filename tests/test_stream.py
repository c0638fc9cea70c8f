"""WS /execute/stream: frames as the code prints, rich frames, result then complete, interrupt on disconnect."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets
from websockets.asyncio.client import connect


def ws_url(agent) -> str:
    return agent.url.replace("http://", "ws://") + "/execute/stream"


async def collect(agent, code: str, **fields) -> list[tuple[float, dict]]:
    frames = []
    async with connect(ws_url(agent), additional_headers={"Authorization": f"Bearer {agent.token}"}) as ws:
        await ws.send(json.dumps({"type": "execute", "code": code, **fields}))
        async for raw in ws:
            msg = json.loads(raw)
            frames.append((time.monotonic(), msg))
            if msg["type"] == "complete":
                break
    return frames


def test_sdk_stream_frames_arrive_before_the_cell_ends(agent):
    sb = agent.sdk()
    code = "import time\nprint('one', flush=True)\ntime.sleep(1)\nprint('two')"

    async def run():
        out = []
        async for msg in sb.run_code_stream(code, timeout=30):
            out.append((time.monotonic(), msg))
        return out

    frames = asyncio.run(run())
    types = [m["type"] for _, m in frames]
    assert types[-2:] == ["result", "complete"], types
    stdout = [(t, m) for t, m in frames if m["type"] == "stdout"]
    assert "".join(m["data"] for _, m in stdout) == "one\ntwo\n"
    first_t = stdout[0][0]
    end_t = frames[-1][0]
    assert end_t - first_t > 0.7, "the first frame came only at the end"
    assert stdout[0][1]["data"] == "one\n" and stdout[0][1]["timestamp"]
    result = frames[-2][1]
    assert result["exit_code"] == 0 and result["execution_time"] >= 1.0
    assert frames[-1][1]["success"] is True


def test_stderr_error_and_rich_frames(agent):
    code = (
        "import sys\nfrom IPython.display import display, HTML\nsys.stderr.write('warn\\n')\n"
        "display(HTML('<b>bold</b>'))\nraise KeyError('k')"
    )
    frames = [m for _, m in asyncio.run(collect(agent, code, working_dir="/workspace"))]
    types = [m["type"] for m in frames]
    assert "stderr" in types and "display" in types and "error" in types
    display = next(m for m in frames if m["type"] == "display")
    assert display["mime_type"] == "text/html" and display["data"]["text/html"] == "<b>bold</b>"
    error = next(m for m in frames if m["type"] == "error")
    assert "KeyError" in error["error"] or error.get("ename") == "KeyError"
    assert types[-2:] == ["result", "complete"]
    assert frames[-2]["exit_code"] != 0 and frames[-1]["success"] is False
    assert types.index("display") < types.index("result")


def test_bad_request_gets_error_frame(agent):
    frames = [m for _, m in asyncio.run(collect(agent, "1", workdir="/no/such/dir"))]
    assert frames[0]["type"] == "error" and frames[0]["code"] == "DIRECTORY_NOT_FOUND"
    assert frames[-1] == {**frames[-1], "type": "complete", "success": False}


def test_disconnect_interrupts_the_execution(agent, tmp_path):
    marker = tmp_path / "after"
    code = (
        f"import time\nprint('started', flush=True)\ntime.sleep(60)\n"
        f"open({str(marker)!r}, 'w').write('not interrupted')"
    )

    async def run_and_leave():
        async with connect(ws_url(agent), additional_headers={"Authorization": f"Bearer {agent.token}"}) as ws:
            await ws.send(json.dumps({"type": "execute", "code": code, "timeout": 120}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert first["type"] == "stdout"

    asyncio.run(run_and_leave())
    # The default context is free again well before the 60 s sleep would end.
    t0 = time.monotonic()
    assert agent.execute("40 + 2", timeout=60)["result"] == "42"
    assert time.monotonic() - t0 < 15
    assert not marker.exists()


def test_stream_needs_auth(agent):
    async def attempt():
        async with connect(ws_url(agent)):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        asyncio.run(attempt())
    assert info.value.response.status_code == 401
