"""Requests and answers of code execution: /execute and its aliases, the /execute/stream frame, contexts."""

from __future__ import annotations

from typing import Any, NotRequired

from pydantic import Field

# pydantic reads TypedDicts from typing_extensions on Python < 3.12
from typing_extensions import TypedDict

from .base import EnvVars, IdempotencyField, RequestModel, Timeout, WorkdirFields
from .charts import Chart


class ExecuteRequest(WorkdirFields, IdempotencyField):
    """Run `code` in a context: the language's default one, or `context_id`'s."""

    code: str = Field(description="the code to run, as one cell")
    language: str | None = Field(None, description="python (default), javascript, bash, go, typescript, or an alias")
    context_id: str | None = Field(None, description="a context made by POST /contexts; default: the language's own")
    timeout: Timeout | None = Field(None, description="seconds before the kernel is interrupted")
    env: EnvVars | None = Field(None, description="variables for this run only, over the global ones")


class StreamFrame(RequestModel):
    """What every /execute/stream frame says first: its kind. An `execute` frame is an ExecuteRequest too."""

    type: str = Field("execute", description="execute (the default) or ping")


class ContextCreate(RequestModel):
    """POST /contexts: a context of its own, with a fresh kernel of `language`."""

    language: str | None = Field(None, description="python (default), javascript, bash, go, typescript, or an alias")


# --- answers ---


class ExecutionError(TypedDict):
    """Why a run did not succeed: the kernel's error, a timeout (EXECUTION_TIMEOUT) or a death (KERNEL_DIED)."""

    code: str
    message: str
    ename: str
    evalue: str
    traceback: list[str]
    state_preserved: NotRequired[bool]
    kernel_restarted: NotRequired[bool]


class RichOutput(TypedDict):
    """One display_data or execute_result, as a MIME bundle; `type` is its main MIME type."""

    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    output_type: str
    timestamp: str


class TruncationLimits(TypedDict):
    stdout_bytes: int
    stderr_bytes: int
    rich_bytes: int


class Truncation(TypedDict):
    """What was cut (kernels may trim at the source too, so not how much)."""

    stdout: bool
    stderr: bool
    rich_outputs_dropped: int
    result: NotRequired[bool]  # the last expression's value was cut at the stdout cap
    limits: TruncationLimits


class OutputFields(TypedDict):
    """The output part of an /execute answer; each top-level MIME field is its first rich output's."""

    stdout: str
    stderr: str
    rich_outputs: list[RichOutput]
    truncated: bool
    truncation: NotRequired[Truncation]
    result: NotRequired[str]  # text/plain of the cell's value
    png: NotRequired[str]
    html: NotRequired[str]
    svg: NotRequired[str]
    markdown: NotRequired[str]
    json: NotRequired[Any]
    chart: NotRequired[Chart]  # the first figure's structured chart (application/vnd.kernelagent.chart+json)


class ExecuteAnswer(OutputFields):
    """The answer of /execute: how the run ended, and what it printed and displayed."""

    success: bool
    exit_code: int
    execution_time: float
    language: str
    context_id: str
    execution_count: int | None
    timestamp: str
    error: NotRequired[ExecutionError]
    kernel_restarted: NotRequired[bool]  # the kernel had died while idle; this ran in a fresh one


class ContextInfo(TypedDict):
    """A context: its kernel, and whether it is running or has runs waiting."""

    context_id: str
    id: str
    language: str
    default: bool
    kernel_id: str
    pid: int | None
    kernel_mode: str  # "fork": forked from a warm template; "launch": started as its own process
    execution_state: str
    busy: bool
    queued: int
    executions: int
    created_at: str | None
    last_activity: str | None


class ContextList(TypedDict):
    contexts: list[ContextInfo]
    count: int


class ContextDeleted(TypedDict):
    context_id: str
    deleted: bool


class KernelSession(TypedDict):
    """A context seen as a Jupyter session of its kernel."""

    kernel_id: str
    context_id: str
    language: str
    execution_state: str
    connections: int
    last_activity: str | None


class SessionList(TypedDict):
    sessions: list[KernelSession]
    count: int
    timestamp: str
