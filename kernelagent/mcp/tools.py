"""The MCP tools: a name, a description written for a model, the arguments' model, and one call.

Each tool parses its arguments into a model of `models/mcp.py` (derived from the HTTP request
models), makes one call on the backend, and renders the answer (`render.py`). The input schema a
client sees is the same model's JSON schema.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp_types import CallToolResult, ImageContent, ToolAnnotations
from mcp_types import Tool as ToolSpec

from ..models.commands import CommandRequest
from ..models.desktop import Click, Press, TypeText
from ..models.execute import ContextCreate, ExecuteRequest
from ..models.files import ReadQuery, WriteRequest
from ..models.jobs import BackgroundExecuteRequest
from ..models.mcp import (
    ContextRef,
    FileArgs,
    JobRef,
    ListArgs,
    NoArgs,
    RunCodeArgs,
    RunCommandArgs,
    StartCodeArgs,
    StartCommandArgs,
    WriteArgs,
    widen,
)
from . import render
from .backend import Backend

Call = Callable[[Backend, Any], Awaitable[CallToolResult]]


@dataclass(frozen=True)
class Tool:
    """One tool: what a client lists (name, description, input schema, hints) and what a call does."""

    name: str
    description: str
    args: type[Any]  # a RequestModel
    call: Call
    read_only: bool = False
    destructive: bool = False
    desktop: bool = False  # listed only where the agent has a desktop

    def spec(self) -> ToolSpec:
        schema = self.args.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(
            name=self.name,
            description=self.description,
            input_schema=schema,
            annotations=ToolAnnotations(read_only_hint=self.read_only, destructive_hint=self.destructive),
        )


async def _run_code(backend: Backend, args: Any) -> CallToolResult:
    return render.execution(await backend.execute(widen(args, ExecuteRequest)))


async def _run_command(backend: Backend, args: Any) -> CallToolResult:
    return render.command(await backend.run_command(widen(args, CommandRequest)))


async def _context_create(backend: Backend, args: ContextCreate) -> CallToolResult:
    return render.json_result(await backend.create_context(args))


async def _context_list(backend: Backend, args: NoArgs) -> CallToolResult:
    return render.json_result(await backend.list_contexts())


async def _context_restart(backend: Backend, args: ContextRef) -> CallToolResult:
    return render.json_result(await backend.restart_context(args.context_id))


async def _context_delete(backend: Backend, args: ContextRef) -> CallToolResult:
    return render.json_result(await backend.delete_context(args.context_id))


async def _context_notebook(backend: Backend, args: ContextRef) -> CallToolResult:
    return render.json_result(await backend.context_notebook(args.context_id))


async def _screenshot(backend: Backend, args: NoArgs) -> CallToolResult:
    png = await backend.screenshot()
    return CallToolResult(content=[ImageContent(data=base64.b64encode(png).decode(), mime_type="image/png")])


async def _click(backend: Backend, args: Click) -> CallToolResult:
    return render.json_result(await backend.click(args))


async def _type(backend: Backend, args: TypeText) -> CallToolResult:
    return render.json_result(await backend.type_text(args))


async def _key(backend: Backend, args: Press) -> CallToolResult:
    return render.json_result(await backend.press(args))


async def _file_read(backend: Backend, args: Any) -> CallToolResult:
    query = ReadQuery.model_construct(path=args.path, encoding="base64")
    return render.file_content(await backend.read_file(query))


async def _file_write(backend: Backend, args: Any) -> CallToolResult:
    return render.json_result(await backend.write_file(widen(args, WriteRequest)))


async def _file_list(backend: Backend, args: Any) -> CallToolResult:
    return render.listing(await backend.list_files(args.path))


async def _file_remove(backend: Backend, args: Any) -> CallToolResult:
    return render.json_result(await backend.remove_file(args.path))


async def _job_start_code(backend: Backend, args: Any) -> CallToolResult:
    return render.json_result(await backend.start_code(widen(args, BackgroundExecuteRequest)))


async def _job_start_command(backend: Backend, args: Any) -> CallToolResult:
    return render.json_result(await backend.start_command(widen(args, CommandRequest)))


async def _job_status(backend: Backend, args: JobRef) -> CallToolResult:
    return render.job(await backend.job(args.process_id))


async def _job_kill(backend: Backend, args: JobRef) -> CallToolResult:
    return render.json_result(await backend.kill_job(args.process_id))


LANGS = "python (default; numpy, pandas, matplotlib ready), javascript, bash, go, typescript"

TOOLS = [
    Tool(
        "run_code",
        f"Run code in a persistent Jupyter kernel, like a notebook cell: variables, imports and functions stay "
        f"for the next call in the same context. Languages: {LANGS}. Returns stdout, stderr, the cell's value, "
        "plots as PNG images, DataFrames as HTML, and on failure the error with its traceback (isError). "
        "At the timeout (default 60 s) the kernel is interrupted; output is capped and a cut is said.",
        RunCodeArgs,
        _run_code,
    ),
    Tool(
        "run_command",
        "Run a shell command in the sandbox and wait for it: `command` alone is a /bin/sh -c string; with `args` "
        "the program runs without a shell. Returns stdout, stderr and the exit code (non-zero: isError). "
        "The whole process tree is ended at the timeout (default 30 s).",
        RunCommandArgs,
        _run_command,
    ),
    Tool(
        "context_create",
        "Make a new context: a fresh kernel with its own state, isolated from the language's default context. "
        "Returns its context_id, to pass to run_code.",
        ContextCreate,
        _context_create,
    ),
    Tool(
        "context_list",
        "List the contexts (default and created ones), their language and state.",
        NoArgs,
        _context_list,
        read_only=True,
    ),
    Tool(
        "context_restart",
        "Restart a context's kernel: its variables are lost, its id is kept. Use it when a kernel is stuck.",
        ContextRef,
        _context_restart,
        destructive=True,
    ),
    Tool("context_delete", "Delete a context and shut its kernel down.", ContextRef, _context_delete, destructive=True),
    Tool(
        "context_notebook",
        "A context's executions so far (code, outputs, errors) as a Jupyter notebook (nbformat v4 JSON). "
        "Default contexts are named default-<language>, e.g. default-python.",
        ContextRef,
        _context_notebook,
        read_only=True,
    ),
    Tool(
        "file_read",
        "Read a whole file by absolute path: text as text, PNG/JPEG/GIF images as images. Files above the "
        "agent's read limit (10 MiB by default) are refused.",
        FileArgs,
        _file_read,
        read_only=True,
    ),
    Tool(
        "file_write",
        "Write a whole file atomically (parent directories are made), from text or base64 (encoding: base64). "
        "overwrite: false refuses an existing file. Returns the path and size written.",
        WriteArgs,
        _file_write,
    ),
    Tool(
        "file_list",
        "List a directory (default: the workspace): permissions, size, modified time, name.",
        ListArgs,
        _file_list,
        read_only=True,
    ),
    Tool(
        "file_remove",
        "Remove a file, a symlink or a directory with everything under it.",
        FileArgs,
        _file_remove,
        destructive=True,
    ),
    Tool(
        "job_start_code",
        f"Start code in the background, in a kernel of its own ({LANGS}); returns a process_id at once. "
        "Follow it with job_status. Default timeout 300 s.",
        StartCodeArgs,
        _job_start_code,
    ),
    Tool(
        "job_start_command",
        "Start a shell command in the background; returns a process_id at once. Follow it with job_status. "
        "Default timeout 300 s.",
        StartCommandArgs,
        _job_start_command,
    ),
    Tool(
        "job_status",
        "A background job's status (queued, running, completed, failed, killed, timeout), exit code and its "
        "output so far.",
        JobRef,
        _job_status,
        read_only=True,
    ),
    Tool("job_kill", "Kill a background job and its whole process tree.", JobRef, _job_kill, destructive=True),
    Tool(
        "desktop_screenshot",
        "A PNG of the whole virtual desktop, as an image. Look before you click: coordinates are pixels from "
        "the top left.",
        NoArgs,
        _screenshot,
        read_only=True,
        desktop=True,
    ),
    Tool(
        "desktop_click",
        "Click at (x, y) on the desktop (left, right or middle button; clicks=2 for a double click). Without x "
        "and y, clicks where the pointer is.",
        Click,
        _click,
        desktop=True,
    ),
    Tool(
        "desktop_type",
        "Type text into the focused window: any Unicode, delay_ms between characters (default 10).",
        TypeText,
        _type,
        desktop=True,
    ),
    Tool(
        "desktop_key",
        "Press one key or a chord on the desktop: enter, esc, tab, ctrl+c, alt+f4, super, pagedown, F5... "
        "An unknown key name is an error naming it.",
        Press,
        _key,
        desktop=True,
    ),
]

BY_NAME = {tool.name: tool for tool in TOOLS}
