"""Arguments of the MCP tools (kernelagent/mcp/), derived from the HTTP API's request models.

A tool takes the fields a model needs, not the wire's aliases or idempotency keys: `subset` makes
a model of some fields of a request model, with their types, validators and descriptions as they
are, so a tool's input schema and its validation cannot drift from the route's. Only what the
HTTP API takes in its path (a context's or a job's id) is declared here.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, Field, create_model

from .base import RequestModel
from .commands import CommandRequest
from .execute import ExecuteRequest
from .files import ListQuery, PathQuery, WriteRequest
from .jobs import BackgroundExecuteRequest

R = TypeVar("R", bound=BaseModel)


def subset(model: type[BaseModel], name: str, fields: tuple[str, ...], doc: str) -> type[RequestModel]:
    """A strict model of `fields` of `model`, each as declared there (type, validators, description)."""
    picked: dict[str, Any] = {n: (model.model_fields[n].annotation, model.model_fields[n]) for n in fields}
    return create_model(name, __base__=RequestModel, __doc__=doc, __module__=__name__, **picked)


def widen(args: BaseModel, model: type[R]) -> R:
    """The full request `model` from a subset's parsed values (already validated by the same fields)."""
    return model.model_construct(**{name: getattr(args, name) for name in args.model_fields_set})


RunCodeArgs = subset(
    ExecuteRequest,
    "RunCodeArgs",
    ("code", "language", "context_id", "timeout", "env", "workdir"),
    "run_code: code in a context, like a notebook cell.",
)
RunCommandArgs = subset(
    CommandRequest,
    "RunCommandArgs",
    ("command", "args", "timeout", "workdir", "env"),
    "run_command: a program with arguments, or a shell string.",
)
StartCodeArgs = subset(
    BackgroundExecuteRequest,
    "StartCodeArgs",
    ("code", "language", "timeout", "env", "workdir", "name"),
    "job_start_code: code run in the background, in a kernel of its own.",
)
StartCommandArgs = subset(
    CommandRequest,
    "StartCommandArgs",
    ("command", "args", "timeout", "workdir", "env", "name"),
    "job_start_command: a command run in the background.",
)
FileArgs = subset(PathQuery, "FileArgs", ("path",), "A file by its absolute path.")
ListArgs = subset(ListQuery, "ListArgs", ("path",), "A directory; default the workspace.")
WriteArgs = subset(
    WriteRequest,
    "WriteArgs",
    ("path", "content", "encoding", "overwrite"),
    "file_write: a whole file, as text or base64.",
)


class NoArgs(RequestModel):
    """A tool that takes no arguments."""


class ContextRef(RequestModel):
    """A context by its id (as create_context or list_contexts give it)."""

    context_id: str = Field(description="the context's id, e.g. default-python or one made by context_create")


class JobRef(RequestModel):
    """A background job by its id (as job_start_code or job_start_command give it)."""

    process_id: str = Field(description="the job's process_id")
