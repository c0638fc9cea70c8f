"""Requests and answers of /files: queries, the write and mkdir bodies, the watch frames.

Paths stay plain strings exactly as sent: whether a path is absolute, free of NUL bytes and
allowed is the path policy's question (files/policy.py), answered with INVALID_PATH or
PATH_NOT_ALLOWED; a model only guarantees that a path, when given, is text.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, NotRequired

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

# pydantic reads TypedDicts from typing_extensions on Python < 3.12
from typing_extensions import TypedDict

from ..core.clock import utc_now_iso
from ..core.errors import AgentError, bad_request
from .base import QueryModel, RequestModel, parse_json

TEXT_ENCODINGS = ("", "utf-8", "utf8", "text")


def _present(value: Any) -> Any:
    """A required value that is null (or, for a path, empty) is missing, as the contract says."""
    if value is None or value == "":
        raise PydanticCustomError("missing", "Field required")
    return value


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("missing", "Field required")
    return value


def _octal_mode(value: Any) -> Any:
    """'0644', '644', '0o644' (octal text; an integer is read as its digits, like chmod 644)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return value  # the int validator names the type
    text = str(value).strip().lower().removeprefix("0o")
    try:
        bits = int(text, 8)
    except ValueError:
        raise ValueError(f"invalid mode {value!r}: expected an octal string such as '0644'") from None
    if not 0 <= bits <= 0o7777:
        raise ValueError(f"invalid mode {value!r}: out of range")
    if bits & 0o7000:  # a file written through the API never gains privileges
        raise ValueError(f"invalid mode {value!r}: setuid, setgid and sticky bits are not allowed")
    return bits


def _encoding(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # the str validator names the type
    value = value.lower()
    if value not in (*TEXT_ENCODINGS, "base64"):
        raise ValueError(f"unsupported encoding {value!r}: use 'base64' or omit it")
    return value


RequiredPath = Annotated[str, BeforeValidator(_present), Field(description="an absolute path")]
OptionalPath = Annotated[str | None, Field(description="an absolute path")]
Encoding = Annotated[
    str | None,
    BeforeValidator(_encoding),
    WithJsonSchema({"anyOf": [{"enum": ["base64", "utf-8", "utf8", "text", ""]}, {"type": "null"}]}),
]
FileMode = Annotated[
    int | None,
    BeforeValidator(_octal_mode),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "examples": ["0644"]}, {"type": "integer"}, {"type": "null"}],
            "description": "permissions in octal; default: the old file's, else 0644",
        }
    ),
]


# --- requests ---------------------------------------------------------------------------------


class PathQuery(QueryModel):
    """`?path=P`: one existing path (download, exists)."""

    path: RequiredPath


class ReadQuery(PathQuery):
    """GET /files/read: the file as text, or as base64 with `encoding=base64`."""

    encoding: Annotated[str | None, Field(description="base64 for binary content; else UTF-8 text")] = None

    @property
    def wants_base64(self) -> bool:
        return (self.encoding or "").strip() == "base64"  # stripped, as Tornado's getter did


class ListQuery(QueryModel):
    """GET /files/list: a directory; default the workspace."""

    path: OptionalPath = None


class UploadQuery(QueryModel):
    """POST /files/upload: the destination may be named here instead of in the form."""

    path: OptionalPath = None


class RemoveQuery(QueryModel):
    """DELETE /files/remove: the path, here or in a JSON body."""

    path: OptionalPath = None


class RemoveBody(RequestModel):
    """DELETE /files/remove with the path in a JSON body (some clients send it so)."""

    path: OptionalPath = None


class MkdirRequest(RequestModel):
    """POST /files/mkdir: a directory to create with its parents (mkdir -p)."""

    path: RequiredPath


class WriteRequest(RequestModel):
    """POST /files/write: a whole file, as text or base64, written atomically."""

    path: RequiredPath
    content: Annotated[str, BeforeValidator(_not_null), Field(description="the file's content")]
    encoding: Encoding = None
    mode: FileMode = None
    overwrite: bool | None = Field(None, description="false: refuse (409) if the path exists")

    def least_size(self) -> int:
        """The fewest bytes the content can decode to, known without decoding it (so a size limit
        is checked before a copy is made): base64 is 3 bytes per 4 characters less its padding,
        UTF-8 at least one byte per character."""
        if self.encoding == "base64":
            return len(self.content) // 4 * 3 - self.content[-2:].count("=")
        return len(self.content)

    def data(self) -> bytes:
        """The bytes to write: the content decoded from base64, or encoded as UTF-8."""
        if self.encoding == "base64":
            try:
                return base64.b64decode(self.content, validate=True)
            except (binascii.Error, ValueError):
                raise bad_request("'content' is not valid base64", field="content") from None
        return self.content.encode("utf-8", errors="surrogatepass")


class WatchFrame(RequestModel):
    """A /files/watch frame: {"action": "watch"|"unwatch"|"stop"|"ping", "path": P, "recursive": bool}."""

    action: str | None = None
    type: str | None = None  # the same as action, in the spelling some clients use
    path: str | None = None
    recursive: bool | None = None

    @property
    def verb(self) -> str:
        return self.action or self.type or "watch"


def parse_watch_frame(raw: str | bytes) -> WatchFrame:
    """A client's /files/watch frame; a frame that is not a JSON object says what one looks like."""
    try:
        return parse_json(WatchFrame, raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    except AgentError as exc:
        if exc.code != "INVALID_JSON":
            raise
        hint = 'Messages must be JSON objects like {"action":"watch","path":"/workspace"}'
        raise bad_request(hint, code="INVALID_JSON") from None


# --- answers ----------------------------------------------------------------------------------


class FileResponse(TypedDict):
    """The contract's FileResponse: what a write, upload, remove or mkdir did."""

    success: bool
    path: str
    message: str
    timestamp: str
    size: NotRequired[int]


def file_response(path: str, size: int | None, message: str) -> FileResponse:
    body: FileResponse = {"success": True, "path": path, "message": message, "timestamp": utc_now_iso()}
    if size is not None:
        body["size"] = size
    return body


class FileContent(TypedDict):
    """GET /files/read: the content as text (UTF-8, undecodable bytes replaced) or base64."""

    content: str
    path: str
    size: int
    encoding: str


class FileInfo(TypedDict):
    """One entry of a listing; a symlink is described by what it points to when that exists."""

    name: str
    path: str
    size: int
    is_directory: bool
    is_dir: bool
    is_file: bool
    is_symlink: bool
    type: str
    permissions: str
    mode: str
    modified_time: str | None
    modified: str | None


class FileList(TypedDict):
    """GET /files/list: the first max_list_entries entries by name; `truncated` when there were more."""

    files: list[FileInfo]
    path: str
    count: int
    truncated: bool
    total: NotRequired[int]
    message: NotRequired[str]


class FileExists(TypedDict):
    """GET /files/exists: answered 200 whether or not the path exists."""

    exists: bool
    path: str
    is_file: bool
    is_directory: bool


class FileChange(TypedDict):
    """A /files/watch frame from the server: one change under a watched path."""

    type: str
    event: str
    path: str
    is_directory: bool
    timestamp: str
    old_path: NotRequired[str]
    new_path: NotRequired[str]
    dest_path: NotRequired[str]
