"""Screenshots taken in-process (mss over the X display's shared memory) and encoded as PNG at a fast level.

Capture and encoding run in a thread of their own (mss instances are bound to the thread that
made them), so the event loop never waits on them and input is not queued behind a screenshot.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core.errors import AgentError, bad_request
from .display import Display

PNG_LEVEL = 1  # zlib level: 1 is several times faster than the default 6 for a few percent more bytes


class Screen:
    """Captures the whole screen or a rectangle of it as PNG bytes."""

    def __init__(self, display: Display):
        self.display = display
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desktop-screen")
        self._sct: Any = None
        self._generation = -1

    def _grabber(self) -> Any:
        import mss

        if self._sct is None or self._generation != self.display.generation:
            if self._sct is not None:
                try:
                    self._sct.close()
                except Exception:
                    pass
            self._sct = mss.mss(display=self.display.name)
            self._generation = self.display.generation
        return self._sct

    def _png(self, box: tuple[int, int, int, int] | None) -> tuple[bytes, int, int]:
        import mss.tools
        from mss.exception import ScreenShotError

        if box is None:
            box = (0, 0, self.display.width, self.display.height)
        x, y, w, h = clip(box, self.display.width, self.display.height)
        try:
            shot = self._grabber().grab({"left": x, "top": y, "width": w, "height": h})
        except ScreenShotError as exc:  # the X server died or is being restarted
            self._sct = None
            raise AgentError("DESKTOP_NOT_AVAILABLE", 503, f"The X display is not reachable: {exc}") from None
        data = mss.tools.to_png(shot.rgb, shot.size, level=PNG_LEVEL)
        assert data is not None
        return data, w, h

    async def capture(self, box: tuple[int, int, int, int] | None = None) -> bytes:
        """PNG of `box` (x, y, width, height; clipped to the screen), or of the whole screen."""
        data, _, _ = await asyncio.get_running_loop().run_in_executor(self.executor, self._png, box)
        return data

    def close(self) -> None:
        self.executor.shutdown(wait=False)


def clip(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """The part of `box` on a width x height screen; a box wholly off it is a 400."""
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        raise bad_request(
            f"Region {w}x{h} at ({x},{y}) is outside the {width}x{height} screen", field="x", width=width, height=height
        )
    return x0, y0, x1 - x0, y1 - y0
