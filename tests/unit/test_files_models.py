"""The /files request models: wrong types are 400s naming the field, paths stay as sent."""

from __future__ import annotations

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.models.base import parse_json, parse_object
from kernelagent.models.files import (
    ListQuery,
    MkdirRequest,
    PathQuery,
    ReadQuery,
    RemoveBody,
    WriteRequest,
    parse_watch_frame,
)


def fails(model, raw: bytes) -> AgentError:
    with pytest.raises(AgentError) as info:
        parse_json(model, raw)
    assert info.value.status == 400
    return info.value


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"path": "/w/x", "content": "x", "encoding": 5}', "encoding"),
        (b'{"path": "/w/x", "content": "x", "encoding": "rot13"}', "encoding"),
        (b'{"path": "/w/x", "content": 5}', "content"),
        (b'{"path": 5, "content": "x"}', "path"),
        (b'{"path": "/w/x", "content": "x", "mode": true}', "mode"),
        (b'{"path": "/w/x", "content": "x", "mode": "rwx"}', "mode"),
        (b'{"path": "/w/x", "content": "x", "mode": "17777"}', "mode"),
        (b'{"path": "/w/x", "content": "x", "mode": 6.5}', "mode"),
        (b'{"path": "/w/x", "content": "x", "overwrite": "no"}', "overwrite"),
    ],
)
def test_write_wrong_types_name_the_field(body, field):
    err = fails(WriteRequest, body)
    assert err.code == "INVALID_REQUEST" and err.details["field"] == field, err.message
    assert field in err.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"content": "x"}', "path"),
        (b'{"path": "", "content": "x"}', "path"),
        (b'{"path": null, "content": "x"}', "path"),
        (b'{"path": "/w/x"}', "content"),
        (b'{"path": "/w/x", "content": null}', "content"),
    ],
)
def test_write_missing_fields(body, field):
    err = fails(WriteRequest, body)
    assert err.code == "MISSING_PARAMETER" and err.details == {"parameter": field}


def test_write_modes_and_encodings():
    def parse(extra: bytes) -> WriteRequest:
        return parse_json(WriteRequest, b'{"path": "/w/x", "content": "AP8Q"' + extra + b"}")

    assert parse(b', "mode": "0644"').mode == 0o644
    assert parse(b', "mode": "755"').mode == 0o755
    assert parse(b', "mode": "0o600"').mode == 0o600
    assert parse(b', "mode": 644').mode == 0o644  # an integer is read as its octal digits, as before
    assert parse(b', "mode": ""').mode is None and parse(b"").mode is None
    assert parse(b"").data() == b"AP8Q"
    assert parse(b', "encoding": "text"').data() == b"AP8Q"
    assert parse(b', "encoding": "BASE64"').data() == b"\x00\xff\x10"
    with pytest.raises(AgentError) as info:
        parse_json(WriteRequest, b'{"path": "/w/x", "content": "!!", "encoding": "base64"}').data()
    assert info.value.code == "INVALID_REQUEST" and info.value.details["field"] == "content"
    # a lone surrogate written as text survives as it always did
    assert parse_object(WriteRequest, {"path": "/w/x", "content": "\udcff"}).data() == "\udcff".encode(
        "utf-8", "surrogatepass"
    )


def test_paths_stay_exactly_as_sent():
    # whitespace, NUL and relative paths are the path policy's to judge (INVALID_PATH), not the model's
    for path in (" /w/x ", "/w/a\0b", "rel/x", "/w/x\udcff"):
        assert parse_object(PathQuery, {"path": path}).path == path
        assert parse_object(MkdirRequest, {"path": path}).path == path
    assert parse_object(ListQuery, {}).path is None
    assert parse_json(RemoveBody, b"{}").path is None
    assert fails(RemoveBody, b'{"path": ["/w"]}').details["field"] == "path"
    with pytest.raises(AgentError) as info:
        parse_object(PathQuery, {"path": ""})
    assert info.value.code == "MISSING_PARAMETER"


def test_read_query_encoding():
    assert parse_object(ReadQuery, {"path": "/w/x", "encoding": "base64"}).wants_base64
    assert parse_object(ReadQuery, {"path": "/w/x", "encoding": " base64 "}).wants_base64
    assert not parse_object(ReadQuery, {"path": "/w/x", "encoding": "latin-1"}).wants_base64
    assert not parse_object(ReadQuery, {"path": "/w/x"}).wants_base64


def test_watch_frames():
    frame = parse_watch_frame('{"action": "watch", "path": "/w", "recursive": false}')
    assert (frame.verb, frame.path, frame.recursive) == ("watch", "/w", False)
    assert parse_watch_frame(b'{"type": "unwatch"}').verb == "unwatch"
    assert parse_watch_frame("{}").verb == "watch"
    for junk in ("not json", "[1]", "", "null"):
        with pytest.raises(AgentError) as info:
            parse_watch_frame(junk)
        assert info.value.code == "INVALID_JSON" and "action" in info.value.message
    for bad, field in (('{"path": 5}', "path"), ('{"recursive": "yes"}', "recursive"), ('{"action": 1}', "action")):
        with pytest.raises(AgentError) as info:
            parse_watch_frame(bad)
        assert info.value.code == "INVALID_REQUEST" and info.value.details["field"] == field
