"""/mcp: the Model Context Protocol's streamable HTTP transport, behind the agent's bearer auth.

Auth runs in prepare() as on every route (401 in the envelope without a valid token, on every
request of a session, so a token that expires ends the session's access); the request itself is
served by the SDK's transport through the bridge (kernelagent/mcp/bridge.py).
"""

from __future__ import annotations

from typing import Any

from ..mcp.bridge import AsgiCall
from ..mcp.endpoint import principal
from .base import BaseHandler
from .routing import Route

DESCRIPTION = (
    "the Model Context Protocol (streamable HTTP: JSON-RPC over POST, answered as JSON or an SSE stream; "
    "GET for the server's stream; DELETE ends a session named by Mcp-Session-Id). Tools: run_code, "
    "run_command, contexts, files and background jobs. Same bearer auth as every route."
)


class McpHandler(BaseHandler):
    """Every method of /mcp goes to the MCP transport; the SDK answers the ones it does not serve."""

    call: AsgiCall | None = None

    def compute_etag(self) -> None:
        return None  # answers are protocol messages, never cached

    async def _serve(self) -> None:
        header = self.request.headers.get("Authorization", "")
        token = header.partition(" ")[2].strip()
        claims: dict[str, Any] = self.claims or {}
        self.call = AsgiCall(self, principal(claims, token))
        await self.services.mcp.serve(self, claims, self.call)

    async def get(self) -> None:
        await self._serve()

    async def post(self) -> None:
        await self._serve()

    async def delete(self) -> None:
        await self._serve()

    def on_connection_close(self) -> None:
        if self.call is not None:
            self.call.closed.set()
        super().on_connection_close()


routes = [Route("/mcp", McpHandler, protocol=DESCRIPTION)]
