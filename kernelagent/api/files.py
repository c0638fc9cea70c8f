"""Files: read, download (streamed), write, list, exists, remove, mkdir, upload (streamed), watch."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import quote

from tornado import iostream, web

from ..core.clock import utc_now_iso
from ..core.errors import AgentError, bad_request
from ..files.form import UploadForm
from ..files.watch import WatchSession
from ..models.base import M, parse_object
from ..models.files import (
    FileChange,
    FileContent,
    FileExists,
    FileList,
    FileResponse,
    ListQuery,
    MkdirRequest,
    PathQuery,
    ReadQuery,
    RemoveBody,
    RemoveQuery,
    UploadQuery,
    WriteRequest,
    parse_watch_frame,
)
from .base import AuthWebSocketHandler, BaseHandler, error_frame
from .routing import Route, op
from .streams import GatheredBodyHandler, limit_body, send_download


class FilesHandler(BaseHandler):
    """The file routes' base: query arguments are taken as sent, even when they are not UTF-8."""

    def parse_query(self, model: type[M]) -> M:
        """A path that is not UTF-8 is kept surrogate-escaped (as os.fsdecode does), so files whose
        names are not UTF-8 stay reachable; the base handler would refuse it."""
        args = {k: v[-1].decode("utf-8", "surrogateescape") for k, v in self.request.query_arguments.items()}
        return parse_object(model, args)


class ReadHandler(FilesHandler):
    """A whole file as text or base64."""

    @op("Read a file whole, as UTF-8 text or base64 (up to max_read_bytes)", query=ReadQuery, response=FileContent)
    async def get(self, query: ReadQuery) -> FileContent:
        return await self.services.files.read(query)


class DownloadHandler(FilesHandler):
    """Raw bytes with a Content-Length. On a plain TCP connection the body goes out with sendfile
    from a thread (page cache to socket); otherwise in chunks read ahead in the executor."""

    @op("Download a file's bytes (streamed, any size)", query=PathQuery, media_type="application/octet-stream")
    async def get(self, query: PathQuery) -> None:
        self.cancel = threading.Event()
        download = await self.services.files.open_download(query.path)
        try:
            self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Length", str(download.size))
            self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(download.name)}")
            await send_download(self, download, self.cancel)
        except iostream.StreamClosedError:
            return  # the client went away
        finally:
            download.close()
        self.finish()

    def on_connection_close(self) -> None:
        cancel = getattr(self, "cancel", None)
        if cancel is not None:
            cancel.set()
        super().on_connection_close()


@web.stream_request_body
class WriteHandler(GatheredBodyHandler, FilesHandler):
    """A JSON body of at most max_body_bytes, gathered as it arrives (over the limit: 413)."""

    def body_too_large(self, size: int) -> AgentError:
        limit = self.services.settings.max_body_bytes
        return AgentError(
            "FILE_TOO_LARGE",
            413,
            f"Request body of {size} bytes is above the limit of {limit} bytes for "
            "/files/write; send large files with POST /files/upload (multipart, streamed)",
            {"size": size, "limit": limit},
        )

    async def prepare(self) -> None:
        self.body_limit = self.services.settings.max_body_bytes
        await super().prepare()

    @op("Write a whole file atomically, from text or base64", body=WriteRequest, response=FileResponse)
    async def post(self, body: WriteRequest) -> FileResponse:
        return await self.services.files.write(body)


class ListHandler(FilesHandler):
    """A directory's entries."""

    @op("List a directory (default: the workspace)", query=ListQuery, response=FileList)
    async def get(self, query: ListQuery) -> FileList:
        return await self.services.files.list(query.path)


class ExistsHandler(FilesHandler):
    """Whether a path exists."""

    @op("Whether a path exists, and what it is", query=PathQuery, response=FileExists)
    async def get(self, query: PathQuery) -> FileExists:
        return await self.services.files.exists(query.path)


class RemoveHandler(FilesHandler):
    """Removal of a file, a link or a tree."""

    @op(
        "Remove a file, a symlink or a directory (recursively); the path in the query or a JSON body",
        query=RemoveQuery,
        body=RemoveBody,
        body_required=False,
        response=FileResponse,
    )
    async def delete(self, query: RemoveQuery, body: RemoveBody) -> FileResponse:
        return await self.services.files.remove(query.path or body.path)


class MkdirHandler(FilesHandler):
    """Creation of a directory with its parents."""

    @op("Create a directory and its parents (mkdir -p)", body=MkdirRequest, response=FileResponse)
    async def post(self, body: MkdirRequest) -> FileResponse:
        return await self.services.files.mkdir(body.path)


@web.stream_request_body
class UploadHandler(FilesHandler):
    """multipart/form-data with a `path` field and a `file` part, parsed as it arrives and written
    to a temp file beside the destination, renamed into place only once the body is complete."""

    form: UploadForm | None = None

    async def prepare(self) -> None:
        self.body_unread = True  # until post(): the body streams in after prepare
        await super().prepare()  # auth before a byte of the body is read
        length = self.request.headers.get("Content-Length")
        self.form = self.services.files.upload_form(
            self.request.headers.get("Content-Type", ""),
            int(length) if length and length.isdigit() else None,
            self.parse_query(UploadQuery).path,  # needed before the body, so parsed here too
        )
        limit_body(self.request, self.services.files.max_upload_body)

    async def data_received(self, chunk: bytes) -> None:
        assert self.form is not None
        await self.form.feed(chunk)

    @op(
        "Upload a file (multipart/form-data: a `path` field and a `file` part), streamed and atomic",
        query=UploadQuery,
        request_media_type="multipart/form-data",
        response=FileResponse,
    )
    async def post(self, query: UploadQuery) -> FileResponse:
        self.body_unread = False
        assert self.form is not None
        return await self.form.finish()

    def on_connection_close(self) -> None:
        # an interrupted upload: throw the temp file away, the destination keeps its old content
        self._abandon()
        super().on_connection_close()

    def on_finish(self) -> None:
        self._abandon()
        super().on_finish()

    def _abandon(self) -> None:
        if self.form is not None:
            asyncio.ensure_future(self.form.abandon())


class WatchHandler(AuthWebSocketHandler):
    """Client sends {"action":"watch","path":P[,"recursive":bool]} (several allowed) and
    {"action":"unwatch","path":P}; the server streams {"type":"change",...}. Closing stops all."""

    session: WatchSession | None = None

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        settings = self.services.settings
        self.session = WatchSession(self.services.files.watch, self._send_change, settings.max_watchers_per_connection)

    def on_message(self, message: str | bytes) -> None:
        assert self.session is not None
        path: str | None = None
        try:
            frame = parse_watch_frame(message)
            path = frame.path or self.services.settings.workspace
            if frame.verb == "watch":
                self.session.watch(path, frame.recursive is not False)
            elif frame.verb in ("unwatch", "stop"):
                self.session.unwatch(path)
            elif frame.verb == "ping":
                self.send_json({"type": "pong", "timestamp": utc_now_iso()})
            else:
                raise bad_request(f"Unknown action {frame.verb!r}: use 'watch' or 'unwatch'")
        except AgentError as exc:
            self.send_json(error_frame(exc.code, exc.message, path=path, details=exc.details))

    def _send_change(self, message: FileChange) -> None:
        if not self.send_json(dict(message)) and self.session is not None:
            self.session.stop_all()

    def on_close(self) -> None:
        super().on_close()
        if self.session is not None:
            self.session.stop_all()


routes = [
    Route("/files/read", ReadHandler),
    Route("/files/download", DownloadHandler),
    Route("/files/write", WriteHandler),
    Route("/files/list", ListHandler),
    Route("/files/exists", ExistsHandler),
    Route("/files/remove", RemoveHandler),
    Route("/files/mkdir", MkdirHandler),
    Route("/files/upload", UploadHandler),
    Route(
        "/files/watch",
        WatchHandler,
        websocket="changes under a path as they happen: send {action: watch|unwatch|ping, path, recursive}; "
        "receive {type: change, event: created|modified|deleted|renamed, path, is_directory, timestamp}",
    ),
]
