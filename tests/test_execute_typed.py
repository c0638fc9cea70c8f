"""/execute, /contexts and /execute/stream typed at the edge: a wrong type is a 400 (or an error frame)
in the envelope naming the field, never a 500."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect


@pytest.mark.parametrize(
    "body,field",
    [
        ({"code": "1", "language": 5}, "language"),
        ({"code": "1", "language": ["python"]}, "language"),
        ({"code": "1", "context_id": 5}, "context_id"),
        ({"code": "1", "timeout": True}, "timeout"),
        ({"code": "1", "timeout": "10"}, "timeout"),
        ({"code": "1", "env": ["A=1"]}, "env"),
        ({"code": "1", "env": {"A": None}}, "env.A"),
        ({"code": "1", "workdir": 5}, "workdir"),
        ({"code": "1", "working_dir": {"path": "/"}}, "working_dir"),
        ({"code": ["print(1)"]}, "code"),
        ({"code": "1", "idempotency_key": 5}, "idempotency_key"),
    ],
)
def test_execute_wrong_type_is_a_400_naming_the_field(agent, body, field):
    for path in ("/execute", "/execute/rich"):
        r = agent.post(path, body)
        assert r.status_code == 400, (path, body, r.text)
        error = r.json()
        assert error["code"] == "INVALID_REQUEST"
        assert error["details"]["field"] == field and field in error["message"]
        assert error["request_id"] and error["path"] == path


def test_execute_timeout_over_the_maximum_names_the_field(agent):
    r = agent.post("/execute", {"code": "1", "timeout": 10**9})
    assert r.status_code == 400 and r.json()["details"]["field"] == "timeout"


def test_unknown_language_is_still_the_400_it_was(agent):
    r = agent.post("/execute", {"code": "1", "language": "cobol"})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    assert "python" in r.json()["details"]["available_languages"]


def test_contexts_body_is_typed(agent):
    r = agent.post("/contexts", {"language": 5})
    assert r.status_code == 400 and r.json()["details"]["field"] == "language"
    r = agent.post("/contexts", [1])
    assert r.status_code == 400 and r.json()["code"] == "INVALID_JSON"
    r = agent.post("/contexts", {"language": "cobol"})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    r = agent.http.post("/contexts")  # no body: python
    assert r.status_code == 201 and r.json()["language"] == "python"
    assert agent.delete(f"/contexts/{r.json()['context_id']}").json() == {
        "context_id": r.json()["context_id"],
        "deleted": True,
    }


def test_the_document_describes_execute_and_contexts(agent):
    doc = agent.get("/openapi.json").json()
    execute = doc["paths"]["/execute"]["post"]
    assert execute["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ExecuteRequest")
    assert execute["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ExecuteAnswer")
    assert doc["paths"]["/contexts"]["post"]["responses"]["201"]
    answer = doc["components"]["schemas"]["ExecuteAnswer"]
    assert {"success", "exit_code", "stdout", "stderr", "rich_outputs", "context_id"} <= set(answer["required"])
    assert "error" in answer["properties"] and "error" not in answer["required"]


async def frames_for(agent, *messages: str) -> list[dict]:
    url = agent.url.replace("http://", "ws://") + "/execute/stream"
    out = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {agent.token}"}) as ws:
        for message in messages:
            await ws.send(message)
        async for raw in ws:
            frame = json.loads(raw)
            out.append(frame)
            if frame["type"] == "complete":
                break
    return out


def test_stream_frame_wrong_type_is_an_error_frame_naming_the_field(agent):
    frames = asyncio.run(frames_for(agent, json.dumps({"type": "execute", "code": "1", "language": 5})))
    assert [f["type"] for f in frames] == ["error", "complete"]
    assert frames[0]["code"] == "INVALID_REQUEST" and frames[0]["details"]["field"] == "language"
    assert frames[1]["success"] is False


def test_stream_bad_frames_then_a_good_one(agent):
    frames = asyncio.run(
        frames_for(
            agent,
            "not json",
            "[1]",
            json.dumps({"type": 5}),
            json.dumps({"type": "nope"}),
            json.dumps({"type": "ping"}),
            json.dumps({"code": "print('ok')"}),
        )
    )
    kinds = [(f["type"], f.get("code")) for f in frames]
    assert kinds[:5] == [
        ("error", "INVALID_JSON"),
        ("error", "INVALID_JSON"),
        ("error", "INVALID_REQUEST"),
        ("error", "INVALID_REQUEST"),
        ("pong", None),
    ]
    assert all(f["timestamp"] for f in frames)
    assert frames[2]["message"].startswith("Invalid value for 'type'")
    assert frames[3]["message"] == "Unknown frame type: 'nope'"
    assert [f["type"] for f in frames[5:]] == ["stdout", "result", "complete"]
    assert frames[5]["data"] == "ok\n" and frames[-1]["success"] is True
