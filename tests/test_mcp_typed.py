"""MCP tools typed at the edge: a bad argument is a protocol error (invalid params) naming the argument,
over every transport; the agent's own 400s (a timeout above its maximum) are named the same way."""

from __future__ import annotations

import pytest
from mcp import MCPError
from mcp_client import TRANSPORTS, run
from mcp_types import INVALID_PARAMS

CASES = [
    ("run_code", {"code": 5}, "code"),
    ("run_code", {}, "code"),
    ("run_code", {"code": "1", "timeout": -1}, "timeout"),
    ("run_code", {"code": "1", "timeout": "soon"}, "timeout"),
    ("run_code", {"code": "1", "timeout": 10**9}, "timeout"),  # above the agent's max_timeout: its 400
    ("run_code", {"code": "1", "env": {"A": [1]}}, "env.A"),
    ("run_code", {"code": "1", "workdir": "/tmp/a\0b"}, "workdir"),
    ("run_command", {"command": ""}, "command"),
    ("run_command", {"command": "ls", "args": "-l"}, "args"),
    ("file_write", {"path": "/tmp/x"}, "content"),
    ("file_write", {"path": "/tmp/x", "content": "x", "encoding": "rot13"}, "encoding"),
    ("file_read", {"path": 3}, "path"),
    ("context_delete", {}, "context_id"),
    ("job_status", {"process_id": None}, "process_id"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bad_arguments_are_protocol_errors_naming_the_argument(agent, transport):
    async def body(c):
        errors = []
        for tool, arguments, _ in CASES:
            try:
                result = await c.call_tool(tool, arguments)
            except MCPError as exc:
                errors.append(exc)
            else:
                errors.append(result)
        return errors

    for (tool, arguments, argument), error in zip(CASES, run(agent, transport, body), strict=True):
        assert isinstance(error, MCPError), (tool, arguments, error)
        assert error.code == INVALID_PARAMS, (tool, arguments)
        assert error.data["argument"] == argument, (tool, arguments, error.data)
        assert argument.split(".")[0] in error.message, error.message


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_tool_is_a_protocol_error(agent, transport):
    async def body(c):
        try:
            await c.call_tool("no_such_tool", {})
        except MCPError as exc:
            return exc
        return None

    error = run(agent, transport, body)
    assert isinstance(error, MCPError) and error.code == INVALID_PARAMS
    assert "no_such_tool" in error.message
