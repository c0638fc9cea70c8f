"""WS /execute/stream: output frames as the code prints, then `result` and `complete`.

Frames (JSON text): `stdout`/`stderr` {data, timestamp}; `display` for rich outputs {mime_type,
data, metadata, output_type, timestamp}; `error` {error, message, code, ...}; `result` {exit_code,
execution_time, success, ...}; `complete` {success}. A client that disconnects mid-run gets its
execution cancelled, which interrupts the kernel. One execution at a time per socket; several in
a row are fine.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..core.clock import utc_now_iso
from ..core.errors import AgentError, bad_request
from ..models.base import parse_json
from ..models.execute import ExecuteAnswer, ExecuteRequest, StreamFrame
from .base import AuthWebSocketHandler, error_frame
from .routing import Route

log = logging.getLogger("kernelagent.stream")


def result_frames(answer: ExecuteAnswer, dropped: int = 0) -> list[dict[str, Any]]:
    """The frames that end a run: its error (if any), `result`, `complete`. `dropped` output
    frames were left out for a client that did not read: the result says so (and is truncated)."""
    frames: list[dict[str, Any]] = []
    error = answer.get("error")
    if error:
        frames.append(
            error_frame(
                error.get("code", "EXECUTION_ERROR"),
                error.get("message", ""),
                ename=error.get("ename"),
                evalue=error.get("evalue"),
                traceback=error.get("traceback"),
            )
        )
    result: dict[str, Any] = {
        "type": "result",
        "exit_code": answer["exit_code"],
        "execution_time": answer["execution_time"],
        "success": answer["success"],
        "execution_count": answer.get("execution_count"),
        "truncated": answer.get("truncated", False) or dropped > 0,
        "timestamp": utc_now_iso(),
    }
    if dropped:
        result["dropped_frames"] = dropped
    if "result" in answer:
        result["result"] = answer["result"]
    frames.append(result)
    frames.append(complete_frame(answer["success"]))
    return frames


def complete_frame(success: bool) -> dict[str, Any]:
    return {"type": "complete", "success": success, "timestamp": utc_now_iso()}


class ExecuteStreamHandler(AuthWebSocketHandler):
    """Runs one execute frame at a time, sending its output as frames while it runs."""

    task: asyncio.Task | None = None  # the execution in flight (None until the first execute frame)

    def on_message(self, message: str | bytes) -> None:
        raw = message.encode() if isinstance(message, str) else message
        try:
            kind = parse_json(StreamFrame, raw).type
            if kind == "ping":
                self.send_json({"type": "pong", "timestamp": utc_now_iso()})
                return
            if kind != "execute":
                raise bad_request(f"Unknown frame type: {kind!r}")
            if self.task is not None and not self.task.done():
                raise bad_request("An execution is already running on this socket")
        except AgentError as exc:
            self.send_json(error_frame(exc.code, exc.message))
            return
        self.task = asyncio.create_task(self._run(raw))

    def _listener(self, kind: str, payload: Any) -> None:
        # output frames are dropped (and counted) while a client that does not read has
        # ws_buffer_bytes waiting; the result frame says how many were
        if kind in ("stdout", "stderr"):
            self.send_json({"type": kind, "data": payload, "timestamp": utc_now_iso()}, droppable=True)
        elif kind == "display":
            self.send_json(
                {
                    "type": "display",
                    "mime_type": payload.get("type"),
                    "data": payload.get("data"),
                    "metadata": payload.get("metadata"),
                    "output_type": payload.get("output_type"),
                    "timestamp": payload.get("timestamp") or utc_now_iso(),
                },
                droppable=True,
            )

    async def _run(self, raw: bytes) -> None:
        try:  # the frame is an /execute body (both workdir spellings included)
            answer = await self.services.engine.execute(parse_json(ExecuteRequest, raw), listener=self._listener)
        except AgentError as exc:
            frames = [error_frame(exc.code, exc.message, details=exc.details), complete_frame(False)]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("stream execution failed")
            frames = [error_frame("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"), complete_frame(False)]
        else:
            frames = result_frames(answer, self.dropped_frames)
        self.dropped_frames = 0
        for frame in frames:
            self.send_json(frame)

    def on_close(self) -> None:
        super().on_close()
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the engine interrupts the kernel on cancel


routes = [
    Route(
        "/execute/stream",
        ExecuteStreamHandler,
        websocket="send an /execute body as a frame; get stdout, stderr, display, error, result and complete frames",
    ),
]
