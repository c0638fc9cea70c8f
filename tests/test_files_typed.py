"""Typed /files requests through the real agent: a wrong type is a 400 in the envelope naming the
field (never a 500), /files/watch frames likewise, too many watches a 429 RATE_LIMIT_EXCEEDED
like every other limit, and paths still reach the policy exactly as sent."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest
import websockets

ENVELOPE = {"error", "message", "code", "request_id", "timestamp", "path", "details"}


def fresh(agent):
    d = agent.workspace / f"typed-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    return d


def bad_field(r, field: str, code: str = "INVALID_REQUEST") -> dict:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body.keys() >= ENVELOPE and body["code"] == code, body
    if code == "INVALID_REQUEST":
        assert body["details"]["field"] == field and f"'{field}'" in body["message"], body
    else:
        assert body["details"] == {"parameter": field}, body
    return body


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"encoding": 5}, "encoding"),
        ({"encoding": "rot13"}, "encoding"),
        ({"content": 5}, "content"),
        ({"content": ["x"]}, "content"),
        ({"path": 5}, "path"),
        ({"mode": True}, "mode"),
        ({"mode": "rwx"}, "mode"),
        ({"overwrite": "no"}, "overwrite"),
    ],
)
def test_write_wrong_types_are_400_naming_the_field(agent, extra, field):
    target = fresh(agent) / "w.txt"
    bad_field(agent.post("/files/write", {"path": str(target), "content": "x", **extra}), field)
    assert not target.exists()


def test_write_and_mkdir_missing_or_null(agent):
    d = fresh(agent)
    bad_field(agent.post("/files/write", {"path": None, "content": "x"}), "path", "MISSING_PARAMETER")
    bad_field(agent.post("/files/write", {"path": str(d / "x"), "content": None}), "content", "MISSING_PARAMETER")
    bad_field(agent.post("/files/mkdir", {"path": ""}), "path", "MISSING_PARAMETER")
    bad_field(agent.post("/files/mkdir", {"path": 5}), "path")
    bad_field(agent.post("/files/mkdir", {"path": {"a": 1}}), "path")
    r = agent.post("/files/write", {"path": str(d / "m.sh"), "content": "x", "mode": "0755", "encoding": "utf-8"})
    assert r.status_code == 200, r.text
    assert (os.stat(d / "m.sh").st_mode & 0o777) == 0o755


def test_remove_with_the_path_in_a_json_body(agent):
    d = fresh(agent)
    (d / "gone.txt").write_text("x")
    bad_field(agent.http.request("DELETE", "/files/remove", json={"path": 5}), "path")
    r = agent.http.request("DELETE", "/files/remove", json={"path": str(d / "gone.txt")})
    assert r.status_code == 200 and not (d / "gone.txt").exists()
    bad_field(agent.delete("/files/remove"), "path", "MISSING_PARAMETER")


def test_query_paths_are_taken_as_sent(agent):
    d = fresh(agent)
    name = os.fsencode(str(d)) + b"/\xff.bin"  # a file name that is not UTF-8
    with open(name, "wb") as f:
        f.write(b"latin")
    r = agent.get(f"/files/read?path={d}/%FF.bin")
    assert r.status_code == 200 and r.json()["content"] == "latin", r.text
    (d / "sp ").write_text("trailing space")
    assert agent.get("/files/read", params={"path": f"{d}/sp "}).json()["content"] == "trailing space"


async def _frames(agent, *frames: object, replies: int | None = None) -> list[dict]:
    """Send the frames, then read `replies` answers (default: one per frame)."""
    url = agent.url.replace("http://", "ws://") + "/files/watch"
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {agent.token}"}) as ws:
        for frame in frames:
            await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        n = len(frames) if replies is None else replies
        return [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(n)]


def test_watch_frames_with_wrong_types_name_the_field(agent):
    frames = asyncio.run(
        _frames(
            agent,
            {"action": "watch", "path": 5},
            {"action": "watch", "recursive": "yes"},
            {"action": ["watch"]},
            {"action": "dance"},
            {"action": "ping"},
            "[]",
        )
    )
    for frame, field in zip(frames[:3], ("path", "recursive", "action"), strict=True):
        assert frame["type"] == "error" and frame["code"] == "INVALID_REQUEST", frame
        assert frame["details"]["field"] == field and {"error", "message", "timestamp"} <= frame.keys(), frame
    assert frames[3]["code"] == "INVALID_REQUEST" and "dance" in frames[3]["message"]
    assert frames[4]["type"] == "pong"
    assert frames[5]["code"] == "INVALID_JSON" and frames[5]["path"] is None


def test_too_many_watches_is_429_rate_limit_exceeded(agent_factory):
    a = agent_factory(max_watchers="1", warm_languages="")
    first, second = fresh(a), fresh(a)
    watch = {"action": "watch", "path": str(first)}
    again = {"action": "watch", "path": str(second)}
    frames = asyncio.run(_frames(a, watch, again, {"action": "ping"}, replies=2))
    assert frames[0]["type"] == "error" and frames[0]["code"] == "RATE_LIMIT_EXCEEDED", frames
    assert frames[0]["details"]["limit"] == 1 and frames[0]["path"] == str(second)
    assert frames[1]["type"] == "pong"
    # closing the socket gave the watch back: the next connection may watch again
    for _ in range(50):
        frames = asyncio.run(_frames(a, again, {"action": "ping"}, replies=1))
        if frames[0]["type"] == "pong":
            break
    assert frames[0]["type"] == "pong", frames
