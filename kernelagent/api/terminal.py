"""WS /terminal: a shell on a pseudo-terminal, in the contract's frames.

Client frames: {"type":"input","data":"..."} and {"type":"resize","cols":C,"rows":R}
(models/terminal.py); empty frames, frames that are not JSON objects and frames of other types are
skipped; an input or resize frame with a wrong field gets an error frame naming it. Server
frames: {"type":"output","data":"..."} and, when the shell ends, {"type":"exit","code":N} before
the socket closes. Closing the socket ends the shell and its
children. The socket is closed when its token expires (at `exp` plus the configured leeway, the
moment the token would stop being accepted).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic_core import from_json

from ..core.errors import AgentError
from ..models.base import parse_object
from ..models.terminal import FRAMES, TerminalInput, TerminalSize
from ..terminal import Terminal
from .base import AuthWebSocketHandler, error_frame
from .routing import Route

CLOSE_TRY_AGAIN = 1013


class TerminalHandler(AuthWebSocketHandler):
    """One terminal per socket: output frames out, input and resize frames in."""

    terminal: Terminal | None = None
    _pump: asyncio.Task[None] | None = None

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        try:
            size = self.parse_query(TerminalSize)
            self.terminal = self.services.terminals.open(size.cols, size.rows)
        except AgentError as exc:
            self.send_json(error_frame(exc.code, exc.message, **exc.details))
            self.close(CLOSE_TRY_AGAIN if exc.status == 429 else 1008, exc.message[:120])
            return
        self._pump = asyncio.ensure_future(self._pump_output())

    async def _pump_output(self) -> None:
        term = self.terminal
        assert term is not None  # started by open() once the terminal is there
        while (data := await term.read()) is not None:
            if self.ws_connection is None:
                return
            try:
                await self.write_message(json.dumps({"type": "output", "data": data}))
            except Exception:  # noqa: BLE001  (closed meanwhile)
                return
        code = await term.wait()
        self.send_json({"type": "exit", "code": code})
        self.close(1000, "shell exited")

    async def on_message(self, message: str | bytes) -> None:
        if self.terminal is None:
            return
        try:  # pydantic's parser: nesting bounded, lone surrogates refused (json.loads recurses)
            frame = from_json(message)
        except ValueError:
            return
        model = FRAMES.get(str(frame.get("type"))) if isinstance(frame, dict) else None
        if model is None:
            return
        try:
            parsed = parse_object(model, frame)
        except AgentError as exc:
            self.send_json(error_frame(exc.code, exc.message, **exc.details))
            return
        if isinstance(parsed, TerminalInput):
            await self.terminal.write(parsed.data)
        else:
            self.terminal.resize(parsed.cols, parsed.rows)

    def on_close(self) -> None:
        super().on_close()
        if self._pump is not None:
            self._pump.cancel()
        if self.terminal is not None:
            self.terminal.close()


routes = [
    Route(
        "/terminal",
        TerminalHandler,
        websocket="a shell on a PTY: input and resize frames in, output and exit frames out",
    ),
]
