"""The desktop service: one object the handlers call, over the display and the parts that use it.

It knows nothing of HTTP. Requests arrive typed (models/desktop.py) and answers leave as the
TypedDicts there. Where the desktop cannot run (turned off, packages or display missing), every
call is a 503 DESKTOP_NOT_AVAILABLE naming what is missing; a part whose own program is missing
(xclip, ffmpeg, x11vnc, tesseract) is a 503 naming that program while the rest works.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from ..core.clock import utc_now_iso
from ..core.errors import bad_request
from ..files.policy import PathPolicy
from ..models.desktop import (
    Click,
    Clipboard,
    ClipboardHistory,
    ClipboardSet,
    Combination,
    DebugLogs,
    DebugProcesses,
    DisplayInfo,
    Done,
    Drag,
    Point,
    Press,
    Recording,
    RecordingQuery,
    RecordingStart,
    RecordingStop,
    Region,
    Resolution,
    Resolutions,
    Scroll,
    TypeText,
    WindowList,
    WindowQuery,
    WindowResize,
    WindowTarget,
)
from ..settings import Settings
from . import debug
from .availability import missing_pieces, missing_programs, require_programs, unavailable
from .clipboard import Clipboard as ClipboardOwner
from .display import RESOLUTIONS, DebugLog, Display
from .input import Input
from .ocr import Ocr
from .recording import Recorder
from .screen import Screen
from .vnc import Vnc
from .windows import Windows
from .xconn import XConnection


def done(action: str) -> Done:
    return {"success": True, "action": action, "timestamp": utc_now_iso()}


class DesktopService:
    """The virtual desktop: display, screen, input, windows, clipboard, recording, VNC, OCR, debug."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.events = DebugLog()
        self.display = Display(settings, self.events)
        self.x = XConnection(self.display)
        self.screen = Screen(self.display)
        self.input = Input(self.x)
        self.windows = Windows(self.x)
        self.clipboard = ClipboardOwner(self.display, settings.clipboard_history)
        self.vnc = Vnc(settings, self.display, self.events)
        self.recorder = Recorder(settings, self.display, self.events)
        self.paths = PathPolicy(settings)  # where a recording's output_file may go
        self.reader = Ocr(self.display, self.screen, settings)
        self.missing: list[str] = []
        self.reason = "not started"

    # --- life cycle and availability ---

    async def start(self) -> None:
        """Start the display where the desktop is wanted and can run; otherwise note why not."""
        if not self.settings.desktop:
            self.reason = "the desktop is turned off (KERNELAGENT_DESKTOP=false)"
            return
        self.missing = missing_pieces()
        if self.missing:
            self.reason = "desktop packages are missing: " + ", ".join(self.missing)
            self.events.add(self.reason)
            return
        try:
            await self.display.start()
        except Exception as exc:
            self.missing, self.reason = ["display"], f"the X display did not start: {exc}"
            self.events.add(self.reason)
            return
        self.reason = ""

    async def stop(self) -> None:
        await self.recorder.stop_all()
        await self.vnc.stop()
        await self.clipboard.release()
        self.x.close()
        self.screen.close()
        await self.display.stop()

    @property
    def available(self) -> bool:
        return not self.reason

    def require(self, *programs: str) -> None:
        """503 DESKTOP_NOT_AVAILABLE unless the desktop runs (and has `programs`)."""
        if not self.available:
            raise unavailable(f"The desktop is not available: {self.reason}", self.missing or ["desktop"])
        require_programs(*programs)

    def health(self) -> dict[str, Any]:
        """What /health says about the desktop."""
        state: dict[str, Any] = {"available": self.available, "display": self.display.name or None}
        if not self.available:
            state.update(reason=self.reason, missing_dependencies=self.missing)
        else:
            state["missing_features"] = missing_programs()
        return state

    # --- input ---

    async def move(self, req: Point) -> Done:
        await self.input.move(req.x, req.y)
        return done("move")

    async def click(self, req: Click) -> Done:
        await self.input.click(req.x, req.y, req.button, req.clicks)
        return done("click")

    async def drag(self, req: Drag) -> Done:
        await self.input.drag(req.from_x, req.from_y, req.to_x, req.to_y, req.button)
        return done("drag")

    async def scroll(self, req: Scroll) -> Done:
        await self.input.scroll(*req.steps, req.x, req.y)
        return done("scroll")

    async def type_text(self, req: TypeText) -> Done:
        if req.seconds > self.settings.max_timeout:
            message = f"Typing {len(req.text)} characters {req.delay_ms:g} ms apart takes longer than the maximum "
            raise bad_request(message + f"of {self.settings.max_timeout:g} s", field="delay_ms")
        await self.input.type(req.text, req.delay_ms / 1000)
        return done("type")

    async def press(self, req: Press) -> Done:
        await self.input.press(req.key)
        return done("press")

    async def combination(self, req: Combination) -> Done:
        await self.input.press(*req.chord)
        return done("combination")

    # --- screen ---

    async def screenshot(self) -> bytes:
        return await self.screen.capture()

    async def screenshot_region(self, req: Region) -> bytes:
        return await self.screen.capture((req.x, req.y, req.width, req.height))

    async def capture_window(self, req: WindowQuery) -> bytes:
        return await self.screen.capture(await self.windows.geometry(req.window_id))

    # --- windows ---

    async def windows_list(self) -> WindowList:
        windows = await self.windows.list()
        return {"windows": windows, "count": len(windows)}

    async def window_focus(self, req: WindowTarget) -> Done:
        await self.windows.focus(req.window_id)
        return done("focus")

    async def window_close(self, req: WindowTarget) -> Done:
        await self.windows.close(req.window_id)
        return done("close")

    async def window_minimize(self, req: WindowTarget) -> Done:
        await self.windows.minimize(req.window_id)
        return done("minimize")

    async def window_resize(self, req: WindowResize) -> Done:
        await self.windows.resize(req.window_id, req.width, req.height)
        return done("resize")

    # --- display ---

    def display_info(self) -> DisplayInfo:
        d = self.display
        return {"width": d.width, "height": d.height, "depth": d.depth, "display": d.name}

    def display_resolutions(self) -> Resolutions:
        current = {"width": self.display.width, "height": self.display.height}
        sizes = [{"width": w, "height": h} for w, h in RESOLUTIONS]
        if current not in sizes:
            sizes.append(current)
        return {"resolutions": sizes, "current": current}

    async def display_set(self, req: Resolution) -> DisplayInfo:
        """A new size restarts Xvfb (it cannot resize live): the windows on it are lost."""
        if (req.width, req.height) == (self.display.width, self.display.height):
            return {**self.display_info(), "restarted": False, "windows_lost": False}
        await self.clipboard.release()
        await self.display.resize(req.width, req.height)
        return {**self.display_info(), "restarted": True, "windows_lost": True}

    # --- clipboard ---

    async def clipboard_set(self, req: ClipboardSet) -> Done:
        self.require("xclip")
        await self.clipboard.set(req.value)
        return done("clipboard_set")

    async def clipboard_get(self) -> Clipboard:
        self.require("xclip")
        text = await self.clipboard.get()
        return {"text": text, "content": text}

    def clipboard_history(self) -> ClipboardHistory:
        history = self.clipboard.texts()
        return {"history": history, "count": len(history)}

    # --- recording ---

    async def recording_start(self, req: RecordingStart) -> Recording:
        self.require("ffmpeg")
        output = self._output_file(req.output_file) if req.output_file else None
        return (await self.recorder.start(req, output)).answer()

    def _output_file(self, raw: str) -> str:
        """A recording's output_file: a path the file API may write, in a directory that exists."""
        path = self.paths.resolve_parent(raw)
        if not os.path.isdir(os.path.dirname(path)):
            raise bad_request(
                f"No such directory for output_file: {raw}", code="DIRECTORY_NOT_FOUND", field="output_file"
            )
        return path

    async def recording_stop(self, req: RecordingStop) -> Recording:
        return (await self.recorder.stop(req.recording_id)).answer()

    def recording_status(self, req: RecordingQuery) -> Recording:
        return self.recorder.get(req.id).answer()

    def recording_file(self, req: RecordingQuery) -> tuple[str, int, AsyncIterator[bytes]]:
        """The media type, size and bytes of a recording's file."""
        path = self.recorder.file(req.id)
        kind = "video/mp4" if path.endswith(".mp4") else "video/webm"
        return kind, os.path.getsize(path), self.recorder.chunks(req.id)

    # --- debug ---

    def debug_logs(self) -> DebugLogs:
        logs = list(self.events.lines) + [f"x11vnc: {line}" for line in self.vnc.log_tail()]
        return {"logs": logs, "count": len(logs)}

    def debug_processes(self) -> DebugProcesses:
        own = self.display.processes()
        found = debug.processes(
            {
                "xvfb": [own["xvfb"]],
                "window_manager": [own["window_manager"]],
                "vnc": [self.vnc.pid],
                "recorder": list(self.recorder.pids()),
                "clipboard_owner": [self.clipboard.owner_pid()],
            }
        )
        return {"processes": found, "count": len(found)}
