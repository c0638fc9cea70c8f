"""The MCP pieces without an agent: arguments derived from the request models, answers rendered into
MCP content, and the error mapping of a tool call (over a fake backend)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import ValidationError

from kernelagent.api.openapi import document
from kernelagent.app import all_routes
from kernelagent.core.errors import AgentError, bad_request, rate_limited
from kernelagent.mcp import render
from kernelagent.mcp.server import call_tool
from kernelagent.mcp.tools import TOOLS
from kernelagent.models.commands import CommandRequest
from kernelagent.models.execute import ExecuteRequest
from kernelagent.models.mcp import RunCodeArgs, RunCommandArgs, WriteArgs, widen

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 16


def answer(**fields: Any) -> dict[str, Any]:
    base = {
        "success": True,
        "exit_code": 0,
        "execution_time": 0.5,
        "language": "python",
        "context_id": "default-python",
        "execution_count": 1,
        "timestamp": "now",
        "stdout": "",
        "stderr": "",
        "rich_outputs": [],
        "truncated": False,
    }
    return {**base, **fields}


def rich(mime: str, value: Any, output_type: str = "display_data") -> dict[str, Any]:
    return {"type": mime, "data": {mime: value, "text/plain": "<repr>"}, "metadata": {}, "output_type": output_type}


# --- arguments ---


def test_arguments_keep_the_request_models_fields():
    for name in RunCodeArgs.model_fields:
        assert RunCodeArgs.model_fields[name].description == ExecuteRequest.model_fields[name].description
    assert "idempotency_key" not in RunCodeArgs.model_fields and "working_dir" not in RunCodeArgs.model_fields
    with pytest.raises(ValidationError):
        RunCodeArgs.model_validate({"code": "1", "timeout": 0})  # gt=0 of Timeout, kept
    with pytest.raises(ValidationError):
        RunCommandArgs.model_validate({"command": ""})  # RequiredText, kept
    with pytest.raises(ValidationError):
        RunCodeArgs.model_validate({"code": "1", "env": {"A=B": "x"}})  # EnvName, kept
    with pytest.raises(ValidationError):
        RunCodeArgs.model_validate({"code": 1})  # strict: a number is not code
    assert "mode" not in WriteArgs.model_fields  # the wire's octal digits would not survive a round trip


def test_widen_makes_the_full_request_with_only_the_fields_set():
    args = RunCodeArgs.model_validate({"code": "x", "timeout": 2, "workdir": "/tmp"})
    req = widen(args, ExecuteRequest)
    assert isinstance(req, ExecuteRequest)
    assert (req.code, req.timeout, req.cwd, req.env, req.idempotency_key) == ("x", 2.0, "/tmp", None, None)
    assert json.loads(req.model_dump_json(exclude_unset=True)) == {"code": "x", "timeout": 2.0, "workdir": "/tmp"}
    cmd = widen(RunCommandArgs.model_validate({"command": "ls", "args": ["-l"]}), CommandRequest)
    assert (cmd.command, cmd.args, cmd.timeout) == ("ls", ["-l"], None)


def test_every_tool_schema_is_an_object_from_its_model():
    for tool in TOOLS:
        spec = tool.spec()
        assert spec.input_schema["type"] == "object"
        assert spec.input_schema.get("properties", {}) == tool.args.model_json_schema().get("properties", {})
        assert spec.description and len(spec.description) < 600


def test_mcp_route_is_described_as_a_protocol():
    doc = document(all_routes(), "test")
    assert "/mcp" not in doc["paths"]
    assert "Model Context Protocol" in doc["x-protocols"]["/mcp"]
    assert "/mcp" in doc["info"]["description"]


# --- rendering ---


def test_execution_renders_images_resources_and_text():
    outputs = [
        rich("image/png", base64.b64encode(PNG).decode() + "\n"),
        rich("image/jpeg", base64.b64encode(JPEG).decode()),
        rich("text/html", "<table></table>", "execute_result"),
        rich("image/svg+xml", "<svg/>"),
        rich("application/json", {"a": 1}),
        rich("text/markdown", "# hi"),
        {"type": "text/plain", "data": {"text/plain": "shown"}, "metadata": {}, "output_type": "display_data"},
    ]
    result = render.execution(answer(stdout="out\n", result="<repr>", rich_outputs=outputs))
    assert not result.is_error
    kinds = [
        (b.type, getattr(b, "mime_type", None) or getattr(getattr(b, "resource", None), "mime_type", None))
        for b in result.content
    ]
    assert kinds == [
        ("text", None),
        ("image", "image/png"),
        ("image", "image/jpeg"),
        ("resource", "text/html"),
        ("resource", "image/svg+xml"),
        ("resource", "application/json"),
        ("resource", "text/markdown"),
        ("text", None),
    ]
    assert base64.b64decode(result.content[1].data) == PNG  # whitespace taken out of the base64
    assert json.loads(result.content[5].resource.text) == {"a": 1}
    assert result.content[3].resource.uri == "kernelagent://contexts/default-python/outputs/2.html"
    assert "stdout:\nout" in result.content[0].text and "result:\n<repr>" in result.content[0].text
    assert result.content[7].text == "shown"


def test_execution_error_has_traceback_once_and_no_colours():
    tb = ["\x1b[0;31mValueError\x1b[0m: bad", "  File x, line 1"]
    error = {
        "code": "EXECUTION_ERROR",
        "message": "ValueError: bad",
        "ename": "ValueError",
        "evalue": "bad",
        "traceback": tb,
    }
    result = render.execution(answer(success=False, exit_code=1, error=error))
    text = result.content[0].text
    assert result.is_error
    assert "EXECUTION_ERROR: ValueError: bad" in text and "ValueError: bad\n  File x, line 1" in text
    assert "\x1b" not in text
    shown = render.execution(answer(success=False, exit_code=1, error=error, stderr="\n".join(tb)))
    assert shown.content[0].text.count("File x, line 1") == 1  # stderr already shows it


def test_truncation_is_said_in_words():
    truncation = {
        "stdout": True,
        "stderr": False,
        "rich_outputs_dropped": 2,
        "limits": {"stdout_bytes": 100, "stderr_bytes": 100, "rich_bytes": 1000},
    }
    text = render.execution(answer(truncated=True, truncation=truncation)).content[0].text
    assert "Output was truncated: stdout was cut at 100 bytes; 2 rich outputs were dropped (limit 1000 bytes)." in text
    assert "truncated" not in render.execution(answer()).content[0].text


def test_command_exit_code_and_deadline():
    base = {
        "stdout": "o",
        "stderr": "",
        "command": "x",
        "pid": 1,
        "truncated": False,
        "timestamp": "t",
        "execution_time": 1.0,
    }
    failed = render.command({**base, "exit_code": 3, "success": False, "timed_out": False, "killed": False})
    assert failed.is_error and "[exit_code 3, 1.00 s]" in failed.content[0].text
    timed = render.command(
        {
            **base,
            "exit_code": None,
            "success": False,
            "timed_out": True,
            "killed": True,
            "error": {"code": "EXECUTION_TIMEOUT", "message": "after 1 s"},
        }
    )
    assert "timed out and was killed" in timed.content[0].text and "EXECUTION_TIMEOUT" in timed.content[0].text


def test_file_content_by_what_it_holds():
    def content(data: bytes) -> Any:
        return {"content": base64.b64encode(data).decode(), "path": "/p", "size": len(data), "encoding": "base64"}

    png = render.file_content(content(PNG))
    assert png.content[0].type == "image" and png.content[0].mime_type == "image/png"
    assert render.file_content(content(JPEG)).content[0].mime_type == "image/jpeg"
    assert render.file_content(content("héllo".encode())).content[0].text == "héllo"
    binary = render.file_content(content(b"\xff\xfe\x00\x81"))
    assert "binary file of 4 bytes" in binary.content[0].text


def test_listing_says_when_cut():
    entry = {"name": "d", "is_dir": True, "size": 4096, "permissions": "drwxr-xr-x", "modified_time": "t"}
    text = render.listing({"files": [entry], "path": "/w", "count": 1, "truncated": True, "total": 5}).content[0].text
    assert "drwxr-xr-x" in text and " d/" in text and "1 of 5 entries shown" in text


# --- errors of a call ---


class FakeBackend:
    def __init__(self, error: AgentError | None = None):
        self.error = error
        self.seen: list[Any] = []

    async def execute(self, req: ExecuteRequest) -> Any:
        self.seen.append(req)
        if self.error is not None:
            raise self.error
        return answer(stdout="ran\n")


def call(backend: Any, name: str, arguments: dict[str, Any]) -> Any:
    return asyncio.run(call_tool(backend, name, arguments))


def test_call_passes_the_full_request():
    backend = FakeBackend()
    result = call(backend, "run_code", {"code": "1", "context_id": "c"})
    assert "ran" in result.content[0].text
    assert isinstance(backend.seen[0], ExecuteRequest) and backend.seen[0].context_id == "c"


def test_bad_arguments_are_invalid_params_naming_the_argument():
    with pytest.raises(MCPError) as caught:
        call(FakeBackend(), "run_code", {"code": "1", "timeout": "x"})
    assert caught.value.code == INVALID_PARAMS and caught.value.data["argument"] == "timeout"
    with pytest.raises(MCPError) as caught:
        call(FakeBackend(), "run_code", {})
    assert caught.value.data["argument"] == "code" and caught.value.data["code"] == "MISSING_PARAMETER"
    with pytest.raises(MCPError) as caught:  # the agent's own 400, after the model
        call(FakeBackend(bad_request("'timeout' must be below 10", field="timeout")), "run_code", {"code": "1"})
    assert caught.value.data["argument"] == "timeout"
    with pytest.raises(MCPError):
        call(FakeBackend(), "nope", {})


def test_other_agent_errors_are_error_results():
    result = call(FakeBackend(rate_limited("Too many runs", 4)), "run_code", {"code": "1"})
    assert result.is_error and result.content[0].text == "RATE_LIMIT_EXCEEDED: Too many runs"
