"""The /execute body, the stream frame and POST /contexts: typed once, a wrong type is a 400 naming the field."""

from __future__ import annotations

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.models.base import parse_json, within_max_timeout
from kernelagent.models.execute import ContextCreate, ExecuteRequest, StreamFrame


def refused(model, raw: bytes, required: bool = True) -> AgentError:
    with pytest.raises(AgentError) as info:
        parse_json(model, raw, required)
    assert info.value.status == 400
    return info.value


def test_an_sdk_body_parses():
    req = parse_json(
        ExecuteRequest,
        b'{"code": "1+1", "language": "python", "timeout": 60, "workdir": "/workspace",'
        b' "env": {"A": "1", "PORT": 8080}, "type": "execute"}',
    )
    assert (req.code, req.language, req.timeout, req.cwd) == ("1+1", "python", 60.0, "/workspace")
    assert req.env == {"A": "1", "PORT": "8080"}  # numbers travel as text
    assert parse_json(ExecuteRequest, b'{"code": "x", "working_dir": "/w"}').cwd == "/w"


@pytest.mark.parametrize(
    "body,field",
    [
        (b'{"code": "1", "language": 5}', "language"),
        (b'{"code": 1}', "code"),
        (b'{"code": "1", "context_id": 7}', "context_id"),
        (b'{"code": "1", "timeout": "x"}', "timeout"),
        (b'{"code": "1", "timeout": -1}', "timeout"),
        (b'{"code": "1", "timeout": true}', "timeout"),
        (b'{"code": "1", "env": {"A": ["x"]}}', "env.A"),
        (b'{"code": "1", "env": "A=1"}', "env"),
        (b'{"code": "1", "workdir": 3}', "workdir"),
        (b'{"code": "1", "working_dir": "/a\\u0000b"}', "working_dir"),
    ],
)
def test_a_wrong_type_names_its_field(body, field):
    error = refused(ExecuteRequest, body)
    assert error.code == "INVALID_REQUEST"
    assert error.details["field"] == field and field in error.message


def test_missing_code_and_bad_json():
    assert refused(ExecuteRequest, b'{"language": "python"}').code == "MISSING_PARAMETER"
    assert refused(ExecuteRequest, b"{not json").code == "INVALID_JSON"
    assert refused(ExecuteRequest, b"[1]").code == "INVALID_JSON"
    assert refused(ExecuteRequest, b"").code == "INVALID_JSON"


def test_timeout_default_and_maximum_applied_once():
    assert within_max_timeout(None, 60.0, 3600.0) == 60.0
    assert within_max_timeout(5.0, 60.0, 3600.0) == 5.0
    with pytest.raises(AgentError) as info:
        within_max_timeout(3601.0, 60.0, 3600.0)
    assert info.value.status == 400 and info.value.details["field"] == "timeout"


def test_stream_frame_kind():
    assert parse_json(StreamFrame, b'{"code": "1"}').type == "execute"
    assert parse_json(StreamFrame, b'{"type": "ping"}').type == "ping"
    assert refused(StreamFrame, b'{"type": 5}').details["field"] == "type"


def test_context_body_is_optional_and_typed():
    assert parse_json(ContextCreate, b"", required=False).language is None
    assert parse_json(ContextCreate, b'{"language": "bash"}').language == "bash"
    assert refused(ContextCreate, b'{"language": 5}', required=False).details["field"] == "language"
