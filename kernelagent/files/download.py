"""Downloads: an open file sent whole, by sendfile from a thread of its own (page cache to socket)
or in chunks read ahead in the file executor, holding one transfer slot until it is closed."""

from __future__ import annotations

import asyncio
import os
import select
import stat
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from ..core.limits import Limiter
from .errors import invalid_path

T = TypeVar("T")
SENDFILE_STEP = 8 << 20


def open_regular(path: str, shown: str, opener: Callable[[str, str], int]) -> tuple[int, int]:
    """Open a regular file for reading (blocking) with `opener` (the policy's open_checked): its
    fd and size; 400 for anything else."""
    fd = opener(path, shown)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "Is a directory" if stat.S_ISDIR(st.st_mode) else "Not a regular file"
        raise invalid_path(f"{kind}: {shown}", shown)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    except (AttributeError, OSError):
        pass
    return fd, st.st_size


class Download:
    """An open file being sent; close() releases the file and the transfer slot (once)."""

    def __init__(self, path: str, fd: int, size: int, executor: Executor, chunk: int, slot: Limiter):
        self.path = path
        self.name = os.path.basename(path)
        self.size = size
        self.fd = fd
        self.executor = executor
        self.chunk = chunk
        self.slot: Limiter | None = slot

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The file's bytes in chunks; the next chunk is read while the caller sends this one."""
        remaining = self.size
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[bytes] | None = loop.run_in_executor(
            self.executor, os.read, self.fd, min(self.chunk, remaining)
        )
        try:
            while remaining > 0:
                assert pending is not None
                data = await pending
                pending = None
                if not data:
                    break
                remaining -= len(data)
                if remaining > 0:
                    pending = loop.run_in_executor(self.executor, os.read, self.fd, min(self.chunk, remaining))
                yield data
        finally:
            if pending is not None:
                await asyncio.wait([pending])  # never close the fd under a read in flight

    async def send(self, out_fd: int, cancel: threading.Event) -> int:
        """Send the whole file to the socket out_fd with os.sendfile (page cache to socket, no copy
        through this process), from a thread of its own so a slow client never holds an executor
        worker nor the event loop. out_fd must be non-blocking and owned by the caller for the whole
        call (a dup, so a close elsewhere can never hand its number to another connection).
        Returns the bytes sent (short if the file shrank); raises ConnectionError if the client
        went away or cancel was set."""
        return await in_thread(sendfile_all, out_fd, self.fd, self.size, cancel)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.slot is not None:
            self.slot.give()
            self.slot = None


def sendfile_all(out_fd: int, in_fd: int, count: int, cancel: threading.Event) -> int:
    """Blocking: sendfile `count` bytes to a non-blocking socket, polling while it is full."""
    poller = select.poll()
    poller.register(out_fd, select.POLLOUT)
    sent = 0
    while sent < count:
        if cancel.is_set():
            raise ConnectionAbortedError("download cancelled")
        try:
            n = os.sendfile(out_fd, in_fd, sent, min(count - sent, SENDFILE_STEP))
        except BlockingIOError:
            for _, events in poller.poll(500):  # wake now and then to look at cancel
                if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    raise ConnectionResetError("client went away") from None
            continue
        if n == 0:
            break  # the file shrank under us
        sent += n
    return sent


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run fn in a new daemon thread (for calls that may wait on a client for long)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, exc: BaseException | None) -> None:
        if fut.cancelled():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001  (handed to the awaiting coroutine)
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="kernelagent-send", daemon=True).start()
    return await asyncio.shield(fut)
