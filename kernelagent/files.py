"""Files: the path policy and every file operation of the API, off the event loop.

Path policy: a path must be absolute, non-empty and free of NUL bytes (else 400); it is resolved
with realpath (symlinks followed, `..` collapsed by the OS's rules) and must then lie inside one of
the resolved allowed roots, checked with os.path.commonpath (never a string prefix), else 403
PATH_NOT_ALLOWED. Operations act on the resolved path only, never on the caller's string.
Removal is the one exception: it resolves the parent and keeps the last component, so removing a
symlink removes the link, not what it points to.

Writes are atomic: bytes go to a temporary file in the target's directory, which is fsynced and
then renamed over the target (os.replace), so a failed or interrupted write or upload leaves the
old file whole. Character devices (e.g. /dev/null) are written in place, since they cannot be
replaced by a rename.

The policy is about the API's reach, not a sandbox boundary: code run through /execute can do what
it likes, and a symlink swapped between the check and the open is not defended against.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import ctypes
import errno
import heapq
import logging
import os
import secrets
import select
import shutil
import stat
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from .core.errors import AgentError, bad_request, missing
from .settings import Settings
from .core.clock import iso_from_epoch, utc_now_iso

if TYPE_CHECKING:
    from .watch import Watch

log = logging.getLogger("kernelagent.files")

CHUNK = 1 << 20


# --- errors ---------------------------------------------------------------------------------


def not_allowed(path: str) -> AgentError:
    return AgentError("PATH_NOT_ALLOWED", 403, f"Path not allowed: {path}", {"path": path})


def too_large(path: str, size: int, limit: int, what: str, hint: str = "") -> AgentError:
    return AgentError("FILE_TOO_LARGE", 413, f"{what} is {size} bytes, above the limit of {limit} bytes{hint}",
                      {"path": path, "size": size, "limit": limit})


def os_error(exc: OSError, path: str, directory: bool = False) -> AgentError:
    """An OSError as the contract's error: the code and status a caller can act on."""
    e = exc.errno
    details = {"path": path}
    if e in (errno.ENOENT, errno.ENOTDIR):
        if directory:
            return AgentError("DIRECTORY_NOT_FOUND", 404, f"Directory not found: {path}", details)
        return AgentError("FILE_NOT_FOUND", 404, f"File not found: {path}", details)
    if e in (errno.EACCES, errno.EPERM):
        return AgentError("PERMISSION_DENIED", 403, f"Permission denied: {path}", details)
    if e == errno.EROFS:
        return AgentError("PERMISSION_DENIED", 403, f"Read-only file system: {path}", details)
    if e in (errno.ENOSPC, errno.EDQUOT):
        return AgentError("INSUFFICIENT_STORAGE", 507, f"No space left on device while writing {path}", details)
    if e == errno.EISDIR:
        return AgentError("INVALID_PATH", 400, f"Is a directory: {path}", details)
    if e == errno.EEXIST:
        return AgentError("FILE_ALREADY_EXISTS", 409, f"Already exists and is not a directory: {path}", details)
    if e == errno.ENAMETOOLONG:
        return AgentError("INVALID_PATH", 400, f"Path too long: {path[:200]}", details)
    if e == errno.EFBIG:
        return AgentError("FILE_TOO_LARGE", 413, f"File too large: {path}", details)
    return AgentError("FILE_OPERATION_FAILED", 500, f"{exc.strerror or exc}: {path}", {**details, "errno": e})


def parse_mode(mode: Any) -> int | None:
    """'0644', '644', '0o644' (octal strings) or None; anything else is a 400."""
    if mode is None or mode == "":
        return None
    text = str(mode).strip().lower()
    if text.startswith("0o"):
        text = text[2:]
    try:
        value = int(text, 8)
    except ValueError:
        raise bad_request(f"Invalid mode {mode!r}: expected an octal string such as '0644'") from None
    if not 0 <= value <= 0o7777:
        raise bad_request(f"Invalid mode {mode!r}: out of range")
    return value


def file_info(entry_path: str, name: str, display_path: str) -> dict[str, Any]:
    """FileInfo of the contract; symlinks are described by what they point to when it exists."""
    lst = os.lstat(entry_path)
    is_link = stat.S_ISLNK(lst.st_mode)
    st = lst
    if is_link:
        try:
            st = os.stat(entry_path)
        except OSError:
            pass  # a dangling link: describe the link itself
    is_dir = stat.S_ISDIR(st.st_mode)
    return {
        "name": name,
        "path": display_path,
        "size": 0 if is_dir else st.st_size,
        "is_directory": is_dir,
        "is_dir": is_dir,
        "is_file": stat.S_ISREG(st.st_mode),
        "is_symlink": is_link,
        "type": "directory" if is_dir else "file" if stat.S_ISREG(st.st_mode) else "symlink" if is_link else "other",
        "permissions": stat.filemode(st.st_mode),
        "mode": format(stat.S_IMODE(st.st_mode), "04o"),
        "modified_time": iso_from_epoch(st.st_mtime),
    }


def file_response(path: str, size: int | None, message: str) -> dict[str, Any]:
    """The contract's FileResponse."""
    body: dict[str, Any] = {"success": True, "path": path, "message": message, "timestamp": utc_now_iso()}
    if size is not None:
        body["size"] = size
    return body


# --- atomic writes ----------------------------------------------------------------------------


class TempRegistry:
    """The temp files of writes in progress (and just finished), so watchers can hide them and
    report the final rename as the target being created or modified. Thread-safe enough: plain
    dict operations under the GIL."""

    KEEP = 60.0  # seconds an entry outlives its write, for watch events still in flight

    def __init__(self) -> None:
        self._entries: dict[str, tuple[bool, float]] = {}  # temp path -> (target existed, done at)

    def add(self, tmp: str, existed: bool) -> None:
        now = time.monotonic()
        for key, (_, done) in list(self._entries.items()):
            if done and now - done > self.KEEP:
                self._entries.pop(key, None)
        self._entries[tmp] = (existed, 0.0)

    def done(self, tmp: str) -> None:
        entry = self._entries.get(tmp)
        if entry is not None:
            self._entries[tmp] = (entry[0], time.monotonic())

    def lookup(self, tmp: str) -> bool | None:
        """None if tmp is not one of ours; else whether its target existed before the write."""
        entry = self._entries.get(tmp)
        return None if entry is None else entry[0]


class AtomicFile:
    """A file being written: a temp file beside the target until commit() renames it into place.

    Blocking; every method runs in the file executor. Parents are created as needed.
    """

    def __init__(self, target: str, mode: int | None, temps: TempRegistry | None = None):
        self.target = target
        self.temps = temps
        self.size = 0
        self.flushed = 0  # bytes whose writeback has been started
        self.tmp: str | None = None
        existing: os.stat_result | None
        try:
            existing = os.stat(target)
        except FileNotFoundError:
            existing = None
        except NotADirectoryError:
            raise AgentError("INVALID_PATH", 400, f"A parent of {target} is not a directory",
                             {"path": target}) from None
        except OSError as exc:
            raise os_error(exc, target) from None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise AgentError("INVALID_PATH", 400, f"Is a directory: {target}", {"path": target})
        if existing is not None and not stat.S_ISREG(existing.st_mode) and not stat.S_ISCHR(existing.st_mode):
            raise AgentError("INVALID_PATH", 400, f"Not a regular file: {target}", {"path": target})
        self.mode = mode if mode is not None else (stat.S_IMODE(existing.st_mode) if existing else 0o644)
        self.owner = (existing.st_uid, existing.st_gid) if existing else None
        try:
            if existing is not None and stat.S_ISCHR(existing.st_mode):
                self.fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
                self.direct = True
            else:
                parent = os.path.dirname(target)
                os.makedirs(parent, exist_ok=True)
                self.fd, self.tmp = self._create_temp(parent, os.path.basename(target), existing is not None)
                self.direct = False
        except FileExistsError:  # a parent component is a file
            raise AgentError("INVALID_PATH", 400, f"A parent of {target} is not a directory",
                             {"path": target}) from None
        except OSError as exc:
            raise os_error(exc, target) from None

    def _create_temp(self, parent: str, name: str, existed: bool) -> tuple[int, str]:
        """A new temp file beside the target, registered *before* it exists, so a watcher never
        sees its creation as a stranger's file."""
        while True:
            tmp = os.path.join(parent, f".{name[:100]}.{secrets.token_hex(6)}.part")
            if self.temps is not None:
                self.temps.add(tmp, existed)
            try:
                return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), tmp
            except FileExistsError:
                continue
            except BaseException:
                if self.temps is not None:
                    self.temps.done(tmp)
                raise

    def write(self, data: bytes | memoryview) -> None:
        self.writev([data])

    def writev(self, views: list) -> None:
        try:
            self.size += _writev(self.fd, views)
        except OSError as exc:
            self.abort()
            raise os_error(exc, self.target) from None
        if self.size - self.flushed >= WRITEBACK_STEP and not self.direct:
            # start writeback of what is written so far, so the fsync at commit has little left
            _start_writeback(self.fd, self.flushed, self.size - self.flushed)
            self.flushed = self.size

    def commit(self) -> int:
        try:
            if not self.direct:
                os.fchmod(self.fd, self.mode)
                if self.owner is not None and os.geteuid() == 0:
                    try:
                        os.fchown(self.fd, *self.owner)
                    except OSError:
                        pass
                os.fsync(self.fd)
            os.close(self.fd)
            self.fd = -1
            if self.tmp is not None:
                os.replace(self.tmp, self.target)
                self._forget()
                _fsync_dir(os.path.dirname(self.target))
        except OSError as exc:
            self.abort()
            raise os_error(exc, self.target) from None
        return self.size

    def abort(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self._forget()

    def _forget(self) -> None:
        if self.temps is not None and self.tmp is not None:
            self.temps.done(self.tmp)
        self.tmp = None


WRITEBACK_STEP = 8 << 20
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range (Linux), which Python's os module lacks; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int, offset: int, nbytes: int) -> None:
    """Ask the kernel to start writing a range to disk, without waiting (a hint: errors are ignored,
    the fsync at commit is what guarantees durability)."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- streams --------------------------------------------------------------------------------


@dataclass
class Download:
    """An open file being sent in chunks; close() releases it."""

    path: str
    name: str
    size: int
    fd: int
    service: "FileService"

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; the next chunk is read while the caller sends this one."""
        remaining = self.size
        step = self.service.chunk
        loop = asyncio.get_running_loop()
        pending = loop.run_in_executor(self.service._executor, os.read, self.fd, min(step, remaining))
        try:
            while remaining > 0:
                data = await pending
                pending = None
                if not data:
                    break
                remaining -= len(data)
                if remaining > 0:
                    pending = loop.run_in_executor(self.service._executor, os.read, self.fd, min(step, remaining))
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
        return await in_thread(_sendfile_all, out_fd, self.fd, self.size, cancel)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


SENDFILE_STEP = 8 << 20


def _sendfile_all(out_fd: int, in_fd: int, count: int, cancel: threading.Event) -> int:
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
                    raise ConnectionResetError("client went away")
            continue
        if n == 0:
            break  # the file shrank under us
        sent += n
    return sent


async def in_thread(fn: Callable, *args: Any) -> Any:
    """Run fn in a new daemon thread (for calls that may wait on a client for long)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future = loop.create_future()

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
        except BaseException as exc:  # handed to the awaiting coroutine
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="kernelagent-send", daemon=True).start()
    return await asyncio.shield(fut)


class Upload:
    """A file arriving in chunks, written by one writer thread of its own while the next chunks are
    read from the socket.

    Arriving bytes are gathered up to one chunk (file_chunk_bytes) and handed to the writer (a
    single-thread executor, so writes land in order) without waiting for them; the caller waits
    only while more than upload_window_bytes are queued, which bounds memory. Until its destination
    is known (the `path` field may follow the file part) the file is spooled to a temp file in the
    system temp dir and copied into place at commit. abort() at any time leaves the destination
    untouched.
    """

    def __init__(self, service: "FileService"):
        self.service = service
        self.dest: str | None = None
        self.display: str | None = None
        self.file: AtomicFile | None = None
        self.spool: tuple[int, str] | None = None
        self.buf: list[bytes | memoryview] = []  # chunks not yet handed over, written together (writev)
        self.buffered = 0
        self.size = 0
        self.inflight: collections.deque[tuple[asyncio.Future, int]] = collections.deque()
        self.inflight_bytes = 0
        self.writer: ThreadPoolExecutor | None = None
        self.lock = asyncio.Lock()  # start, commit and abort never overlap

    def set_destination(self, raw_path: str) -> None:
        if self.dest is not None:
            raise bad_request("'path' given more than once")
        self.display = raw_path
        self.dest = self.service.resolve(raw_path)

    async def _run(self, fn: Callable, *args: Any) -> Any:
        assert self.writer is not None
        return await asyncio.get_running_loop().run_in_executor(self.writer, fn, *args)

    async def start(self) -> None:
        """The file part begins: open its target (or the spool while the path is unknown)."""
        if self.file is not None or self.spool is not None:
            raise bad_request("Only one file part is accepted per upload")
        async with self.lock:
            self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernelagent-upload")
            if self.dest is not None:
                self.file = await self._run(AtomicFile, self.dest, None, self.service.temps)
            else:
                self.spool = await self._run(tempfile.mkstemp, ".upload", "kernelagent-")

    async def write(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        limit = self.service.settings.max_upload_bytes
        if self.size > limit:
            raise too_large(self.display or "", self.size, limit, "Upload")
        self.buf.append(data)
        self.buffered += len(data)
        if self.buffered >= self.service.chunk:
            await self._flush()

    async def _flush(self) -> None:
        """Hand the gathered chunks to the writer; wait only while the queue is over its window."""
        if self.buf:
            views, self.buf, n = self.buf, [], self.buffered
            self.buffered = 0
            if self.file is not None:
                fut = asyncio.get_running_loop().run_in_executor(self.writer, self.file.writev, views)
            elif self.spool is not None:
                fut = asyncio.get_running_loop().run_in_executor(self.writer, _writev_all, self.spool[0], views,
                                                                 self.spool[1])
            else:
                return
            self.inflight.append((fut, n))
            self.inflight_bytes += n
        window = self.service.settings.upload_window_bytes
        while self.inflight and (self.inflight[0][0].done() or self.inflight_bytes > window):
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

    async def commit(self) -> dict[str, Any]:
        if self.dest is None:
            raise missing("path")
        if self.file is None and self.spool is None:
            raise missing("file")
        async with self.lock:
            await self._flush()
            await self._drain(raise_errors=True)
            if self.spool is not None:
                self.file = await self._run(AtomicFile, self.dest, None, self.service.temps)
                await self._run(_copy_spool, self.spool, self.file)
                self._drop_spool()
            assert self.file is not None
            size = await self._run(self.file.commit)
            self.file = None
            self._stop_writer()
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

    async def abort(self) -> None:
        """Throw away whatever arrived (after the writes in flight); the destination is untouched."""
        self.buf, self.buffered = [], 0
        async with self.lock:
            await self._drain(raise_errors=False)
            if self.file is not None:
                await self._run(self.file.abort)
                self.file = None
            self._drop_spool()
            self._stop_writer()


def _writev(fd: int, views: list) -> int:
    """os.writev until everything is written; returns the byte count."""
    pending = [memoryview(v).cast("B") for v in views if len(v)]
    total = 0
    while pending:
        n = os.writev(fd, pending[:512])
        total += n
        while n and pending:
            if n >= len(pending[0]):
                n -= len(pending[0])
                pending.pop(0)
            else:
                pending[0] = pending[0][n:]
                n = 0
    return total


def _writev_all(fd: int, views: list, name: str) -> None:
    try:
        _writev(fd, views)
    except OSError as exc:
        raise os_error(exc, name) from None


def _copy_spool(spool: tuple[int, str], out: AtomicFile) -> None:
    fd = spool[0]
    os.lseek(fd, 0, os.SEEK_SET)
    while True:
        data = os.read(fd, CHUNK)
        if not data:
            break
        out.write(data)


# --- the service ----------------------------------------------------------------------------


class Slots:
    """A count of things running at once, refused with 429 past its limit."""

    def __init__(self, limit: int, what: str):
        self.limit = limit
        self.what = what
        self.used = 0

    def take(self) -> None:
        if self.used >= self.limit:
            raise AgentError("RATE_LIMIT_EXCEEDED", 429,
                             f"Too many {self.what} at once (max {self.limit}); retry when one ends",
                             {"limit": self.limit})
        self.used += 1

    def give(self) -> None:
        self.used -= 1


class FileService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.transfers = Slots(settings.max_transfers, "uploads and downloads")
        self.chunk = max(64 << 10, settings.file_chunk_bytes)
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kernelagent-files")
        self._watchers = 0
        self.temps = TempRegistry()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # --- path policy ---

    def roots(self) -> list[str]:
        roots = []
        for raw in self.settings.allowed_roots.split(","):
            raw = raw.strip().replace("{workspace}", self.settings.workspace)
            if raw and os.path.isabs(raw):
                roots.append(os.path.realpath(raw))
        return roots

    def check_syntax(self, raw: Any) -> str:
        if raw is None or raw == "":
            raise missing("path")
        if not isinstance(raw, str):
            raise bad_request("'path' must be a string", code="INVALID_PATH")
        if "\0" in raw:
            raise bad_request("Path contains a NUL byte", code="INVALID_PATH", path=raw.replace("\0", "\\0"))
        if not os.path.isabs(raw):
            raise bad_request(f"Path must be absolute: {raw}", code="INVALID_PATH", path=raw)
        return raw

    def contained(self, resolved: str) -> bool:
        for root in self.roots():
            try:
                if os.path.commonpath([root, resolved]) == root:
                    return True
            except ValueError:
                continue
        return False

    def resolve(self, raw: Any) -> str:
        """The real path behind raw, if the policy allows it; raises 400 or 403 otherwise."""
        raw = self.check_syntax(raw)
        try:
            resolved = os.path.realpath(raw)
        except OSError as exc:  # e.g. a symlink loop or a name too long
            raise os_error(exc, raw) from None
        if not self.contained(resolved):
            raise not_allowed(raw)
        return resolved

    def resolve_parent(self, raw: Any) -> str:
        """Like resolve(), but the last component is not followed if it is a symlink."""
        raw = self.check_syntax(raw)
        head, name = os.path.split(raw.rstrip("/") or "/")
        if name in ("", ".", ".."):
            return self.resolve(raw)
        resolved = os.path.join(os.path.realpath(head), name)
        if not self.contained(resolved):
            raise not_allowed(raw)
        return resolved

    # --- operations ---

    async def read(self, raw: Any, encoding: str | None = None) -> dict[str, Any]:
        path = self.resolve(raw)
        limit = self.settings.max_read_bytes

        def read() -> bytes:
            try:
                with open(path, "rb") as f:
                    st = os.fstat(f.fileno())
                    if stat.S_ISDIR(st.st_mode):
                        raise AgentError("INVALID_PATH", 400,
                                         f"Is a directory: {raw} (use /files/list to list it)", {"path": raw})
                    if st.st_size > limit:
                        raise too_large(raw, st.st_size, limit, "File",
                                        " for /files/read; download it with GET /files/download?path=... "
                                        "which streams any size")
                    data = f.read(limit + 1)
            except IsADirectoryError:
                raise AgentError("INVALID_PATH", 400,
                                 f"Is a directory: {raw} (use /files/list to list it)", {"path": raw}) from None
            except OSError as exc:
                raise os_error(exc, raw) from None
            if len(data) > limit:  # grew since the stat
                raise too_large(raw, len(data), limit, "File", "; use GET /files/download")
            return data

        data = await self.run(read)
        if encoding == "base64":
            content, used = base64.b64encode(data).decode("ascii"), "base64"
        else:
            content, used = data.decode("utf-8", errors="replace"), "utf-8"
        return {"content": content, "path": raw, "size": len(data), "encoding": used}

    async def open_download(self, raw: Any) -> Download:
        path = self.resolve(raw)

        def open_() -> Download:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except IsADirectoryError:
                raise AgentError("INVALID_PATH", 400, f"Is a directory: {raw}", {"path": raw}) from None
            except OSError as exc:
                raise os_error(exc, raw) from None
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise AgentError("INVALID_PATH", 400, f"Is a directory: {raw}", {"path": raw})
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                raise AgentError("INVALID_PATH", 400, f"Not a regular file: {raw}", {"path": raw})
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except (AttributeError, OSError):
                pass
            return Download(path=path, name=os.path.basename(path), size=st.st_size, fd=fd, service=self)

        return await self.run(open_)

    def decode_content(self, body: dict[str, Any]) -> bytes:
        content = body.get("content")
        if content is None:
            raise missing("content")
        if not isinstance(content, str):
            raise bad_request("'content' must be a string")
        encoding = (body.get("encoding") or "").lower()
        if encoding == "base64":
            try:
                return base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise bad_request("'content' is not valid base64") from None
        if encoding not in ("", "utf-8", "utf8", "text"):
            raise bad_request(f"Unsupported encoding {encoding!r}: use 'base64' or omit it")
        return content.encode("utf-8", errors="surrogatepass")

    async def write(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("path")
        path = self.resolve(raw)
        data = self.decode_content(body)
        mode = parse_mode(body.get("mode"))
        limit = self.settings.max_write_bytes
        if len(data) > limit:
            raise too_large(raw, len(data), limit, "Content", "; use POST /files/upload for large files")
        if body.get("overwrite") is False and await self.run(os.path.lexists, path):
            raise AgentError("FILE_ALREADY_EXISTS", 409, f"File already exists: {raw}", {"path": raw})

        def write() -> int:
            f = AtomicFile(path, mode, self.temps)
            f.write(data)
            return f.commit()

        size = await self.run(write)
        return file_response(raw, size, "File written")

    def upload(self) -> Upload:
        return Upload(self)

    async def list(self, raw: Any) -> dict[str, Any]:
        path = self.resolve(raw)
        normalized = os.path.normpath(raw)
        shown = normalized if os.path.realpath(normalized) == path else path

        limit = max(1, self.settings.max_list_entries)

        def list_() -> tuple[list[dict[str, Any]], int]:
            try:
                st = os.stat(path)
            except OSError as exc:
                raise os_error(exc, raw, directory=True) from None
            if not stat.S_ISDIR(st.st_mode):
                raise AgentError("INVALID_PATH", 400, f"Not a directory: {raw}", {"path": raw})
            seen = 0

            def names() -> Any:
                nonlocal seen
                with os.scandir(path) as it:
                    for entry in it:
                        seen += 1
                        yield entry.name

            try:
                # the first `limit` names in order, holding no more than `limit` names at once
                kept = heapq.nsmallest(limit, names())
            except OSError as exc:
                raise os_error(exc, raw, directory=True) from None
            out = []
            for name in kept:
                try:
                    out.append(file_info(os.path.join(path, name), name, os.path.join(shown, name)))
                except FileNotFoundError:
                    continue  # removed while listing
                except OSError as exc:
                    raise os_error(exc, raw, directory=True) from None
            return out, seen

        files, seen = await self.run(list_)
        body: dict[str, Any] = {"files": files, "path": shown, "count": len(files), "truncated": seen > limit}
        if seen > limit:
            body["total"] = seen
            body["message"] = (f"Listing cut at {limit} entries (max_list_entries) of {seen}, the first by name; "
                               "list subdirectories or raise KERNELAGENT_MAX_LIST_ENTRIES")
        return body

    async def exists(self, raw: Any) -> dict[str, Any]:
        path = self.resolve(raw)

        def exists() -> dict[str, Any]:
            try:
                st = os.stat(path)
            except OSError:
                return {"exists": False, "path": raw, "is_file": False, "is_directory": False}
            return {"exists": True, "path": raw, "is_file": stat.S_ISREG(st.st_mode),
                    "is_directory": stat.S_ISDIR(st.st_mode)}

        return await self.run(exists)

    async def remove(self, raw: Any) -> dict[str, Any]:
        path = self.resolve_parent(raw)
        if path in self.roots():
            raise AgentError("PATH_NOT_ALLOWED", 403, f"Refusing to remove an allowed root: {raw}", {"path": raw})

        def remove() -> None:
            try:
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            except OSError as exc:
                raise os_error(exc, raw) from None

        await self.run(remove)
        return file_response(raw, None, "Removed")

    async def mkdir(self, raw: Any) -> dict[str, Any]:
        path = self.resolve(raw)

        def mkdir() -> None:
            try:
                os.makedirs(path, exist_ok=True)
            except FileExistsError:
                raise AgentError("FILE_ALREADY_EXISTS", 409, f"A file already exists at {raw}", {"path": raw}) from None
            except NotADirectoryError:
                raise AgentError("INVALID_PATH", 400, f"A parent of {raw} is not a directory", {"path": raw}) from None
            except OSError as exc:
                raise os_error(exc, raw, directory=True) from None

        await self.run(mkdir)
        return file_response(raw, None, "Directory created")

    # --- watching ---

    def watch(self, raw: Any, recursive: bool, emit: Callable[[dict[str, Any]], None]) -> "Watch":
        """Start watching a directory (or a file's directory); emit() is called on the loop thread."""
        from .watch import Watch

        path = self.resolve(raw)
        if not os.path.exists(path):
            raise AgentError("FILE_NOT_FOUND", 404, f"Path not found: {raw}", {"path": raw})
        if self._watchers >= self.settings.max_watchers:
            raise AgentError("INVALID_REQUEST", 429, f"Too many watches (limit {self.settings.max_watchers})")
        loop = asyncio.get_running_loop()

        def released() -> None:
            self._watchers -= 1

        watch = Watch(path, raw, recursive, emit, loop, released, self.temps)
        watch.start()
        self._watchers += 1
        return watch
