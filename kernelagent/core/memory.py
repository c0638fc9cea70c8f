"""Giving the heap memory the agent frees back to the OS (glibc's malloc_trim, at intervals).

Request bodies, file contents and kernel messages live in the agent's heap for a moment each;
glibc keeps what they free inside its arenas rather than return it. The soak measured it: after
5,000 mixed requests 9 MB of the heap was free but held, the whole of the agent's RSS growth,
while the live Python objects stayed flat. malloc_trim hands those free pages back. Where the C
library is not glibc (musl, macOS) there is nothing to call and the trimmer does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from typing import Any

log = logging.getLogger("kernelagent.memory")


def _glibc() -> Any:
    """The C library, if it has malloc_trim (glibc); else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


class MemoryTrimmer:
    """Calls malloc_trim every `interval` seconds (0: never) while the agent runs."""

    def __init__(self, interval: float):
        self.interval = interval
        self.libc = _glibc()
        self.trims = 0
        self._task: asyncio.Task | None = None

    def trim(self) -> bool:
        """Give free heap pages back now; whether any were."""
        if self.libc is None:
            return False
        self.trims += 1
        return bool(self.libc.malloc_trim(0))

    def start(self) -> None:
        if self.interval > 0 and self.libc is not None:
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.trim()
            except Exception:  # never worth stopping the agent for
                log.exception("malloc_trim failed")
