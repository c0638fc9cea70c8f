"""The gateway's pure pieces: kernel ids, Jupyter timestamps, frames both ways, the channel frame model."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.gateway import messages
from kernelagent.gateway.service import jupyter_time, kernel_id
from kernelagent.models.base import parse_json
from kernelagent.models.gateway import ChannelFrame, KernelCreate


def test_kernel_ids_are_uuids_stable_and_distinct():
    named = str(uuid.uuid4())
    assert kernel_id(named) == named
    derived = kernel_id("default-python")
    assert str(uuid.UUID(derived)) == derived and derived == kernel_id("default-python")
    assert derived != kernel_id("default-bash")
    assert kernel_id(named.upper()) != named.upper(), "only the canonical form is its own kernel id"


def test_jupyter_time_always_has_microseconds():
    assert jupyter_time("2026-01-02T03:04:05Z") == "2026-01-02T03:04:05.000000Z"
    assert jupyter_time("2026-01-02T03:04:05.5+00:00") == "2026-01-02T03:04:05.500000Z"
    datetime.strptime(jupyter_time(None), "%Y-%m-%dT%H:%M:%S.%fZ")  # what GatewayClient parses


def test_kernel_messages_become_json_frames_without_buffers():
    msg = {
        "header": {"msg_id": "m1", "msg_type": "stream", "date": datetime(2026, 1, 1, tzinfo=UTC)},
        "parent_header": {"msg_id": "p1"},
        "metadata": {},
        "content": {"name": "stdout", "text": "hi"},
        "buffers": [memoryview(b"xx")],
    }
    frame = json.loads(messages.to_text("iopub", msg))
    assert frame["channel"] == "iopub" and frame["msg_type"] == "stream" and frame["msg_id"] == "m1"
    assert frame["buffers"] == [] and frame["header"]["date"].startswith("2026-01-01T00:00:00")
    assert messages.parent_id(msg) == "p1" and messages.parent_id({"parent_header": {}}) is None


def test_an_unfinished_execute_ends_with_a_reply_and_idle():
    request = {"header": {"msg_id": "r1", "msg_type": "execute_request", "session": "s"}}
    (shell, reply), (iopub, idle) = messages.unfinished_reply(request, "error", "KernelRestarted", "gone")
    reply, idle = json.loads(reply), json.loads(idle)
    assert (shell, iopub) == ("shell", "iopub")
    assert reply["parent_header"]["msg_id"] == idle["parent_header"]["msg_id"] == "r1"
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KernelRestarted"
    assert reply["header"]["session"] == "s" and idle["content"] == {"execution_state": "idle"}
    (_, aborted), _ = messages.unfinished_reply(request, "aborted")
    assert json.loads(aborted)["content"] == {"status": "aborted", "execution_count": None}


def test_channel_frames_keep_every_header_field():
    raw = {
        "channel": "shell",
        "header": {"msg_id": "a", "msg_type": "execute_request", "session": "s", "version": "5.3"},
        "content": {"code": "1"},
        "buffers": [],
    }
    msg = parse_json(ChannelFrame, json.dumps(raw).encode()).message()
    assert msg["header"] == raw["header"] and msg["content"] == {"code": "1"} and msg["parent_header"] == {}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"channel": "iopub", "header": {"msg_id": "a", "msg_type": "b"}}, "channel"),
        ({"channel": "shell", "header": {"msg_id": "a"}}, "header.msg_type"),
        ({"channel": "shell", "header": {"msg_id": "a", "msg_type": "b"}, "metadata": "x"}, "metadata"),
    ],
)
def test_bad_channel_frames_name_the_field(raw, field):
    with pytest.raises(AgentError) as err:
        parse_json(ChannelFrame, json.dumps(raw).encode())
    assert err.value.status == 400 and err.value.details.get("field", field) == field and field in err.value.message


def test_kernel_create_takes_what_gateway_client_sends():
    body = parse_json(KernelCreate, b'{"name": "python3", "env": {"KERNEL_USERNAME": "me"}}')
    assert body.name == "python3" and body.env == {"KERNEL_USERNAME": "me"}
    assert parse_json(KernelCreate, b"", required=False).name is None
