"""A streaming multipart/form-data parser: bytes in, part events out, never more than one chunk
plus a boundary held in memory. It knows nothing of files or HTTP; the upload handler drives it."""

from __future__ import annotations

import email.message
from dataclasses import dataclass, field

from ..core.errors import bad_request

MAX_PART_HEADER_BYTES = 16 << 10


@dataclass
class Part:
    """One part's headers: its form name, its filename (file parts only) and its content type."""

    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    content_type: str = "text/plain"


# events returned by feed(): ("part", Part) | ("data", bytes or memoryview) | ("end_part", None) | ("end", None)
# a memoryview is valid as long as the caller keeps it; it views an immutable chunk
Event = tuple[str, object]


def boundary_from(content_type: str) -> str:
    """The boundary of a multipart/form-data Content-Type header; 400 if it is not one."""
    msg = email.message.Message()
    msg["content-type"] = content_type or ""
    if msg.get_content_type() != "multipart/form-data":
        raise bad_request(
            "Upload must be multipart/form-data with a 'file' part and a 'path' field", content_type=content_type
        )
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise bad_request("multipart/form-data without a valid boundary")
    return boundary


def _parse_part_headers(raw: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise bad_request(f"Malformed multipart header line: {line[:100]!r}")
        headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    msg = email.message.Message()
    msg["content-disposition"] = disposition
    name = msg.get_param("name", header="content-disposition")
    filename = msg.get_filename()
    return Part(
        headers=headers,
        name=name if isinstance(name, str) else "",
        filename=filename,
        content_type=headers.get("content-type", "text/plain"),
    )


class MultipartParser:
    """Push parser. feed(chunk) returns the events the chunk completes; finish() checks the end."""

    def __init__(self, boundary: str):
        self._first = b"--" + boundary.encode("latin-1")
        self._delim = b"\r\n" + self._first
        self._buf = bytearray()
        self._state = "preamble"  # preamble -> headers -> body -> after_delim -> ... -> end

    def feed(self, data: bytes) -> list[Event]:
        if self._state == "end":
            return []  # the epilogue is ignored
        events: list[Event] = []
        if self._state == "body" and self._body_fast(data, events):
            return events
        self._buf += data
        while True:
            if self._state == "preamble":
                # the first boundary may open the body directly, without the leading CRLF
                idx = self._buf.find(self._first)
                if idx < 0:
                    keep = len(self._first) - 1
                    if len(self._buf) > keep:
                        del self._buf[: len(self._buf) - keep]
                    return events
                del self._buf[: idx + len(self._first)]
                self._state = "after_delim"
            elif self._state == "after_delim":
                if len(self._buf) < 2:
                    return events
                tail = bytes(self._buf[:2])
                if tail == b"--":
                    self._state = "end"
                    self._buf.clear()
                    events.append(("end", None))
                    return events
                # transport padding (spaces, tabs) may precede the CRLF
                idx = self._buf.find(b"\r\n")
                if idx < 0:
                    if len(self._buf) > 256:
                        raise bad_request("Malformed multipart body: junk after a boundary")
                    return events
                if self._buf[:idx].strip(b" \t"):
                    raise bad_request("Malformed multipart body: junk after a boundary")
                del self._buf[: idx + 2]
                self._state = "headers"
            elif self._state == "headers":
                if self._buf.startswith(b"\r\n"):  # a part with no headers at all
                    idx, head = 0, b""
                    del self._buf[:2]
                else:
                    idx = self._buf.find(b"\r\n\r\n")
                    if idx < 0:
                        if len(self._buf) > MAX_PART_HEADER_BYTES:
                            raise bad_request("Multipart part headers too large")
                        return events
                    head = bytes(self._buf[:idx])
                    del self._buf[: idx + 4]
                events.append(("part", _parse_part_headers(head)))
                self._state = "body"
            elif self._state == "body":
                idx = self._buf.find(self._delim)
                if idx < 0:
                    # everything except a possible partial delimiter at the end is part data
                    safe = len(self._buf) - (len(self._delim) - 1)
                    if safe > 0:
                        events.append(("data", bytes(self._buf[:safe])))
                        del self._buf[:safe]
                    return events
                if idx:
                    events.append(("data", bytes(self._buf[:idx])))
                del self._buf[: idx + len(self._delim)]
                events.append(("end_part", None))
                self._state = "after_delim"

    def _body_fast(self, data: bytes, events: list[Event]) -> bool:
        """The common case in a large part: no delimiter in this chunk nor across the seam with
        the carried tail. The chunk is then passed on as a view, without copying it."""
        keep = len(self._delim) - 1
        if len(data) <= keep or len(self._buf) > keep:
            return False
        carry = bytes(self._buf)
        if (carry + data[: len(self._delim)]).find(self._delim) >= 0 or data.find(self._delim) >= 0:
            return False
        if carry:
            events.append(("data", carry))
        events.append(("data", memoryview(data)[: len(data) - keep]))
        self._buf = bytearray(data[len(data) - keep :])
        return True

    def finish(self) -> None:
        """Call when the body has ended: a multipart body cut short is a 400, never a success."""
        if self._state != "end":
            raise bad_request("Incomplete multipart body: the closing boundary never arrived")
