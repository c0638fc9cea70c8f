"""The gateway's requests and frames typed at the edge: wrong types are 400s naming the field (in the
envelope for HTTP, in an error frame on the channels WebSocket); both auth schemes GatewayClient may use."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.sync.client import connect


def kernel_of(agent, context_id: str) -> str:
    return next(k["id"] for k in agent.get("/api/kernels").json() if k["context_id"] == context_id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"env": {"KERNEL_X": 1}}, "env.KERNEL_X"),
        ({"env": []}, "env"),
        ({"name": "cobol"}, "name"),
    ],
)
def test_start_kernel_bad_fields_name_the_field(agent, body, field):
    r = agent.post("/api/kernels", body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "INVALID_REQUEST" and r.json()["details"]["field"] == field


def test_unknown_kernels_and_kernelspecs_are_404(agent):
    for path in ("/api/kernels/6f1d8a52-0000-4f0e-9a43-6b8e0c9b1d7e", "/api/kernelspecs/cobol"):
        r = agent.get(path)
        assert r.status_code == 404 and r.json()["path"] == path
    r = agent.post("/api/kernels/nope/interrupt")
    assert r.status_code == 404 and r.json()["code"] == "KERNEL_NOT_FOUND"


def test_both_schemes_and_no_token(agent):
    for scheme in ("token", "Bearer"):
        r = httpx.get(agent.url + "/api/kernelspecs", headers={"Authorization": f"{scheme} {agent.token}"})
        assert r.status_code == 200 and r.json()["default"] == "python3"
        assert r.json()["kernelspecs"]["python3"]["spec"]["language"] == "python"
    assert httpx.get(agent.url + "/api/kernels").status_code == 401
    # elsewhere the agent's wire is unchanged: Bearer only
    assert httpx.get(agent.url + "/contexts", headers={"Authorization": f"token {agent.token}"}).status_code == 401


def test_kernel_ids_are_uuids_and_models_are_jupyters(agent):
    agent.execute("1")
    (model,) = [k for k in agent.get("/api/kernels").json() if k["context_id"] == "default-python"]
    assert len(model["id"].split("-")) == 5 and model["name"] == "python3"
    assert model["last_activity"].endswith("Z") and "." in model["last_activity"]
    assert agent.get(f"/api/kernels/{model['id']}").json()["context_id"] == "default-python"


def test_channels_refuse_bad_frames_with_error_frames(agent):
    ctx = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    url = agent.url.replace("http", "ws", 1) + f"/api/kernels/{ctx}/channels"
    try:
        with connect(url, additional_headers={"Authorization": f"token {agent.token}"}, open_timeout=30) as ws:
            for frame, field in [
                ({"channel": "iopub", "header": {"msg_id": "a", "msg_type": "x"}}, "channel"),
                ({"channel": "shell", "header": {"msg_id": 5, "msg_type": "x"}}, "header.msg_id"),
                ({"channel": "shell", "header": {"msg_id": "a", "msg_type": "x"}, "content": []}, "content"),
            ]:
                ws.send(json.dumps(frame))
                error = json.loads(ws.recv(timeout=10))
                assert error["type"] == "error" and error["code"] == "INVALID_REQUEST", error
                assert f"'{field}'" in error["message"], error
            ws.send(json.dumps({"channel": "shell"}))
            assert json.loads(ws.recv(timeout=10))["code"] == "MISSING_PARAMETER"
            ws.send(b"\x00binary")
            assert json.loads(ws.recv(timeout=10))["code"] == "INVALID_REQUEST"
    finally:
        agent.delete(f"/contexts/{ctx}")


def test_channels_of_an_unknown_kernel_or_without_a_token(agent):
    base = agent.url.replace("http", "ws", 1) + "/api/kernels/"
    with pytest.raises(Exception, match="404"):
        connect(base + "6f1d8a52-0000-4f0e-9a43-6b8e0c9b1d7e/channels?token=" + agent.token, open_timeout=10)
    ctx = agent.post("/contexts", {"language": "python"}).json()["context_id"]
    try:
        with pytest.raises(Exception, match="401"):
            connect(base + f"{ctx}/channels", open_timeout=10)
    finally:
        agent.delete(f"/contexts/{ctx}")
