"""One ASGI call served by a Tornado handler: the bridge that puts the MCP SDK's streamable HTTP
transport on the agent's own port.

The SDK implements the transport (JSON-RPC over POST answered as JSON or as an SSE stream, the GET
stream, DELETE, sessions by Mcp-Session-Id, protocol-version checks) as an ASGI app. This module
is the only place that knows both sides: it turns the Tornado request (whose body Tornado has
already read; MCP messages are small) into an ASGI scope and `receive`, and the app's `send`
messages into the handler's status, headers and flushed writes, so an SSE stream goes out event by
event. The caller is already authenticated; its identity travels as the scope's `user`, which the
SDK uses to bind a session to the credential that opened it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tornado import iostream, web

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
AsgiApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class AsgiCall:
    """One request of `handler` served by an ASGI app; `closed` is set when the client goes away."""

    def __init__(self, handler: web.RequestHandler, user: Any = None):
        self.handler = handler
        self.user = user
        self.closed = asyncio.Event()  # the handler's on_connection_close sets it
        self._body_sent = False
        self._started = False

    def scope(self) -> Scope:
        request = self.handler.request
        host, _, port = request.host.rpartition(":") if ":" in request.host else (request.host, "", "")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.version.removeprefix("HTTP/"),
            "method": request.method,
            "scheme": request.protocol,
            "path": request.path,
            "raw_path": request.path.encode("latin-1", "replace"),
            "query_string": request.query.encode("latin-1", "replace"),
            "root_path": "",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.get_all()],
            "client": (request.remote_ip, 0),
            "server": (host or request.host, int(port) if port.isdigit() else None),
            "user": self.user,
            "state": {},
        }

    async def receive(self) -> Message:
        """The whole body at once, then nothing until the client disconnects."""
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self.handler.request.body or b"", "more_body": False}
        await self.closed.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.closed.is_set() or self.handler._finished:
            return  # the client went away (or the answer is complete): drop what the app still writes
        handler = self.handler
        if message["type"] == "http.response.start":
            self._started = True
            handler.clear_header("Content-Type")
            handler.set_status(message["status"])
            for name, value in message.get("headers", []):
                handler.add_header(name.decode("latin-1"), value.decode("latin-1"))
            if handler._headers.get("Content-Type", "").startswith("text/event-stream"):
                await self._flush()  # a stream's headers go out now: its first event may be long in coming
            return
        if message["type"] != "http.response.body":
            return
        body = message.get("body", b"")
        if body:
            handler.write(body)
        if message.get("more_body", False):
            await self._flush()  # an SSE event goes out now, not at the end of the stream
        else:
            handler.finish()

    async def _flush(self) -> None:
        try:
            await self.handler.flush()
        except iostream.StreamClosedError:
            self.closed.set()

    async def serve(self, app: AsgiApp, deadline: float | None = None) -> None:
        """Run `app` on this request, at most until `deadline` (the event loop's clock): then the
        connection is closed, as for a client that went away."""
        call = app(self.scope(), self.receive, self.send)
        try:
            if deadline is None:
                await call
            else:
                async with asyncio.timeout_at(deadline):
                    await call
        except TimeoutError:
            self.closed.set()
            if self.handler.request.connection is not None:
                self.handler.request.connection.close()  # type: ignore[attr-defined]
            return
        if not self._started and not self.handler._finished:
            raise web.HTTPError(500, "the MCP transport gave no answer")
