"""Files: read, download (streamed), write, list, exists, remove, mkdir, upload (streamed), watch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from typing import Any
from urllib.parse import quote

from tornado import iostream, web
from tornado.http1connection import HTTP1Connection

from ..core.errors import AgentError, bad_request, missing
from ..multipart import MultipartParser, boundary_from
from ..core.clock import utc_now_iso
from .routing import Route
from .base import AuthWebSocketHandler, BaseHandler

log = logging.getLogger("kernelagent.api.files")

MAX_FIELD_BYTES = 64 << 10  # the text fields of an upload (path) together


class FilesHandler(BaseHandler):
    def path_arg(self, required: bool = True) -> str | None:
        """The `path` query argument exactly as sent: Tornado's own getter strips whitespace and
        turns control characters (NUL included) into spaces, which would hide a NUL from the
        path policy and change names that end in spaces."""
        values = self.request.query_arguments.get("path")
        if not values or values[-1] == b"":
            if required:
                raise missing("path")
            return None
        return values[-1].decode("utf-8", "surrogateescape")

    def take_transfer_slot(self) -> None:
        """Uploads and downloads each hold a thread: at most max_transfers run at once."""
        self.services.files.transfers.take()
        self.holds_slot = True

    def release_transfer_slot(self) -> None:
        if getattr(self, "holds_slot", False):
            self.holds_slot = False
            self.services.files.transfers.give()

    def on_connection_close(self) -> None:
        self.release_transfer_slot()

    def on_finish(self) -> None:
        self.release_transfer_slot()
        super().on_finish()


class ReadHandler(FilesHandler):
    async def get(self) -> None:
        self.write_json(await self.services.files.read(self.path_arg(),
                                                       self.query("encoding")))


class DownloadHandler(FilesHandler):
    """Raw bytes with a Content-Length. On a plain TCP connection the body goes out with sendfile
    from a thread (page cache to socket); otherwise in chunks read ahead in the executor."""

    async def get(self) -> None:
        self.take_transfer_slot()
        download = await self.services.files.open_download(self.path_arg())
        self.cancel = threading.Event()
        try:
            self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Length", str(download.size))
            self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(download.name)}")
            if download.size and self._sendfile_ok():
                await self._sendfile(download)
            else:
                # aclosing: if the client goes away, the read in flight is awaited before the close
                async with contextlib.aclosing(download.chunks()) as chunks:
                    async for chunk in chunks:
                        self.write(chunk)
                        await self.flush()
        except iostream.StreamClosedError:
            return  # the client went away
        finally:
            download.close()
        self.finish()

    def _sendfile_ok(self) -> bool:
        conn = self.request.connection
        return (isinstance(conn, HTTP1Connection) and type(conn.stream) is iostream.IOStream
                and hasattr(conn, "_expected_content_remaining"))

    async def _sendfile(self, download: Any) -> None:
        await self.flush()  # the headers go out; Tornado's write buffer is empty from here on
        conn = self.request.connection
        stream = conn.stream
        if stream.closed():
            raise iostream.StreamClosedError()
        if not isinstance(conn._expected_content_remaining, int):  # Tornado did not take our Content-Length
            raise RuntimeError("sendfile download without a Content-Length")
        out_fd = os.dup(stream.socket.fileno())
        try:
            sent = await download.send(out_fd, self.cancel)
        except OSError:
            stream.close()
            raise iostream.StreamClosedError() from None
        finally:
            os.close(out_fd)
        # the bytes bypassed Tornado's framing: account for them, so finish() checks the length
        conn._expected_content_remaining -= sent

    def on_connection_close(self) -> None:
        cancel = getattr(self, "cancel", None)
        if cancel is not None:
            cancel.set()
        super().on_connection_close()


@web.stream_request_body
class WriteHandler(FilesHandler):
    """The JSON body is gathered here rather than by Tornado, so a body over the limit
    (max_body_bytes) is answered with 413 in the contract's envelope instead of Tornado's bare 400."""

    async def prepare(self) -> None:
        self.body_unread = True  # until post(): the body streams in after prepare
        await super().prepare()
        self.limit = self.services.settings.max_body_bytes
        self.body = bytearray()
        self.over = 0  # bytes of a chunked body that went over the limit, counted while drained
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.limit:
            raise self._too_large(int(length))
        # a chunked body is counted in data_received and, once over the limit, drained and thrown
        # away so the 413 can be answered after it (answering mid-body and closing would reset the
        # connection under the answer); past twice the limit Tornado cuts the connection
        self.request.connection.set_max_body_size(2 * self.limit + (1 << 20))

    def _too_large(self, size: int) -> AgentError:
        return AgentError("FILE_TOO_LARGE", 413,
                          f"Request body of {size} bytes is above the limit of {self.limit} bytes for "
                          "/files/write; send large files with POST /files/upload (multipart, streamed)",
                          {"size": size, "limit": self.limit})

    def data_received(self, chunk: bytes) -> None:
        if self.over:
            self.over += len(chunk)
            return
        if len(self.body) + len(chunk) > self.limit:  # a chunked body (no Content-Length) grew too large
            self.over = len(self.body) + len(chunk)
            self.body = bytearray()
            return
        self.body += chunk

    async def post(self) -> None:
        self.body_unread = False
        if self.over:
            raise self._too_large(self.over)
        self.request.body, self.body = bytes(self.body), bytearray()
        self.write_json(await self.services.files.write(self.json_body()))


class ListHandler(FilesHandler):
    async def get(self) -> None:
        path = self.path_arg(required=False) or self.services.settings.workspace
        self.write_json(await self.services.files.list(path))


class ExistsHandler(FilesHandler):
    async def get(self) -> None:
        self.write_json(await self.services.files.exists(self.path_arg()))


class RemoveHandler(FilesHandler):
    async def delete(self) -> None:
        path = self.path_arg(required=False)
        if path is None and self.request.body:  # some clients send the path in a JSON body
            path = self.json_body().get("path")
        self.write_json(await self.services.files.remove(path))


class MkdirHandler(FilesHandler):
    async def post(self) -> None:
        self.write_json(await self.services.files.mkdir(self.json_body().get("path")))


@web.stream_request_body
class UploadHandler(FilesHandler):
    """multipart/form-data with a `path` field and a `file` part, parsed as it arrives and written
    to a temp file beside the destination, renamed into place only once the body is complete."""

    async def prepare(self) -> None:
        self.body_unread = True  # until post(): the body streams in after prepare
        await super().prepare()  # auth before a byte of the body is read
        self.error: AgentError | None = None
        self.fields: dict[str, bytearray] = {}
        self.field_bytes = 0
        self.current: str | None = None  # "file", a field name, or None (ignored part)
        self.finished_ok = False
        limit = self.services.settings.max_upload_bytes
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > limit + (1 << 20):
            raise AgentError("FILE_TOO_LARGE", 413, f"Upload of {length} bytes is above the limit of {limit} bytes",
                             {"size": int(length), "limit": limit})
        self.request.connection.set_max_body_size(limit + (1 << 20))
        self.parser = MultipartParser(boundary_from(self.request.headers.get("Content-Type", "")))
        self.take_transfer_slot()
        self.upload = self.services.files.upload()
        query_path = self.path_arg(required=False)
        if query_path:
            self.upload.set_destination(query_path)

    async def data_received(self, chunk: bytes) -> None:
        if self.error is not None:
            return  # the body is drained, the error is answered in post()
        try:
            for kind, value in self.parser.feed(chunk):
                await self._event(kind, value)
        except AgentError as exc:
            self.error = exc
            await self.upload.abort()

    async def _event(self, kind: str, value: Any) -> None:
        if kind == "part":
            if value.filename is not None or value.name == "file":
                self.current = "file"
                await self.upload.start()
            elif value.name:
                self.current = value.name
                self.fields[value.name] = bytearray()
            else:
                self.current = None
        elif kind == "data":
            if self.current == "file":
                await self.upload.write(value)
            elif self.current is not None:
                self.field_bytes += len(value)
                if self.field_bytes > MAX_FIELD_BYTES:
                    raise bad_request("Upload form fields are too large")
                self.fields[self.current] += value
        elif kind == "end_part":
            if self.current == "path":
                self.upload.set_destination(self.fields["path"].decode("utf-8", "surrogateescape"))
            self.current = None

    async def post(self) -> None:
        self.body_unread = False
        if self.error is None:
            try:
                self.parser.finish()
                result = await self.upload.commit()
            except AgentError as exc:
                self.error = exc
        if self.error is not None:
            await self.upload.abort()
            raise self.error
        self.finished_ok = True
        self.write_json(result)

    def on_connection_close(self) -> None:
        # an interrupted upload: throw the temp file away, the destination keeps its old content
        self._abort_unfinished()
        super().on_connection_close()

    def on_finish(self) -> None:
        self._abort_unfinished()
        super().on_finish()

    def _abort_unfinished(self) -> None:
        upload = getattr(self, "upload", None)
        if upload is not None and not self.finished_ok:
            asyncio.ensure_future(upload.abort())


class WatchHandler(AuthWebSocketHandler):
    """Client sends {"action":"watch","path":P[,"recursive":bool]} (several allowed) and
    {"action":"unwatch","path":P}; the server streams {"type":"change",...}. Closing stops all."""

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        self.watches: dict[str, Any] = {}

    def on_message(self, message: str | bytes) -> None:
        try:
            msg = json.loads(message)
            if not isinstance(msg, dict):
                raise ValueError("not an object")
        except ValueError:
            self._error(bad_request("Messages must be JSON objects like {\"action\":\"watch\",\"path\":\"/workspace\"}",
                                    code="INVALID_JSON"))
            return
        action = msg.get("action") or msg.get("type") or "watch"
        path = msg.get("path") or self.services.settings.workspace
        try:
            if action == "watch":
                if path in self.watches:
                    return
                recursive = msg.get("recursive", True) is not False
                self.watches[path] = self.services.files.watch(path, recursive, self._send_change)
            elif action in ("unwatch", "stop"):
                watch = self.watches.pop(path, None)
                if watch is not None:
                    watch.stop()
            elif action == "ping":
                self.send_json({"type": "pong", "timestamp": utc_now_iso()})
            else:
                raise bad_request(f"Unknown action {action!r}: use 'watch' or 'unwatch'")
        except AgentError as exc:
            self._error(exc, path)

    def _send_change(self, message: dict[str, Any]) -> None:
        if not self.send_json(message):
            self._stop_all()

    def _error(self, exc: AgentError, path: str | None = None) -> None:
        self.send_json({"type": "error", "code": exc.code, "error": exc.message, "message": exc.message,
                        "path": path, "details": exc.details, "timestamp": utc_now_iso()})

    def _stop_all(self) -> None:
        watches, self.watches = getattr(self, "watches", {}), {}
        for watch in watches.values():
            watch.stop()

    def on_close(self) -> None:
        self._stop_all()


routes = [
    Route("/files/read", ReadHandler),
    Route("/files/download", DownloadHandler),
    Route("/files/write", WriteHandler),
    Route("/files/list", ListHandler),
    Route("/files/exists", ExistsHandler),
    Route("/files/remove", RemoveHandler),
    Route("/files/mkdir", MkdirHandler),
    Route("/files/upload", UploadHandler),
    Route("/files/watch", WatchHandler, websocket="changes under a path as they happen"),
]
