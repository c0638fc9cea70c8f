"""The MCP server over a backend: tools/list and tools/call, with the errors the protocol expects.

Bad arguments are protocol errors (JSON-RPC invalid params) that name the argument: a value the
tool's model refuses, or one the agent refuses with a 400 (a timeout above the maximum). Anything
else the agent refuses (no such context, a limit reached, a file not found) is a tool result
with `isError`, so the model reads what went wrong and can try again.
"""

from __future__ import annotations

from typing import Any

from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, ListToolsResult
from pydantic import ValidationError

from .. import __version__
from ..core.errors import AgentError
from ..models.base import validation_error
from .backend import Backend
from .render import text_result
from .tools import BY_NAME, TOOLS

INSTRUCTIONS = (
    "A sandbox with warm Jupyter kernels (Python with numpy/pandas/matplotlib, JavaScript, Bash, Go, "
    "TypeScript), a shell and a filesystem. run_code keeps state between calls like notebook cells; plots "
    "come back as images. Paths are absolute; the workspace is the default working directory."
)


def invalid_argument(error: AgentError) -> MCPError:
    """A 400 of the agent as the protocol's invalid-params error, naming the argument in `data`."""
    details = dict(error.details)
    argument = details.get("field") or details.get("parameter")
    data = {"argument": argument, "code": error.code, **details} if argument else {"code": error.code, **details}
    return MCPError(INVALID_PARAMS, error.message, data)


async def call_tool(backend: Backend, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
    """Run one tool: parse its arguments, make its call, render the answer."""
    tool = BY_NAME.get(name)
    if tool is None:
        raise MCPError(INVALID_PARAMS, f"Unknown tool: {name}", {"argument": "name"})
    try:
        args = tool.args.model_validate(arguments or {})
    except ValidationError as exc:
        raise invalid_argument(validation_error(exc)) from None
    try:
        return await tool.call(backend, args)
    except AgentError as exc:
        if exc.status == 400:
            raise invalid_argument(exc) from None
        return text_result(f"{exc.code}: {exc.message}", is_error=True)


def build_server(backend: Backend) -> Server[Any]:
    """An MCP server whose tools call `backend`."""

    async def on_list_tools(ctx: Any, params: Any) -> ListToolsResult:
        desktop = await backend.desktop_available()
        return ListToolsResult(tools=[tool.spec() for tool in TOOLS if desktop or not tool.desktop])

    async def on_call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
        return await call_tool(backend, params.name, params.arguments)

    return Server(
        "kernelagent",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


async def serve_stdio(backend: Backend) -> None:
    """Serve the tools over stdin and stdout until the client closes them."""
    server = build_server(backend)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
