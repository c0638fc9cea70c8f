"""Uploads: a file arriving in chunks, written atomically by a writer thread of its own."""

from __future__ import annotations

import asyncio
import collections
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core.errors import bad_request, missing
from ..core.limits import Limiter
from ..core.runas import new_owner
from ..models.files import FileResponse, file_response
from ..settings import Settings
from .atomic import AtomicFile, Buffer, TempRegistry, write_all
from .errors import os_error, too_large
from .policy import PathPolicy

SPOOL_CHUNK = 1 << 20


class Upload:
    """A file arriving in chunks, written by one writer thread of its own while the next chunks are
    read from the socket.

    Arriving bytes are gathered up to one chunk (file_chunk_bytes) and handed to the writer (a
    single-thread executor, so writes land in order) without waiting for them; the caller waits
    only while more than upload_window_bytes are queued, which bounds memory. Until its destination
    is known (the `path` field may follow the file part) the file is spooled to a temp file in the
    system temp dir and copied into place at commit. abort() at any time leaves the destination
    untouched. The upload holds one transfer slot from its creation until commit() or abort().
    """

    def __init__(self, policy: PathPolicy, temps: TempRegistry, settings: Settings, chunk: int, slot: Limiter):
        self.policy = policy
        self.temps = temps
        self.limit = settings.max_upload_bytes
        self.window = settings.upload_window_bytes
        self.new_owner = new_owner(settings.run_as_user)  # of a new file and its new parents (run_as_user)
        self.chunk = chunk
        self.slot: Limiter | None = slot
        self.dest: str | None = None
        self.display: str | None = None
        self.file: AtomicFile | None = None
        self.spool: tuple[int, str] | None = None
        self.buf: list[Buffer] = []  # chunks not yet handed over, written together (writev)
        self.buffered = 0
        self.size = 0
        self.inflight: collections.deque[tuple[asyncio.Future[Any], int]] = collections.deque()
        self.inflight_bytes = 0
        self.writer: ThreadPoolExecutor | None = None
        self.lock = asyncio.Lock()  # start, commit and abort never overlap

    def set_destination(self, raw_path: str) -> None:
        """Where the file goes, as the caller named it (checked by the path policy at once)."""
        if self.dest is not None:
            raise bad_request("'path' given more than once")
        self.display = raw_path
        self.dest = self.policy.resolve(raw_path)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self.writer is not None
        return await asyncio.get_running_loop().run_in_executor(self.writer, fn, *args)

    async def start(self) -> None:
        """The file part begins: open its target (or the spool while the path is unknown)."""
        if self.file is not None or self.spool is not None:
            raise bad_request("Only one file part is accepted per upload")
        async with self.lock:
            self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernelagent-upload")
            if self.dest is not None:
                self.file = await self._run(AtomicFile, self.dest, None, self.temps, self.new_owner)
            else:
                self.spool = await self._run(tempfile.mkstemp, ".upload", "kernelagent-")

    async def write(self, data: Buffer) -> None:
        """Take the next bytes of the file; past max_upload_bytes, 413."""
        self.size += len(data)
        if self.size > self.limit:
            raise too_large(self.display or "", self.size, self.limit, "Upload")
        self.buf.append(data)
        self.buffered += len(data)
        if self.buffered >= self.chunk:
            await self._flush()

    async def _flush(self) -> None:
        """Hand the gathered chunks to the writer; wait only while the queue is over its window."""
        if self.buf:
            views, self.buf, n = self.buf, [], self.buffered
            self.buffered = 0
            loop = asyncio.get_running_loop()
            if self.file is not None:
                fut = loop.run_in_executor(self.writer, self.file.writev, views)
            elif self.spool is not None:
                fut = loop.run_in_executor(self.writer, _spool_write, self.spool, views)
            else:
                return
            self.inflight.append((fut, n))
            self.inflight_bytes += n
        while self.inflight and (self.inflight[0][0].done() or self.inflight_bytes > self.window):
            fut, n = self.inflight.popleft()
            self.inflight_bytes -= n
            await fut  # raises the write's error (the writer has already thrown the temp file away)

    async def _drain(self, raise_errors: bool) -> None:
        while self.inflight:
            fut, n = self.inflight.popleft()
            self.inflight_bytes -= n
            try:
                await fut
            except Exception:
                if raise_errors:
                    raise

    async def commit(self) -> FileResponse:
        """The body is complete: put the file in place (atomically) and answer for it."""
        if self.dest is None:
            raise missing("path")
        if self.file is None and self.spool is None:
            raise missing("file")
        async with self.lock:
            await self._flush()
            await self._drain(raise_errors=True)
            if self.spool is not None:
                self.file = await self._run(AtomicFile, self.dest, None, self.temps, self.new_owner)
                await self._run(_copy_spool, self.spool, self.file)
                self._drop_spool()
            assert self.file is not None
            size = await self._run(self.file.commit)
            self.file = None
            self._stop_writer()
            self.release()
        return file_response(self.display or self.dest, size, "File uploaded")

    def _drop_spool(self) -> None:
        if self.spool is not None:
            fd, name = self.spool
            self.spool = None
            try:
                os.close(fd)
            except OSError:
                pass
            try:
                os.unlink(name)
            except OSError:
                pass

    def _stop_writer(self) -> None:
        if self.writer is not None:
            self.writer.shutdown(wait=False)
            self.writer = None

    def release(self) -> None:
        """Give the transfer slot back (once)."""
        if self.slot is not None:
            self.slot.give()
            self.slot = None

    async def abort(self) -> None:
        """Throw away whatever arrived (after the writes in flight); the destination is untouched."""
        self.release()
        self.buf, self.buffered = [], 0
        async with self.lock:
            await self._drain(raise_errors=False)
            if self.file is not None:
                await self._run(self.file.abort)
                self.file = None
            self._drop_spool()
            self._stop_writer()


def _spool_write(spool: tuple[int, str], views: Sequence[Buffer]) -> None:
    try:
        write_all(spool[0], views)
    except OSError as exc:
        raise os_error(exc, spool[1]) from None


def _copy_spool(spool: tuple[int, str], out: AtomicFile) -> None:
    fd = spool[0]
    os.lseek(fd, 0, os.SEEK_SET)
    while True:
        data = os.read(fd, SPOOL_CHUNK)
        if not data:
            break
        out.write(data)
