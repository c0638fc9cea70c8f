"""The agent's answers as MCP tool results: text a model reads, images it sees, resources it can keep.

PNG and JPEG outputs become image content; HTML, SVG, JSON and Markdown become embedded text
resources carrying their MIME type; stdout, stderr, a cell's value and an error's traceback are
text. A cut is said in words, never left silent. A run that did not succeed (an exception, a
deadline, a dead kernel, a non-zero exit) is a normal result with `isError` set.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from mcp_types import CallToolResult, ContentBlock, EmbeddedResource, ImageContent, TextContent, TextResourceContents

from ..models.commands import CommandResult
from ..models.execute import ExecuteAnswer
from ..models.files import FileContent, FileList
from ..models.jobs import JobRecord

IMAGE_TYPES = ("image/png", "image/jpeg")
RESOURCE_TYPES = {"text/html": "html", "image/svg+xml": "svg", "application/json": "json", "text/markdown": "md"}
MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(text: str) -> str:
    """Text without terminal colour codes (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


def text_result(text: str, is_error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=text)], is_error=is_error)


def json_result(data: Mapping[str, Any]) -> CallToolResult:
    """A small record (a context, a job started, a file written) as JSON text."""
    return text_result(json.dumps(data, indent=1, default=str))


def _truncation_words(answer: Mapping[str, Any]) -> str:
    if not answer.get("truncated"):
        return ""
    cut = answer.get("truncation") or {}
    limits = cut.get("limits") or {}
    parts = [
        f"{name} was cut at {limits.get(f'{name}_bytes', '?')} bytes" for name in ("stdout", "stderr") if cut.get(name)
    ]
    if cut.get("rich_outputs_dropped"):
        parts.append(
            f"{cut['rich_outputs_dropped']} rich outputs were dropped (limit {limits.get('rich_bytes')} bytes)"
        )
    return "Output was truncated: " + ("; ".join(parts) if parts else "the agent's output limits were reached") + "."


def _rich(outputs: list[Any], origin: str) -> list[ContentBlock]:
    """Rich outputs in order: images as images, HTML/SVG/JSON/Markdown as resources, the rest as text."""
    blocks: list[ContentBlock] = []
    for n, output in enumerate(outputs):
        data = output.get("data") or {}
        image = next((t for t in IMAGE_TYPES if t in data), None)
        kind = next((t for t in RESOURCE_TYPES if t in data), None)
        if image is not None:
            blocks.append(ImageContent(data="".join(str(data[image]).split()), mime_type=image))
        elif kind is not None:
            value = data[kind]
            text = value if isinstance(value, str) else json.dumps(value, indent=1)
            uri = f"kernelagent://{origin}/outputs/{n}.{RESOURCE_TYPES[kind]}"
            blocks.append(EmbeddedResource(resource=TextResourceContents(uri=uri, mime_type=kind, text=text)))
        elif output.get("output_type") != "execute_result" and "text/plain" in data:
            blocks.append(TextContent(text=str(data["text/plain"])))  # a cell's value is in `result` already
    return blocks


def _error_words(error: Mapping[str, Any] | None, stderr: str = "") -> str:
    """The error's code and message, and its traceback unless stderr already shows it (IPython's does)."""
    if not error:
        return ""
    lines = [f"{error.get('code', 'ERROR')}: {error.get('message', '')}"]
    traceback = plain("\n".join(error.get("traceback") or [])).strip()
    if traceback and traceback.splitlines()[-1] not in plain(stderr):
        lines.append(traceback)
    if error.get("state_preserved") is False:
        lines.append("The context's state was lost (its kernel was restarted).")
    return "\n".join(lines)


def _sections(*parts: tuple[str, str | None]) -> str:
    """`label:\\nvalue` for each non-empty value (no label for an empty one)."""
    out = []
    for label, value in parts:
        if value:
            out.append(f"{label}:\n{value.rstrip()}" if label else value.rstrip())
    return "\n\n".join(out)


def execution(answer: ExecuteAnswer) -> CallToolResult:
    """run_code: what the cell printed, its value, its displays, and its error with the traceback."""
    footer = (
        f"[{answer['language']}, context {answer['context_id']}, exit_code {answer['exit_code']}, "
        f"{answer['execution_time']:.2f} s]"
    )
    text = _sections(
        ("stdout", answer["stdout"]),
        ("stderr", plain(answer["stderr"])),
        ("result", answer.get("result")),
        ("error", _error_words(answer.get("error"), answer["stderr"])),
        ("", _truncation_words(answer)),
        ("", footer),
    )
    blocks: list[ContentBlock] = [TextContent(text=text)]
    blocks += _rich(answer["rich_outputs"], f"contexts/{answer['context_id']}")
    return CallToolResult(content=blocks, is_error=not answer["success"])


def command(result: CommandResult) -> CallToolResult:
    """run_command: stdout, stderr and the exit code; a non-zero exit or a deadline is an error result."""
    how = "timed out and was killed" if result["timed_out"] else ("was killed" if result["killed"] else "")
    footer = f"[exit_code {result['exit_code']}{', ' + how if how else ''}, {result['execution_time']:.2f} s]"
    error = result.get("error")
    text = _sections(
        ("stdout", result["stdout"]),
        ("stderr", result["stderr"]),
        ("error", f"{error['code']}: {error['message']}" if error else None),
        ("", _truncation_words(result)),
        ("", footer),
    )
    return text_result(text, is_error=not result["success"])


def job(record: JobRecord) -> CallToolResult:
    """job_status: the job's state and its output so far (images of a code job as images)."""
    head = {k: record.get(k) for k in ("process_id", "type", "status", "exit_code", "success", "execution_time")}
    error = record.get("error")
    text = _sections(
        ("", json.dumps(head, default=str)),
        ("stdout", record.get("stdout")),
        ("stderr", record.get("stderr")),
        ("result", str(record["result"]) if record.get("result") is not None else None),
        ("error", _error_words(error, record.get("stderr") or "")),
        ("", _truncation_words(record)),
    )
    blocks: list[ContentBlock] = [TextContent(text=text)]
    blocks += _rich(record.get("rich_outputs") or [], f"jobs/{record['process_id']}")
    return CallToolResult(content=blocks)


def file_content(content: FileContent) -> CallToolResult:
    """file_read (asked as base64): an image as image content, UTF-8 text as text, else words."""
    data = base64.b64decode(content["content"])
    image = next((mime for magic, mime in MAGIC.items() if data.startswith(magic)), None)
    if image is not None:
        return CallToolResult(content=[ImageContent(data=content["content"], mime_type=image)])
    try:
        return text_result(data.decode("utf-8"))
    except UnicodeDecodeError:
        return text_result(
            f"{content['path']} is a binary file of {content['size']} bytes (not UTF-8 text, not an image); "
            "read it with run_code or run_command (for example `xxd`, `file`) to see what it holds."
        )


def listing(files: FileList) -> CallToolResult:
    """file_list: one entry a line, directories with a trailing slash."""
    lines = [f"{files['path']} ({files['count']} entries)"]
    for entry in files["files"]:
        name = entry["name"] + ("/" if entry["is_dir"] else "")
        lines.append(f"{entry['permissions']} {entry['size']:>10} {entry['modified_time'] or '-'} {name}")
    if files["truncated"]:
        lines.append(f"The listing was truncated: {files['count']} of {files.get('total', '?')} entries shown.")
    return text_result("\n".join(lines))
