"""The mcp package's own client against a live agent, over each transport the agent serves.

- `http`: streamable HTTP at /mcp, the client's default negotiation (`auto`)
- `http-session`: the same with the handshake era (`initialize`, a session by Mcp-Session-Id)
- `stdio`: `kernelagent mcp --agent-url URL --token TOKEN` as a subprocess
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
from conftest import ROOT, Agent
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

TRANSPORTS = ["http", "http-session", "stdio"]


def client(agent: Agent, transport: str, token: str | None = None) -> Client:
    token = token or agent.token
    if transport == "stdio":
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "kernelagent", "mcp", "--agent-url", agent.url, "--token", token],
            env={"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "")},
            cwd=str(ROOT),
        )
        return Client(params)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120)
    mode = "legacy" if transport == "http-session" else "auto"
    return Client(streamable_http_client(agent.url + "/mcp", http_client=http), mode=mode)


def run(agent: Agent, transport: str, body: Callable[[Client], Awaitable[Any]], token: str | None = None) -> Any:
    """Connect, run `body(client)`, disconnect; the answer of `body`."""

    async def main() -> Any:
        async with client(agent, transport, token) as c:
            return await body(c)

    return asyncio.run(main())


def texts(result: Any) -> str:
    """All text blocks of a tool result, joined."""
    return "\n".join(block.text for block in result.content if block.type == "text")
