"""WS /terminal: a shell on a pseudo-terminal, in the contract's frames.

Client frames: {"type":"input","data":"..."} and {"type":"resize","cols":C,"rows":R}; empty or
invalid frames are skipped. Server frames: {"type":"output","data":"..."} and, when the shell ends,
{"type":"exit","code":N} before the socket closes. Closing the socket ends the shell and its
children. The socket is closed when its token expires (at `exp` plus the configured leeway, the
moment the token would stop being accepted).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tornado.ioloop import IOLoop

from ..core.errors import AgentError
from .routing import Route
from .base import AuthWebSocketHandler

CLOSE_TOKEN_EXPIRED = 4001  # application close code (4000-4999)
CLOSE_TRY_AGAIN = 1013


class TerminalHandler(AuthWebSocketHandler):
    terminal = None
    _pump: asyncio.Task | None = None
    _expiry = None

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        try:
            cols = int(self.get_query_argument("cols", "80"))
            rows = int(self.get_query_argument("rows", "24"))
            self.terminal = self.services.terminals.open(cols, rows)
        except (AgentError, ValueError) as exc:
            message = exc.message if isinstance(exc, AgentError) else "cols and rows must be integers"
            code = exc.code if isinstance(exc, AgentError) else "INVALID_REQUEST"
            self.send_json({"type": "error", "code": code, "message": message})
            self.close(CLOSE_TRY_AGAIN if code == "RATE_LIMIT_EXCEEDED" else 1008, message[:120])
            return
        self._pump = asyncio.ensure_future(self._pump_output())
        exp = (self.claims or {}).get("exp")
        if isinstance(exp, (int, float)):
            delay = exp + self.services.settings.jwt_leeway - time.time()
            self._expiry = IOLoop.current().call_later(max(delay, 0), self._token_expired)

    async def _pump_output(self) -> None:
        term = self.terminal
        while (data := await term.read()) is not None:
            if self.ws_connection is None:
                return
            try:
                await self.write_message(json.dumps({"type": "output", "data": data}))
            except Exception:  # closed meanwhile
                return
        code = await term.wait()
        self.send_json({"type": "exit", "code": code})
        self.close(1000, "shell exited")

    def _token_expired(self) -> None:
        self.send_json({"type": "error", "code": "INVALID_TOKEN", "message": "Token has expired"})
        self.close(CLOSE_TOKEN_EXPIRED, "Token has expired")

    async def on_message(self, message: str | bytes) -> None:
        if self.terminal is None:
            return
        try:
            frame = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind == "input" and isinstance(frame.get("data"), str):
            await self.terminal.write(frame["data"])
        elif kind == "resize":
            try:
                self.terminal.resize(frame.get("cols"), frame.get("rows"))
            except AgentError as exc:
                self.send_json({"type": "error", "code": exc.code, "message": exc.message})

    def on_close(self) -> None:
        if self._expiry is not None:
            IOLoop.current().remove_timeout(self._expiry)
        if self._pump is not None:
            self._pump.cancel()
        if self.terminal is not None:
            self.terminal.close()


routes = [
    Route("/terminal", TerminalHandler, websocket="a shell on a PTY: input and resize frames in, output and exit frames out"),
]
