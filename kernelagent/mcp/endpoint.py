"""`/mcp` of the agent: the SDK's session manager over the agent's services, started on first use.

The manager (sessions by Mcp-Session-Id, idle sessions closed) runs in a task of its own for the
life of the agent, because the SDK's task group must be entered and left in one task. The SDK is
imported on first use, so an agent that never serves MCP does not pay for it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from tornado import web

    from ..services import Services

SESSION_IDLE_TIMEOUT = 30 * 60.0


class McpEndpoint:
    """The streamable HTTP transport of the MCP tools, for the Tornado handler of `/mcp`."""

    def __init__(self, services: Services):
        self.services = services
        self._manager: StreamableHTTPSessionManager | None = None
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def manager(self) -> StreamableHTTPSessionManager:
        if self._manager is None:  # made and started with no await in between: one manager only
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

            from .backend import LocalBackend
            from .server import build_server

            self._manager = StreamableHTTPSessionManager(
                app=build_server(LocalBackend(self.services)),
                session_idle_timeout=SESSION_IDLE_TIMEOUT,
                # a file_write carries the file in its JSON: the same cap as every route's body (the SDK's is 4 MiB)
                max_request_body_size=self.services.settings.max_body_bytes,
                security_settings=None,  # every request carries a bearer token, checked before it gets here
            )
            self._task = asyncio.create_task(self._run(self._manager))
        await self._ready.wait()
        return self._manager

    async def _run(self, manager: StreamableHTTPSessionManager) -> None:
        async with manager.run():
            self._ready.set()
            await self._stopping.wait()

    async def serve(self, handler: web.RequestHandler, claims: dict[str, Any], call: Any) -> None:
        """Serve one /mcp request through `call` (a bridge.AsgiCall) until the token expires."""
        manager = await self.manager()
        deadline = None
        exp = claims.get("exp")
        if isinstance(exp, (int, float)):
            remaining = exp + self.services.settings.jwt_leeway - time.time()
            deadline = asyncio.get_running_loop().time() + max(remaining, 0.0)
        await call.serve(manager.handle_request, deadline)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task


def principal(claims: dict[str, Any], token: str) -> Any:
    """The SDK's view of the caller, so that a session answers only the credential's principal."""
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken

    subject = claims.get("sub")
    exp = claims.get("exp")
    return AuthenticatedUser(
        AccessToken(
            token=token,
            client_id=str(subject or "kernelagent"),
            scopes=[],
            expires_at=int(exp) if isinstance(exp, (int, float)) else None,
            subject=str(subject) if subject is not None else None,
            claims={"iss": claims["iss"]} if "iss" in claims else None,
        )
    )
