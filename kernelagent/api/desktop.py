"""The virtual desktop (contract 3.8): thin handlers over the desktop service, every spelling of each route.

Every route first checks that the desktop runs (503 DESKTOP_NOT_AVAILABLE naming what is missing);
screenshots answer raw PNG, everything else JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import desktop as m
from .base import BaseHandler
from .routing import Route, op

if TYPE_CHECKING:
    from ..desktop import DesktopService

PNG = "image/png"


class DesktopHandler(BaseHandler):
    """A desktop route: after auth, 503 when the desktop cannot run; PNG answers written raw."""

    async def prepare(self) -> None:
        await super().prepare()
        self.desktop.require()

    @property
    def desktop(self) -> DesktopService:
        return self.services.desktop

    def write_png(self, data: bytes) -> None:
        self.set_header("Content-Type", PNG)
        self.set_header("Cache-Control", "no-store")
        self.finish(data)


# --- screen ---


class ScreenshotHandler(DesktopHandler):
    """GET /desktop/screenshot."""

    @op("The whole screen as PNG", media_type=PNG)
    async def get(self) -> None:
        self.write_png(await self.desktop.screenshot())


class RegionHandler(DesktopHandler):
    """POST /desktop/screenshot/region."""

    @op("A rectangle of the screen as PNG (clipped to the screen)", body=m.Region, media_type=PNG)
    async def post(self, body: m.Region) -> None:
        self.write_png(await self.desktop.screenshot_region(body))


class CaptureWindowHandler(DesktopHandler):
    """GET /desktop/x11/capture_window."""

    @op("A window (default the active one) as PNG", query=m.WindowQuery, media_type=PNG)
    async def get(self, query: m.WindowQuery) -> None:
        self.write_png(await self.desktop.capture_window(query))


# --- mouse and keyboard ---


class MoveHandler(DesktopHandler):
    """Move the pointer."""

    @op("Move the pointer", body=m.Point, response=m.Done)
    async def post(self, body: m.Point) -> m.Done:
        return await self.desktop.move(body)


class ClickHandler(DesktopHandler):
    """Click a button, once or more, at a point."""

    @op("Click a button, once or more, at a point", body=m.Click, response=m.Done)
    async def post(self, body: m.Click) -> m.Done:
        return await self.desktop.click(body)


class DragHandler(DesktopHandler):
    """Press at one point, move to another, release."""

    @op("Press at one point, move to another, release", body=m.Drag, response=m.Done)
    async def post(self, body: m.Drag) -> m.Done:
        return await self.desktop.drag(body)


class ScrollHandler(DesktopHandler):
    """Turn the wheel (buttons 4 to 7)."""

    @op("Turn the wheel (buttons 4 to 7)", body=m.Scroll, response=m.Done)
    async def post(self, body: m.Scroll) -> m.Done:
        return await self.desktop.scroll(body)


class TypeHandler(DesktopHandler):
    """Type Unicode text, delay_ms between characters."""

    @op("Type Unicode text, delay_ms between characters", body=m.TypeText, response=m.Done)
    async def post(self, body: m.TypeText) -> m.Done:
        return await self.desktop.type_text(body)


class PressHandler(DesktopHandler):
    """Press and release one key (an unknown name is a 400)."""

    @op("Press and release one key (an unknown name is a 400)", body=m.Press, response=m.Done)
    async def post(self, body: m.Press) -> m.Done:
        return await self.desktop.press(body)


class CombinationHandler(DesktopHandler):
    """Press a key with modifiers held."""

    @op("Press a key with modifiers held", body=m.Combination, response=m.Done)
    async def post(self, body: m.Combination) -> m.Done:
        return await self.desktop.combination(body)


# --- clipboard ---


class ClipboardSetHandler(DesktopHandler):
    """Put text on the clipboard."""

    @op("Put text on the clipboard", body=m.ClipboardSet, response=m.Done)
    async def post(self, body: m.ClipboardSet) -> m.Done:
        return await self.desktop.clipboard_set(body)


class ClipboardGetHandler(DesktopHandler):
    """The clipboard's text."""

    @op("The clipboard's text", response=m.Clipboard)
    async def get(self) -> m.Clipboard:
        return await self.desktop.clipboard_get()


class ClipboardHistoryHandler(DesktopHandler):
    """Texts recently set or read (bounded)."""

    @op("Texts recently set or read (bounded)", response=m.ClipboardHistory)
    def get(self) -> m.ClipboardHistory:
        return self.desktop.clipboard_history()


# --- windows ---


class WindowsHandler(DesktopHandler):
    """Top-level windows (int ids, title, geometry, pid, active, minimized)."""

    @op("Top-level windows (int ids, title, geometry, pid, active, minimized)", response=m.WindowList)
    async def get(self) -> m.WindowList:
        return await self.desktop.windows_list()


class FocusHandler(DesktopHandler):
    """Raise and focus a window."""

    @op("Raise and focus a window", body=m.WindowTarget, response=m.Done)
    async def post(self, body: m.WindowTarget) -> m.Done:
        return await self.desktop.window_focus(body)


class CloseHandler(DesktopHandler):
    """Ask a window to close."""

    @op("Ask a window to close", body=m.WindowTarget, response=m.Done)
    async def post(self, body: m.WindowTarget) -> m.Done:
        return await self.desktop.window_close(body)


class MinimizeHandler(DesktopHandler):
    """Minimize a window."""

    @op("Minimize a window", body=m.WindowTarget, response=m.Done)
    async def post(self, body: m.WindowTarget) -> m.Done:
        return await self.desktop.window_minimize(body)


class ResizeHandler(DesktopHandler):
    """Resize a window."""

    @op("Resize a window", body=m.WindowResize, response=m.Done)
    async def post(self, body: m.WindowResize) -> m.Done:
        return await self.desktop.window_resize(body)


# --- display ---


class DisplayHandler(DesktopHandler):
    """The display's size and depth."""

    @op("The display's size and depth", response=m.DisplayInfo)
    def get(self) -> m.DisplayInfo:
        return self.desktop.display_info()


class ResolutionsHandler(DesktopHandler):
    """Sizes the display can be set to."""

    @op("Sizes the display can be set to", response=m.Resolutions)
    def get(self) -> m.Resolutions:
        return self.desktop.display_resolutions()


class ResolutionHandler(DesktopHandler):
    """Set the display's size (restarts the X server: its windows are lost)."""

    @op("Set the display's size (restarts the X server: its windows are lost)", body=m.Resolution,
        response=m.DisplayInfo)  # fmt: skip
    async def post(self, body: m.Resolution) -> m.DisplayInfo:
        return await self.desktop.display_set(body)


# --- debug ---


class DebugLogsHandler(DesktopHandler):
    """The desktop's recent events."""

    @op("The desktop's recent events (starts, deaths, restarts, VNC)", response=m.DebugLogs)
    def get(self) -> m.DebugLogs:
        return self.desktop.debug_logs()


class DebugProcessesHandler(DesktopHandler):
    """The processes that make up the desktop."""

    @op("The desktop's processes (X server, window manager, VNC, recorders, clipboard owner)",
        response=m.DebugProcesses)  # fmt: skip
    def get(self) -> m.DebugProcesses:
        return self.desktop.debug_processes()


routes = [
    Route("/desktop/screenshot", ScreenshotHandler),
    Route("/desktop/screenshot/region", RegionHandler),
    Route("/desktop/x11/capture_window", CaptureWindowHandler),
    Route("/desktop/mouse/move", MoveHandler),
    Route("/desktop/mouse/click", ClickHandler),
    Route("/desktop/mouse/drag", DragHandler),
    Route("/desktop/x11/drag_drop", DragHandler),
    Route("/desktop/x11/drag-drop", DragHandler),
    Route("/desktop/mouse/scroll", ScrollHandler),
    Route("/desktop/keyboard/type", TypeHandler),
    Route("/desktop/keyboard/press", PressHandler),
    Route("/desktop/keyboard/combination", CombinationHandler),
    Route("/desktop/x11/hotkey", CombinationHandler),
    Route("/desktop/clipboard/set", ClipboardSetHandler),
    Route("/desktop/clipboard/get", ClipboardGetHandler),
    Route("/desktop/clipboard/history", ClipboardHistoryHandler),
    Route("/desktop/windows", WindowsHandler),
    Route("/desktop/windows/list", WindowsHandler),
    Route("/desktop/windows/focus", FocusHandler),
    Route("/desktop/windows/close", CloseHandler),
    Route("/desktop/windows/minimize", MinimizeHandler),
    Route("/desktop/windows/resize", ResizeHandler),
    Route("/desktop/display", DisplayHandler),
    Route("/desktop/display/current", DisplayHandler),
    Route("/desktop/display/info", DisplayHandler),
    Route("/desktop/display/available", ResolutionsHandler),
    Route("/desktop/display/resolutions", ResolutionsHandler),
    Route("/desktop/display/set", ResolutionHandler),
    Route("/desktop/display/resolution", ResolutionHandler),
    Route("/desktop/debug/logs", DebugLogsHandler),
    Route("/desktop/debug/processes", DebugProcessesHandler),
]
