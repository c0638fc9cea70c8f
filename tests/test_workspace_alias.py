"""One meaning of `/workspace` (core/workdir.py): in every endpoint, the workspace alias names the
agent's workspace, whether or not a real directory of that name exists.

The alias is a setting, so each case runs here with an alias of its own under the test's tmp dir:
once where no such directory exists, once where a real one does (inside the file API's roots, /tmp,
so nothing but the rule keeps it out). The JS SDK test (test_js_sdk.py) checks the default,
`/workspace` itself, on whatever this machine has; tests/unit/test_workdir.py the mapping alone.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import pytest
import websockets


async def _watch_sees(agent, path: str, poke_dir, timeout: float = 20.0) -> dict:
    """Watch `path` and write files into poke_dir (the real workspace) until an event arrives."""
    url = agent.url.replace("http://", "ws://") + "/files/watch"
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {agent.token}"}) as ws:
        await ws.send(json.dumps({"action": "watch", "path": path}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            (poke_dir / f"poke-{uuid.uuid4().hex[:6]}").write_text("p")
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                continue
            assert msg.get("type") != "error", msg
            return msg
    raise AssertionError("the watch saw nothing")


async def _terminal_pwd(agent, timeout: float = 20.0) -> str:
    url = agent.url.replace("http://", "ws://") + "/terminal"
    out = ""
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {agent.token}"}) as ws:
        await ws.send(json.dumps({"type": "input", "data": "echo at:$(pwd):\n"}))
        deadline = time.monotonic() + timeout
        while "at:/" not in out and time.monotonic() < deadline:
            frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            out += frame.get("data", "") if frame.get("type") == "output" else ""
    found = re.search(r"at:(/[^:]*):", out)  # the output, not the echoed input line
    assert found, out
    return found.group(1)


@pytest.mark.parametrize("real", [False, True], ids=["no-real-dir", "real-dir"])
def test_the_alias_names_the_workspace_in_every_endpoint(agent_factory, tmp_path, real):
    alias_dir = tmp_path / "elsewhere" / "workspace"
    if real:
        alias_dir.mkdir(parents=True)
        (alias_dir / "only-in-the-real-dir.txt").write_text("not the workspace")
    agent = agent_factory(workspace_alias=str(alias_dir))
    alias, ws = str(alias_dir), agent.workspace

    # executions and commands run in the workspace, and below it
    assert agent.execute("import os; print(os.getcwd())", workdir=alias)["stdout"].strip() == str(ws)
    (ws / "sub").mkdir()
    assert agent.execute("import os; print(os.getcwd())", workdir=alias + "/sub")["stdout"].strip() == str(ws / "sub")
    r = agent.post("/commands/run", {"command": "pwd", "workdir": alias})
    assert r.status_code == 200 and r.json()["stdout"].strip() == str(ws), r.text

    # files: written, read, listed and removed in the workspace, never in the real directory
    r = agent.post("/files/write", {"path": alias + "/a.txt", "content": "hello"})
    assert r.status_code == 200, r.text
    assert (ws / "a.txt").read_text() == "hello" and not (alias_dir / "a.txt").exists()
    assert agent.get("/files/read", params={"path": alias + "/a.txt"}).json()["content"] == "hello"
    listed = {f["path"] for f in agent.get("/files/list", params={"path": alias}).json()["files"]}
    assert alias + "/a.txt" in listed and alias + "/only-in-the-real-dir.txt" not in listed
    exists = agent.get("/files/exists", params={"path": alias + "/only-in-the-real-dir.txt"}).json()
    assert exists["exists"] is False
    assert agent.delete("/files/remove", params={"path": alias + "/a.txt"}).status_code == 200
    assert not (ws / "a.txt").exists()

    # a watch on the alias sees the workspace, and reports paths under the name it was given
    event = asyncio.run(_watch_sees(agent, alias, ws))
    assert event["path"].startswith(alias + "/poke-"), event

    # the terminal starts in the workspace (the name the SDKs assume)
    assert asyncio.run(_terminal_pwd(agent)) == str(ws)
