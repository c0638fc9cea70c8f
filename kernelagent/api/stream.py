"""WS /execute/stream: output frames as the code prints, then `result` and `complete`.

Frames (JSON text): `stdout`/`stderr` {data, timestamp}; `display` for rich outputs {mime_type,
data, metadata, output_type, timestamp}; `error` {error, message, code, ...}; `result` {exit_code,
execution_time, success, ...}; `complete` {success}. A client that disconnects mid-run gets its
execution cancelled, which interrupts the kernel. One execution at a time per socket; several in
a row are fine.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ..core.errors import AgentError
from ..core.clock import utc_now_iso
from .routing import Route
from .base import AuthWebSocketHandler

log = logging.getLogger("kernelagent.stream")


class ExecuteStreamHandler(AuthWebSocketHandler):
    task: asyncio.Task | None = None  # the execution in flight (set in open; None if open never ran)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self.task: asyncio.Task | None = None

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            self._error("INVALID_JSON", "Frames must be JSON objects")
            return
        if not isinstance(msg, dict):
            self._error("INVALID_JSON", "Frames must be JSON objects")
            return
        kind = msg.get("type", "execute")
        if kind == "ping":
            self.send_json({"type": "pong", "timestamp": utc_now_iso()})
            return
        if kind != "execute":
            self._error("INVALID_REQUEST", f"Unknown frame type: {kind!r}")
            return
        if self.task is not None and not self.task.done():
            self._error("INVALID_REQUEST", "An execution is already running on this socket")
            return
        self.task = asyncio.create_task(self._run_stream(msg))

    def _error(self, code: str, message: str, **extra: Any) -> None:
        self.send_json({"type": "error", "error": message, "message": message, "code": code,
                        "timestamp": utc_now_iso(), **extra})

    def _listener(self, kind: str, payload: Any) -> None:
        if kind in ("stdout", "stderr"):
            self.send_json({"type": kind, "data": payload, "timestamp": utc_now_iso()})
        elif kind == "display":
            self.send_json({"type": "display", "mime_type": payload.get("type"), "data": payload.get("data"),
                            "metadata": payload.get("metadata"), "output_type": payload.get("output_type"),
                            "timestamp": payload.get("timestamp") or utc_now_iso()})

    async def _run_stream(self, msg: dict) -> None:
        engine = self.services.engine
        try:  # the frame is an /execute body (both workdir spellings included)
            result = await engine.execute(engine.parse_request(msg), listener=self._listener)
        except AgentError as exc:
            self._error(exc.code, exc.message, details=exc.details)
            self.send_json({"type": "complete", "success": False, "timestamp": utc_now_iso()})
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("stream execution failed")
            self._error("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            self.send_json({"type": "complete", "success": False, "timestamp": utc_now_iso()})
            return
        error = result.get("error")
        if error:
            self._error(error.get("code", "EXECUTION_ERROR"), error.get("message", ""),
                        ename=error.get("ename"), evalue=error.get("evalue"), traceback=error.get("traceback"))
        frame = {"type": "result", "exit_code": result["exit_code"], "execution_time": result["execution_time"],
                 "success": result["success"], "execution_count": result.get("execution_count"),
                 "truncated": result.get("truncated", False), "timestamp": utc_now_iso()}
        if "result" in result:
            frame["result"] = result["result"]
        self.send_json(frame)
        self.send_json({"type": "complete", "success": result["success"], "timestamp": utc_now_iso()})

    def on_close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the engine interrupts the kernel on cancel


routes = [
    Route("/execute/stream", ExecuteStreamHandler, websocket="send an /execute body as a frame; get stdout, stderr, display, error, result and complete frames"),
]
