"""The file service: every operation of the file API on the real disk, off the event loop.

It takes typed requests (models/files.py), asks the path policy (policy.py) where an operation
may act, and returns typed answers; writes are atomic (atomic.py), large files stream (upload.py,
download.py, form.py), and changes are watched (watch.py). It knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..core.errors import AgentError
from ..core.limits import Limiter
from ..core.runas import new_owner
from ..core.workdir import in_workspace
from ..models.files import FileContent, FileExists, FileList, FileResponse, ReadQuery, WriteRequest, file_response
from ..settings import Settings
from .atomic import AtomicFile, TempRegistry, makedirs_owned
from .download import Download, open_regular
from .errors import already_exists, invalid_path, os_error, too_large
from .form import UploadForm
from .listing import list_directory
from .multipart import MultipartParser, boundary_from
from .policy import PathPolicy
from .upload import Upload
from .watch import Emit, Watch

T = TypeVar("T")
UPLOAD_SLACK = 1 << 20  # an upload's body may exceed its file by the multipart framing


class FileService:
    """The file API's operations, each on a path the policy allowed, blocking work in an executor."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = PathPolicy(settings)
        self.transfers = Limiter(settings.max_transfers, "uploads and downloads")
        self.watchers = Limiter(settings.max_watchers, "watches")
        self.chunk = max(64 << 10, settings.file_chunk_bytes)
        self.temps = TempRegistry()
        self.new_owner = new_owner(settings.run_as_user)  # of new files and directories (run_as_user)
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kernelagent-files")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking file work in the file executor."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # --- read and write whole files ---

    async def read(self, query: ReadQuery) -> FileContent:
        raw = query.path
        path = self.policy.resolve(raw)
        limit = self.settings.max_read_bytes

        def read() -> bytes:
            try:
                with os.fdopen(self.policy.open_checked(path, raw), "rb") as f:
                    st = os.fstat(f.fileno())
                    if stat.S_ISDIR(st.st_mode):
                        raise _read_a_directory(raw)
                    if st.st_size > limit:
                        hint = " for /files/read; download it with GET /files/download?path=... which streams any size"
                        raise too_large(raw, st.st_size, limit, "File", hint)
                    data = f.read(limit + 1)
            except IsADirectoryError:
                raise _read_a_directory(raw) from None
            except OSError as exc:
                raise os_error(exc, raw) from None
            if len(data) > limit:  # grew since the stat
                raise too_large(raw, len(data), limit, "File", "; use GET /files/download")
            return data

        data = await self.run(read)
        if query.wants_base64:
            return {
                "content": base64.b64encode(data).decode("ascii"),
                "path": raw,
                "size": len(data),
                "encoding": "base64",
            }
        return {"content": data.decode("utf-8", errors="replace"), "path": raw, "size": len(data), "encoding": "utf-8"}

    async def write(self, request: WriteRequest) -> FileResponse:
        raw = request.path
        path = self.policy.resolve(raw)
        limit = self.settings.max_write_bytes
        least = request.least_size()
        if least > limit:  # before decoding: a refused content is never copied
            raise too_large(raw, least, limit, "Content", "; use POST /files/upload for large files")
        data = request.data()
        if len(data) > limit:
            raise too_large(raw, len(data), limit, "Content", "; use POST /files/upload for large files")
        if request.overwrite is False and await self.run(os.path.lexists, path):
            raise already_exists(f"File already exists: {raw}", raw)

        def write() -> int:
            f = AtomicFile(path, request.mode, self.temps, self.new_owner)
            f.write(data)
            return f.commit()

        return file_response(raw, await self.run(write), "File written")

    # --- transfers (each holds one of max_transfers slots) ---

    async def open_download(self, raw: str) -> Download:
        """The file opened for sending; close the Download to give its slot back."""
        self.transfers.take()
        try:
            path = self.policy.resolve(raw)
            fd, size = await self.run(open_regular, path, raw, self.policy.open_checked)
        except BaseException:
            self.transfers.give()
            raise
        return Download(path, fd, size, self._executor, self.chunk, self.transfers)

    def upload_form(self, content_type: str, content_length: int | None, query_path: str | None) -> UploadForm:
        """An upload's multipart body about to stream in; abandon() or finish() the form."""
        limit = self.settings.max_upload_bytes
        if content_length is not None and content_length > limit + UPLOAD_SLACK:
            raise AgentError(
                "FILE_TOO_LARGE",
                413,
                f"Upload of {content_length} bytes is above the limit of {limit} bytes",
                {"size": content_length, "limit": limit},
            )
        parser = MultipartParser(boundary_from(content_type))
        self.transfers.take()
        upload = Upload(self.policy, self.temps, self.settings, self.chunk, self.transfers)
        if query_path:
            try:
                upload.set_destination(query_path)
            except BaseException:
                upload.release()
                raise
        return UploadForm(upload, parser)

    @property
    def max_upload_body(self) -> int:
        """The most bytes an upload's body may carry."""
        return self.settings.max_upload_bytes + UPLOAD_SLACK

    # --- directories ---

    async def list(self, raw: str | None) -> FileList:
        """A directory's entries (the workspace's by default), the first max_list_entries by name."""
        raw = raw or self.settings.workspace
        path = self.policy.resolve(raw)
        normalized = os.path.normpath(raw)
        shown = normalized if os.path.realpath(in_workspace(self.settings, normalized)) == path else path
        limit = max(1, self.settings.max_list_entries)
        files, seen = await self.run(list_directory, path, shown, raw, limit)
        body: FileList = {"files": files, "path": shown, "count": len(files), "truncated": seen > limit}
        if seen > limit:
            body["total"] = seen
            body["message"] = (
                f"Listing cut at {limit} entries (max_list_entries) of {seen}, the first by name; "
                "list subdirectories or raise KERNELAGENT_MAX_LIST_ENTRIES"
            )
        return body

    async def exists(self, raw: str) -> FileExists:
        path = self.policy.resolve(raw)

        def exists() -> FileExists:
            try:
                st = os.stat(path)
            except OSError:
                return {"exists": False, "path": raw, "is_file": False, "is_directory": False}
            return {
                "exists": True,
                "path": raw,
                "is_file": stat.S_ISREG(st.st_mode),
                "is_directory": stat.S_ISDIR(st.st_mode),
            }

        return await self.run(exists)

    async def remove(self, raw: str | None) -> FileResponse:
        """Remove a file, a symlink (not its target) or a directory with all it holds."""
        path = self.policy.resolve_parent(raw)
        assert raw is not None  # resolve_parent refuses a missing path
        if path in self.policy.roots():
            raise AgentError("PATH_NOT_ALLOWED", 403, f"Refusing to remove an allowed root: {raw}", {"path": raw})
        if os.path.basename(raw.rstrip("/")) in (".", ".."):  # as rm does: `sub/ghost/..` must not take sub
            raise invalid_path(f"A removal names what it removes, not '.' or '..': {raw}", raw)

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

    async def mkdir(self, raw: str) -> FileResponse:
        path = self.policy.resolve(raw)

        def mkdir() -> None:
            try:
                makedirs_owned(path, self.new_owner)
            except FileExistsError:
                raise already_exists(f"A file already exists at {raw}", raw) from None
            except NotADirectoryError:
                raise invalid_path(f"A parent of {raw} is not a directory", raw) from None
            except OSError as exc:
                raise os_error(exc, raw, directory=True) from None

        await self.run(mkdir)
        return file_response(raw, None, "Directory created")

    # --- watching ---

    def watch(self, raw: str | None, recursive: bool, emit: Emit) -> Watch:
        """Start watching a directory or a file (the workspace by default); emit() is called on the
        loop thread. At most max_watchers at once; stop() the Watch to end it."""
        raw = raw or self.settings.workspace
        path = self.policy.resolve(raw)
        if not os.path.exists(path):
            raise AgentError("FILE_NOT_FOUND", 404, f"Path not found: {raw}", {"path": raw})
        self.watchers.take()
        try:
            watch = Watch(path, raw, recursive, emit, asyncio.get_running_loop(), self.watchers.give, self.temps)
            watch.start()
        except BaseException:
            self.watchers.give()
            raise
        return watch


def _read_a_directory(raw: str) -> AgentError:
    return invalid_path(f"Is a directory: {raw} (use /files/list to list it)", raw)
