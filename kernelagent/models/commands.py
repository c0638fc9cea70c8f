"""Requests and answers of shell commands: /commands/run and /commands/background."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# pydantic reads TypedDicts from typing_extensions on Python < 3.12
from typing_extensions import TypedDict

from ..core.text import StreamTruncation
from .base import EnvVars, IdempotencyField, OsText, Timeout, WorkdirFields


def _present(value: str) -> str:
    """An empty string counts as absent: the envelope says MISSING_PARAMETER, as for no value."""
    if not value:
        raise PydanticCustomError("missing", "Field required")
    return value


# A required text field where "" is as good as missing (`command`, `callback_url`).
RequiredText = Annotated[OsText, AfterValidator(_present)]


class CommandRequest(WorkdirFields, IdempotencyField):
    """A command: `command` + `args` runs that program with those arguments (no shell); `command`
    alone is a shell string run by `/bin/sh -c`."""

    command: RequiredText = Field(description="the program (with args) or a /bin/sh -c string (without)")
    args: list[OsText] | None = Field(None, description="arguments; when present, no shell is involved")
    timeout: Timeout | None = Field(None, description="seconds before the whole process tree is ended")
    env: EnvVars | None = Field(None, description="variables for this command only, over the global ones")
    name: str | None = Field(None, description="a label for a background command's job record")


class ErrorInfo(TypedDict):
    """Why a run did not end normally."""

    code: str
    message: str


class CommandResult(TypedDict):
    """The /commands/run answer: always 200, whatever the command's exit code."""

    stdout: str
    stderr: str
    exit_code: int | None
    success: bool
    execution_time: float
    command: str
    pid: int | None
    timed_out: bool
    killed: bool
    truncated: bool
    truncation: NotRequired[StreamTruncation]
    timestamp: str
    error: NotRequired[ErrorInfo]
