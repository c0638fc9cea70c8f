"""Requests of commands, jobs and the terminal, typed once: what they accept, and the 400 naming the field."""

from __future__ import annotations

import pytest

from kernelagent.commands.service import argv_of
from kernelagent.core.errors import AgentError
from kernelagent.models.base import parse_json, parse_object
from kernelagent.models.commands import CommandRequest
from kernelagent.models.jobs import (
    AsyncExecuteRequest,
    BackgroundExecuteRequest,
    KillBody,
    KillQuery,
    ProcessesQuery,
    kill_target,
)
from kernelagent.models.terminal import TerminalInput, TerminalResize, TerminalSize


def refused(model, raw: bytes) -> AgentError:
    with pytest.raises(AgentError) as exc:
        parse_json(model, raw)
    assert exc.value.status == 400
    return exc.value


# --- commands ---


def test_command_both_forms():
    shell = parse_json(CommandRequest, b'{"command": "echo $((1+2))", "working_dir": "/tmp"}')
    assert argv_of(shell) == (["/bin/sh", "-c", "echo $((1+2))"], "echo $((1+2))")
    assert shell.cwd == "/tmp" and shell.timeout is None and shell.env is None
    argv = parse_json(CommandRequest, b'{"command": "printf", "args": ["%s", "a b"], "timeout": 5, "env": {"N": 1}}')
    assert argv_of(argv) == (["printf", "%s", "a b"], "printf %s 'a b'")
    assert argv.timeout == 5.0 and argv.env == {"N": "1"}


@pytest.mark.parametrize(
    "raw,code,field",
    [
        (b"{}", "MISSING_PARAMETER", None),
        (b'{"command": ""}', "MISSING_PARAMETER", None),
        (b'{"command": 5}', "INVALID_REQUEST", "command"),
        (b'{"command": "a\\u0000b"}', "INVALID_REQUEST", "command"),
        (b'{"command": "ls", "args": "-l"}', "INVALID_REQUEST", "args"),
        (b'{"command": "ls", "args": ["-l", 3]}', "INVALID_REQUEST", "args.1"),
        (b'{"command": "ls", "timeout": "soon"}', "INVALID_REQUEST", "timeout"),
        (b'{"command": "ls", "timeout": 0}', "INVALID_REQUEST", "timeout"),
        (b'{"command": "ls", "env": {"B": null}}', "INVALID_REQUEST", "env.B"),
        (b'{"command": "ls", "workdir": 7}', "INVALID_REQUEST", "workdir"),
        (b'{"command": "ls", "name": ["x"]}', "INVALID_REQUEST", "name"),
    ],
)
def test_command_bad_input(raw, code, field):
    err = refused(CommandRequest, raw)
    assert err.code == code
    if code == "MISSING_PARAMETER":
        assert err.details == {"parameter": "command"}
    else:
        assert err.details["field"] == field, err.details


# --- background and webhook executions ---


def test_background_request():
    req = parse_json(BackgroundExecuteRequest, b'{"code": "1", "name": "n", "workdir": "/w", "working_dir": "/x"}')
    assert req.name == "n" and req.cwd == "/w" and req.language is None
    assert refused(BackgroundExecuteRequest, b'{"code": "1", "name": 5}').details["field"] == "name"
    assert refused(BackgroundExecuteRequest, b'{"language": "python"}').code == "MISSING_PARAMETER"


def test_async_request():
    req = parse_json(
        AsyncExecuteRequest,
        b'{"code": "1", "callback_url": "https://h/x", "callback_headers": {"A": "b"},'
        b' "callback_signature_secret": "s"}',
    )
    assert req.callback_url == "https://h/x" and req.callback_headers == {"A": "b"}
    assert req.callback_signature_secret == "s"
    for raw in (b'{"code": "1"}', b'{"code": "1", "callback_url": ""}'):
        err = refused(AsyncExecuteRequest, raw)
        assert err.code == "MISSING_PARAMETER" and err.details == {"parameter": "callback_url"}
    for raw, field in [
        (b'{"code": "1", "callback_url": "ftp://h/x"}', "callback_url"),
        (b'{"code": "1", "callback_url": "http:///x"}', "callback_url"),
        (b'{"code": "1", "callback_url": 5}', "callback_url"),
        (b'{"code": "1", "callback_url": "http://h", "callback_headers": {"A": 1}}', "callback_headers.A"),
        (b'{"code": "1", "callback_url": "http://h", "callback_headers": {"A": "x\\r\\nB: y"}}', "callback_headers.A"),
        (b'{"code": "1", "callback_url": "http://h", "callback_headers": {"A:B": "x"}}', "callback_headers.A:B.[key]"),
        (b'{"code": "1", "callback_url": "http://h", "callback_signature_secret": 1}', "callback_signature_secret"),
    ]:
        err = refused(AsyncExecuteRequest, raw)
        assert err.code == "INVALID_REQUEST" and err.details["field"] == field, (raw, err.details)


# --- the registry's queries and the kill shapes ---


@pytest.mark.parametrize(
    "value,expected",
    [(None, True), ("", True), ("true", True), ("banana", True), ("0", False), ("FALSE", False), (" no ", False)],
)
def test_output_flag_keeps_the_legacy_rule(value, expected):
    args = {} if value is None else {"output": value}
    assert parse_object(ProcessesQuery, args).output is expected


def test_kill_target_order_and_missing():
    q, b = KillQuery, KillBody
    assert kill_target("p1", q(process_id="p2"), b(process_id="p3")) == "p1"
    assert kill_target(None, q(process_id="", execution_id="e2"), b(process_id="p3")) == "e2"
    assert kill_target(None, q(), b(execution_id="e3")) == "e3"
    with pytest.raises(AgentError) as exc:
        kill_target("", q(process_id=""), b())
    assert exc.value.code == "MISSING_PARAMETER" and exc.value.details == {"parameter": "process_id"}
    assert refused(KillBody, b'{"process_id": 5}').details["field"] == "process_id"


# --- terminal ---


def test_terminal_size_and_frames():
    assert parse_object(TerminalSize, {}).model_dump() == {"cols": 80, "rows": 24}
    assert parse_object(TerminalSize, {"cols": "100", "rows": "30", "token": "t"}).model_dump() == {
        "cols": 100,
        "rows": 30,
    }
    for args, field in [({"cols": "abc"}, "cols"), ({"rows": "0"}, "rows"), ({"cols": "1001"}, "cols")]:
        with pytest.raises(AgentError) as exc:
            parse_object(TerminalSize, args)
        assert exc.value.details["field"] == field
    assert parse_object(TerminalInput, {"type": "input", "data": "ls\n"}).data == "ls\n"
    resize = parse_object(TerminalResize, {"type": "resize", "cols": 120, "rows": 40})
    assert (resize.cols, resize.rows) == (120, 40)
    for model, frame, field in [
        (TerminalInput, {"type": "input", "data": 5}, "data"),
        (TerminalResize, {"type": "resize", "cols": 0, "rows": 5}, "cols"),
        (TerminalResize, {"type": "resize", "cols": "80", "rows": 5}, "cols"),  # frames are strict
        (TerminalResize, {"type": "resize", "cols": True, "rows": 5}, "cols"),
    ]:
        with pytest.raises(AgentError) as exc:
            parse_object(model, frame)
        assert exc.value.details["field"] == field
    with pytest.raises(AgentError) as exc:
        parse_object(TerminalResize, {"type": "resize", "cols": 80})
    assert exc.value.code == "MISSING_PARAMETER"
