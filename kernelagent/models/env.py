"""Requests and answers of /env: the global environment variables."""

from __future__ import annotations

# pydantic reads TypedDicts from typing_extensions on Python < 3.12
from typing import Any, NotRequired

from typing_extensions import TypedDict

from ..core.errors import missing
from .base import EnvName, EnvValue, EnvVars, RequestModel


class EnvReplace(RequestModel):
    """PUT /env: the variables that replace all others (three spellings; `env_vars` first)."""

    env_vars: EnvVars | None = None
    env: EnvVars | None = None
    variables: EnvVars | None = None
    merge: bool | None = None  # accepted and ignored: PUT replaces, as the contract says

    def chosen(self) -> dict[str, str]:
        return _first(self.env_vars, self.env, self.variables)


class EnvPatch(RequestModel):
    """PATCH /env: variables to set; a null value removes that variable (JSON merge-patch)."""

    env_vars: dict[EnvName, EnvValue | None] | None = None
    env: dict[EnvName, EnvValue | None] | None = None
    variables: dict[EnvName, EnvValue | None] | None = None

    def chosen(self) -> dict[str, str | None]:
        return _first(self.env_vars, self.env, self.variables)


def _first(*candidates: Any) -> Any:
    for value in candidates:
        if value is not None:
            return value
    raise missing("env_vars")


class EnvAnswer(TypedDict):
    """The variables after a call, and what the call did."""

    env_vars: dict[str, str]
    count: int
    timestamp: str
    cleared: NotRequired[int]
    key: NotRequired[str]
    deleted: NotRequired[bool]


class EnvKeyAnswer(TypedDict):
    key: str
    value: str | None
    exists: bool
    timestamp: str
