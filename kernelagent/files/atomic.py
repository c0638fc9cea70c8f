"""Atomic writes: bytes go to a temporary file in the target's directory, which is fsynced and then
renamed over the target (os.replace), so a failed or interrupted write or upload leaves the old
file whole. Character devices (e.g. /dev/null) are written in place, since they cannot be replaced
by a rename.

Everything here blocks: it runs in the file service's executor or an upload's writer thread.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import stat
import sys
import time
from collections.abc import Callable, Sequence

from .errors import invalid_path, os_error

Buffer = bytes | bytearray | memoryview
WRITEBACK_STEP = 8 << 20
_SYNC_FILE_RANGE_WRITE = 2


class TempRegistry:
    """The temp files of writes in progress (and just finished), so watchers can hide them and
    report the final rename as the target being created or modified. Thread-safe enough: plain
    dict operations under the GIL."""

    KEEP = 60.0  # seconds an entry outlives its write, for watch events still in flight

    def __init__(self) -> None:
        self._entries: dict[str, tuple[bool, float]] = {}  # temp path -> (target existed, done at)

    def add(self, tmp: str, existed: bool) -> None:
        """Register a temp file about to be created (and forget entries past KEEP)."""
        now = time.monotonic()
        for key, (_, done) in list(self._entries.items()):
            if done and now - done > self.KEEP:
                self._entries.pop(key, None)
        self._entries[tmp] = (existed, 0.0)

    def done(self, tmp: str) -> None:
        """The write of tmp is over (renamed or removed); the entry is kept KEEP seconds more."""
        entry = self._entries.get(tmp)
        if entry is not None:
            self._entries[tmp] = (entry[0], time.monotonic())

    def lookup(self, tmp: str) -> bool | None:
        """None if tmp is not one of ours; else whether its target existed before the write."""
        entry = self._entries.get(tmp)
        return None if entry is None else entry[0]


Owner = tuple[int, int]  # uid, gid


class AtomicFile:
    """A file being written: a temp file beside the target until commit() renames it into place.

    Blocking; every method runs in the file executor. Parents are created as needed.
    """

    def __init__(
        self, target: str, mode: int | None, temps: TempRegistry | None = None, new_owner: Owner | None = None
    ):
        """`new_owner` (uid, gid), if given, owns the file if it is new, and the parents made for it;
        an existing file keeps its owner."""
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
            raise invalid_path(f"A parent of {target} is not a directory", target) from None
        except OSError as exc:
            raise os_error(exc, target) from None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise invalid_path(f"Is a directory: {target}", target)
        if existing is not None and not stat.S_ISREG(existing.st_mode) and not stat.S_ISCHR(existing.st_mode):
            raise invalid_path(f"Not a regular file: {target}", target)
        self.mode = mode if mode is not None else (stat.S_IMODE(existing.st_mode) if existing else 0o644)
        self.owner = (existing.st_uid, existing.st_gid) if existing else new_owner
        try:
            if existing is not None and stat.S_ISCHR(existing.st_mode):
                self.fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
                self.direct = True
            else:
                parent = os.path.dirname(target)
                makedirs_owned(parent, new_owner)
                self.fd, self.tmp = self._create_temp(parent, os.path.basename(target), existing is not None)
                self.direct = False
        except FileExistsError:  # a parent component is a file
            raise invalid_path(f"A parent of {target} is not a directory", target) from None
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

    def write(self, data: Buffer) -> None:
        self.writev([data])

    def writev(self, views: Sequence[Buffer]) -> None:
        """Append the buffers in order (one writev call for many); an error aborts the file."""
        try:
            self.size += write_all(self.fd, views)
        except OSError as exc:
            self.abort()
            raise os_error(exc, self.target) from None
        if self.size - self.flushed >= WRITEBACK_STEP and not self.direct:
            # start writeback of what is written so far, so the fsync at commit has little left
            _start_writeback(self.fd, self.flushed, self.size - self.flushed)
            self.flushed = self.size

    def commit(self) -> int:
        """Make the file durable and put it in place; returns its size. An error aborts it."""
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
        """Throw the temp file away; the target keeps its old content. Safe to call twice."""
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


def makedirs_owned(path: str, owner: Owner | None) -> None:
    """os.makedirs(path, exist_ok=True); the directories it creates are given to `owner` (uid, gid), if any."""
    if owner is None:
        os.makedirs(path, exist_ok=True)
        return
    made: list[str] = []
    head = os.path.abspath(path)
    while not os.path.lexists(head) and os.path.dirname(head) != head:
        made.append(head)
        head = os.path.dirname(head)
    os.makedirs(path, exist_ok=True)
    for directory in made:
        try:
            os.lchown(directory, *owner)
        except OSError:
            pass


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
    """Make a rename durable: fsync its directory (best effort)."""
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


def write_all(fd: int, views: Sequence[Buffer]) -> int:
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
