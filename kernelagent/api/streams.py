"""Tornado mechanics of streamed bodies, kept out of the handlers: a JSON body gathered under a
limit (413 in the envelope, not Tornado's bare 400), and a download's body sent by sendfile."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TypeGuard

from tornado import iostream
from tornado.http1connection import HTTP1Connection
from tornado.httputil import HTTPServerRequest

from ..core.errors import AgentError
from ..files.download import Download
from ..models.base import M, parse_json
from .base import BaseHandler


def limit_body(request: HTTPServerRequest, size: int) -> None:
    """Let a streamed request body grow to `size` bytes, past Tornado's default."""
    conn = request.connection
    assert isinstance(conn, HTTP1Connection)  # Tornado's one server connection type
    conn.set_max_body_size(size)


class GatheredBodyHandler(BaseHandler):
    """A @web.stream_request_body handler whose JSON body is gathered here rather than by Tornado,
    so a body over `body_limit` is answered with `body_too_large()` in the contract's envelope."""

    body_limit = 0

    def body_too_large(self, size: int) -> AgentError:
        raise NotImplementedError

    async def prepare(self) -> None:
        self.body_unread = True  # until the method runs: the body streams in after prepare
        await super().prepare()
        self.gathered = bytearray()
        self.over = 0  # bytes of a chunked body that went over the limit, counted while drained
        length = self.request.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > self.body_limit:
            raise self.body_too_large(int(length))
        # a chunked body is counted in data_received and, once over the limit, drained and thrown
        # away so the 413 can be answered after it (answering mid-body and closing would reset the
        # connection under the answer); past twice the limit Tornado cuts the connection
        limit_body(self.request, 2 * self.body_limit + (1 << 20))

    def data_received(self, chunk: bytes) -> None:
        if self.over:
            self.over += len(chunk)
            return
        if len(self.gathered) + len(chunk) > self.body_limit:  # a chunked body (no Content-Length) grew too large
            self.over = len(self.gathered) + len(chunk)
            self.gathered = bytearray()
            return
        self.gathered += chunk

    def parse_body(self, model: type[M], required: bool = True) -> M:
        """The gathered body as `model` (413 if it went over the limit)."""
        self.body_unread = False
        if self.over:
            raise self.body_too_large(self.over)
        raw, self.gathered = bytes(self.gathered), bytearray()
        return parse_json(model, raw, required)


async def send_download(handler: BaseHandler, download: Download, cancel: threading.Event) -> None:
    """The file as the response body (headers already set, Content-Length among them): by sendfile
    from a thread on a plain TCP connection, else in chunks read ahead. StreamClosedError if the
    client goes away."""
    conn = handler.request.connection
    if download.size and _sendfile_ok(conn):
        await handler.flush()  # the headers go out; Tornado's write buffer is empty from here on
        await _sendfile(conn, download, cancel)
        return
    # aclosing: if the client goes away, the read in flight is awaited before the close
    async with contextlib.aclosing(download.chunks()) as chunks:
        async for chunk in chunks:
            handler.write(chunk)
            await handler.flush()


# sendfile writes the body to the socket behind Tornado's back. Tornado checks a response against
# its Content-Length through HTTP1Connection's private `_expected_content_remaining`, and has no
# public way to say "these bytes were sent for you", so the count is read and adjusted here, and
# only here; where the attribute is missing (another Tornado), downloads use chunks instead.


def _sendfile_ok(conn: object) -> TypeGuard[HTTP1Connection]:
    """A plain TCP HTTP/1 connection of a Tornado that counts the body the way we account for it."""
    return (
        isinstance(conn, HTTP1Connection)
        and type(conn.stream) is iostream.IOStream
        and hasattr(conn, "_expected_content_remaining")
    )


async def _sendfile(conn: HTTP1Connection, download: Download, cancel: threading.Event) -> None:
    stream = conn.stream
    if stream.closed():
        raise iostream.StreamClosedError()
    if not isinstance(conn._expected_content_remaining, int):  # Tornado did not take our Content-Length
        raise TypeError("sendfile download without a Content-Length")
    out_fd = os.dup(stream.socket.fileno())
    try:
        sent = await download.send(out_fd, cancel)
    except OSError:
        stream.close()
        raise iostream.StreamClosedError() from None
    finally:
        os.close(out_fd)
    conn._expected_content_remaining -= sent  # so finish() checks the length as for any body
