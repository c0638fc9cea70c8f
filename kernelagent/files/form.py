"""The upload form: a multipart/form-data body, fed as it arrives, routed into an Upload.

The `file` part (or any part with a filename) is the file; a `path` field names the destination
and may come before or after it, or in the query. Other fields are gathered (bounded) and ignored.
"""

from __future__ import annotations

from ..core.errors import AgentError, bad_request
from ..models.files import FileResponse
from .multipart import MultipartParser, Part
from .upload import Upload

MAX_FIELD_BYTES = 64 << 10  # the text fields of an upload (path) together


class UploadForm:
    """One upload request's body. The first error stops the upload (the rest of the body is
    drained and ignored) and is raised by finish(), so it is answered once the body has ended."""

    def __init__(self, upload: Upload, parser: MultipartParser):
        self.upload = upload
        self.parser = parser
        self.error: AgentError | None = None
        self.fields: dict[str, bytearray] = {}
        self.field_bytes = 0
        self.current: str | None = None  # "file", a field name, or None (ignored part)
        self.finished = False

    async def feed(self, chunk: bytes) -> None:
        """The next bytes of the body."""
        if self.error is not None:
            return  # the body is drained, the error is answered by finish()
        try:
            for kind, value in self.parser.feed(chunk):
                if kind == "data":  # the hot path of a large file
                    await self._data(value)  # type: ignore[arg-type]
                elif kind == "part":
                    await self._part(value)  # type: ignore[arg-type]
                elif kind == "end_part":
                    self._end_part()
        except AgentError as exc:
            self.error = exc
            await self.upload.abort()

    async def _part(self, part: Part) -> None:
        if part.filename is not None or part.name == "file":
            self.current = "file"
            await self.upload.start()
        elif part.name:
            self.current = part.name
            self.fields[part.name] = bytearray()
        else:
            self.current = None

    async def _data(self, data: bytes | memoryview) -> None:
        if self.current == "file":
            await self.upload.write(data)
        elif self.current is not None:
            self.field_bytes += len(data)
            if self.field_bytes > MAX_FIELD_BYTES:
                raise bad_request("Upload form fields are too large")
            self.fields[self.current] += data

    def _end_part(self) -> None:
        if self.current == "path":
            self.upload.set_destination(self.fields["path"].decode("utf-8", "surrogateescape"))
        self.current = None

    async def finish(self) -> FileResponse:
        """The body has ended: commit the file, or raise the first error (the destination untouched)."""
        if self.error is None:
            try:
                self.parser.finish()
                result = await self.upload.commit()
            except AgentError as exc:
                self.error = exc
        if self.error is not None:
            await self.upload.abort()
            raise self.error
        self.finished = True
        return result

    async def abandon(self) -> None:
        """The request ended without a committed file (an error, the client gone): throw it away."""
        if not self.finished:
            await self.upload.abort()
