"""VNC (contract 3.8) and the desktop in a browser: status/start/stop, the WebSocket that carries
RFB through the agent's own port, and a noVNC page pointed at it."""

from __future__ import annotations

import asyncio
from typing import Any

from tornado import websocket

from ..core.errors import AgentError
from ..desktop.vnc import Vnc
from ..models import desktop as m
from .base import AuthWebSocketHandler
from .desktop import DesktopHandler
from .routing import Route, op

HTML = "text/html"


class VncStatusHandler(DesktopHandler):
    """Whether VNC runs, its port and URLs (the SDK's availability probe: 200 whenever the desktop exists)."""

    @op("Whether the VNC server runs, its port and URLs (the SDK's availability probe)", response=m.VncInfo)
    def get(self) -> m.VncInfo:
        return self.desktop.vnc.status(self.request.host)


class VncStartHandler(DesktopHandler):
    """Start (or restart) x11vnc on the display."""

    @op("Start the VNC server (optional password)", body=m.VncStart, body_required=False, response=m.VncInfo)
    async def post(self, body: m.VncStart) -> m.VncInfo:
        return await self.desktop.vnc.start_for(body, self.request.host)

    @op("Start the VNC server if it is not running (the JS SDK's GET; a running one is kept)", response=m.VncInfo)
    async def get(self) -> m.VncInfo:
        return await self.desktop.vnc.ensure_for(self.request.host)


class VncStopHandler(DesktopHandler):
    """Stop x11vnc."""

    @op("Stop the VNC server", response=m.VncInfo)
    async def post(self) -> m.VncInfo:
        return await self.desktop.vnc.stop_for(self.request.host)

    @op("Stop the VNC server (the JS SDK's GET)", response=m.VncInfo)
    async def get(self) -> m.VncInfo:
        return await self.post()


class ViewHandler(DesktopHandler):
    """GET /desktop/vnc/view?token=: the noVNC page (a browser cannot send a header when it navigates)."""

    async def prepare(self) -> None:
        self.start_request()
        self.authenticate(allow_query_token=True)
        self.desktop.require()

    @op("The desktop in a browser (noVNC through /desktop/vnc/websocket); token in the query", media_type=HTML)
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(self.desktop.vnc.page(self.get_query_argument("token", "") or self._header_token()))

    def _header_token(self) -> str:
        return self.request.headers.get("Authorization", "").removeprefix("Bearer ").strip()


class NoVncHandler(DesktopHandler):
    """noVNC's files, under a path that carries the token (so relative module imports keep it)."""

    async def prepare(self) -> None:
        self.start_request()
        # the token is the path segment after /novnc/: verified as if it came in the header
        self.claims = self.services.auth.verify(f"Bearer {self.path_kwargs['token']}")
        self.desktop.require()

    @op("A file of noVNC, for the browser view (the token is a path segment)", media_type="text/javascript")
    async def get(self, token: str, file: str) -> None:
        data, kind = await self.desktop.vnc.asset(file)
        self.set_header("Content-Type", kind)
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(data)


class VncSocketHandler(AuthWebSocketHandler):
    """WS /desktop/vnc/websocket: RFB in binary frames, both ways, to the loopback VNC server."""

    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    pump: asyncio.Task[None] | None = None

    def ready(self) -> None:
        self.services.desktop.require()

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "binary" if "binary" in subprotocols else None  # what noVNC and websockify speak

    async def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]  # Tornado awaits it
        self.set_nodelay(True)
        vnc: Vnc = self.services.desktop.vnc
        try:
            self.reader, self.writer = await vnc.bridge()
        except (AgentError, OSError) as exc:
            self.close(1011, str(getattr(exc, "message", exc))[:120])
            return
        self.pump = asyncio.create_task(self._pump(self.reader))

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(1 << 16):
                await self.write_message(data, binary=True)
        except (websocket.WebSocketClosedError, ConnectionError):
            pass
        finally:
            self.close()

    async def on_message(self, message: str | bytes) -> None:
        if self.writer is None:
            return
        self.writer.write(message.encode() if isinstance(message, str) else message)
        await self.writer.drain()

    def on_close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.pump is not None:
            self.pump.cancel()


class FilesRoute(Route):
    """A route whose `{file}` parameter spans the rest of the path."""

    @property
    def pattern(self) -> str:
        return super().pattern.replace("(?P<file>[^/]+)$", "(?P<file>.+)$")


routes = [
    Route("/desktop/vnc/status", VncStatusHandler),
    Route("/desktop/vnc/info", VncStatusHandler),
    Route("/desktop/vnc/start", VncStartHandler),
    Route("/desktop/vnc/stop", VncStopHandler),
    Route("/desktop/vnc/view", ViewHandler),
    FilesRoute("/desktop/vnc/novnc/{token}/{file}", NoVncHandler),
    Route(
        "/desktop/vnc/websocket",
        VncSocketHandler,
        websocket="the desktop's RFB (VNC) stream in binary frames, for noVNC; token in the header or ?token=",
    ),
]
