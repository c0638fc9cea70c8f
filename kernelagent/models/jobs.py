"""Requests and answers of jobs: background and webhook executions, the registry, the kill shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NotRequired
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field

# pydantic reads TypedDicts from typing_extensions on Python < 3.12
from typing_extensions import TypedDict

from ..core.errors import missing
from ..core.text import StreamTruncation
from .base import QueryModel, RequestModel
from .commands import RequiredText
from .execute import ExecuteRequest


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    return value


def _header_name(value: str) -> str:
    if not value or any(c in value for c in "\r\n:"):
        raise ValueError("a header name is non-empty, without CR, LF or ':'")
    return value


def _header_value(value: str) -> str:
    if any(c in value for c in "\r\n"):
        raise ValueError("a header value has no CR or LF")
    return value


HttpUrl = Annotated[RequiredText, AfterValidator(_http_url)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, AfterValidator(_header_value)]


class BackgroundExecuteRequest(ExecuteRequest):
    """POST /execute/background: code run in a kernel of its own; `context_id` is not used."""

    name: str | None = Field(None, description="a label for the job record")


class AsyncExecuteRequest(BackgroundExecuteRequest):
    """POST /execute/async: like a background execution; the result is POSTed to `callback_url`."""

    callback_url: HttpUrl = Field(description="where the result is POSTed (http or https)")
    callback_headers: dict[HeaderName, HeaderValue] | None = Field(None, description="extra headers of the POST")
    callback_signature_secret: str | None = Field(
        None, description="signs the POST: X-HOPX-Signature = sha256=HMAC(secret, timestamp + body)"
    )


def _output_flag(value: Any) -> Any:
    """`?output=`: only 0, false and no (any case) leave the output out; anything else keeps it."""
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no")
    return value


class ProcessesQuery(QueryModel):
    """GET /execute/processes: `?output=false` leaves out stdout and stderr."""

    output: Annotated[bool, BeforeValidator(_output_flag)] = Field(True, description="include stdout and stderr")


class KillQuery(QueryModel):
    """DELETE /execute/kill?process_id=... (or ?execution_id=...)."""

    process_id: str | None = None
    execution_id: str | None = None


class KillBody(RequestModel):
    """DELETE /execute/kill with {"process_id": ...} (or {"execution_id": ...})."""

    process_id: str | None = None
    execution_id: str | None = None


def kill_target(path_id: str | None, query: KillQuery, body: KillBody) -> str:
    """The job a kill names: the path's id, else the query's, else the body's; none is a 400."""
    for candidate in (path_id, query.process_id, query.execution_id, body.process_id, body.execution_id):
        if candidate:
            return candidate
    raise missing("process_id")


class WebhookInfo(TypedDict):
    """Where a webhook execution's result goes, and how its delivery went."""

    url: str
    status: str  # pending -> delivering -> delivered | failed
    attempts: int
    signed: bool
    last_status_code: int | None
    last_error: str | None
    delivered_at: str | None


class JobRecord(TypedDict):
    """One job of the registry, in both of the contract's naming sets."""

    process_id: str
    execution_id: str
    id: str
    name: str | None
    type: str  # execution | command
    mode: str  # background | async
    status: str  # queued | running | completed | failed | killed | timeout
    language: str | None
    command: str | None
    pid: int | None
    start_time: str | None
    started_at: str | None
    created_at: str | None
    end_time: str | None
    completed_at: str | None
    exit_code: int | None
    success: bool | None
    duration: float | None
    execution_time: float | None
    stdout_file: str
    stderr_file: str
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool
    truncation: NotRequired[StreamTruncation]
    rich_output_count: int
    context_id: NotRequired[str]
    error: NotRequired[Mapping[str, Any]]
    callback_url: NotRequired[str]
    webhook: NotRequired[WebhookInfo]
    stdout: NotRequired[str]
    stderr: NotRequired[str]
    result: NotRequired[Any]
    rich_outputs: NotRequired[list[Any]]
    png: NotRequired[str]
    html: NotRequired[str]
    svg: NotRequired[str]
    markdown: NotRequired[str]
    json: NotRequired[Any]


class JobList(TypedDict):
    """GET /execute/processes."""

    processes: list[JobRecord]
    count: int
    timestamp: str


class BackgroundStarted(TypedDict):
    """The answer of /execute/background and /commands/background: the job's id, at once."""

    process_id: str
    execution_id: str
    status: str
    name: str | None
    pid: int | None
    start_time: str | None
    message: str
    timestamp: str
    language: NotRequired[str | None]
    command: NotRequired[str | None]


class AsyncQueued(TypedDict):
    """The answer of /execute/async: queued; the result will be POSTed."""

    execution_id: str
    process_id: str
    status: str
    callback_url: str
    message: str
    timestamp: str


class KillAnswer(TypedDict):
    """Every kill shape's answer: JSON, also when the job had already finished."""

    process_id: str
    execution_id: str
    status: str
    success: bool
    message: str
    timestamp: str
