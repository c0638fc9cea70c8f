"""One persistent X connection (python-xlib), used from one thread of its own.

Xlib connections are not thread-safe and the event loop must not wait on the X server, so every
call on the connection runs in a single-thread executor, in arrival order. The connection is
reopened when the display was restarted (its generation changed) or a call found it broken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..core.errors import AgentError
from .display import Display

T = TypeVar("T")


class XConnection:
    """The agent's own client of the X server: input, windows and selections go through it."""

    def __init__(self, display: Display, name: str = "desktop-x"):
        self.display = display
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: Any = None
        self._generation = -1

    def _connection(self) -> Any:
        from Xlib import display as xdisplay

        if self._conn is None or self._generation != self.display.generation:
            self._close()
            self._conn = xdisplay.Display(self.display.name)
            self._generation = self.display.generation
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        from Xlib import error as xerror

        try:
            return fn(self._connection(), *args)
        except (xerror.ConnectionClosedError, xerror.DisplayError, OSError) as exc:
            self._close()
            raise AgentError("DESKTOP_NOT_AVAILABLE", 503, f"The X display is not reachable: {exc}") from None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(connection, *args)` on the X thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._call, fn, args)

    def close(self) -> None:
        self.executor.submit(self._close)
        self.executor.shutdown(wait=True)
