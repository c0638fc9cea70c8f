"""Requests of code execution: /execute and its aliases, and the /execute/stream frame."""

from __future__ import annotations

from pydantic import Field

from .base import EnvVars, IdempotencyField, Timeout, WorkdirFields


class ExecuteRequest(WorkdirFields, IdempotencyField):
    """Run `code` in a context: the language's default one, or `context_id`'s."""

    code: str = Field(description="the code to run, as one cell")
    language: str | None = Field(None, description="python (default), javascript, bash, go, typescript, or an alias")
    context_id: str | None = Field(None, description="a context made by POST /contexts; default: the language's own")
    timeout: Timeout | None = Field(None, description="seconds before the kernel is interrupted")
    env: EnvVars | None = Field(None, description="variables for this run only, over the global ones")
