"""Spill files: a job's whole output, appended to a file off the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import BinaryIO

log = logging.getLogger("kernelagent.jobs")


class Spill:
    """A stream's full output (up to `limit` bytes), appended to a file by one writer task in an
    executor thread. `add` never blocks; `close` waits for what is pending, then closes the file."""

    def __init__(self, path: str, limit: int):
        self.path = path
        self.limit = limit
        self.size = 0
        self.dropped = 0
        self._pending: list[bytes] = []
        self._task: asyncio.Task[None] | None = None
        self._fh: BinaryIO | None = None

    def add(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        room = self.limit - self.size
        if len(data) > room:
            self.dropped += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        if not data:
            return
        self.size += len(data)
        self._pending.append(data)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())

    def _write(self, data: bytes) -> None:
        if self._fh is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fh = os.fdopen(fd, "ab", buffering=0)
        if data:
            self._fh.write(data)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            try:
                await loop.run_in_executor(None, self._write, data)
            except OSError as exc:
                log.warning("spill %s: %s", self.path, exc)
                return

    async def close(self) -> None:
        if self._task is not None:
            await self._task
        if self.dropped:
            self._pending.append(f"\n[... {self.dropped} more bytes not kept by kernelagent ...]\n".encode())
        self._pending.append(b"")  # creates the file even when the job printed nothing
        await self._flush()
        if self._fh is not None:
            fh, self._fh = self._fh, None
            await asyncio.get_running_loop().run_in_executor(None, fh.close)


def remove_later(paths: tuple[str, ...]) -> None:
    """Unlink spill files in an executor thread (a missing file is no error)."""

    def unlink() -> None:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass

    asyncio.get_running_loop().run_in_executor(None, unlink)
