"""The global environment store: variables set through /env that every later execution and command sees.

Precedence when a process or kernel is given its environment: request > global (this store) > the
agent's own environment. The agent's own secrets (KERNELAGENT_*) never reach user code.
"""

from __future__ import annotations

import os

from .core.errors import bad_request


def agent_base_env() -> dict[str, str]:
    """The agent's own environment, less its settings (which may hold the JWT secret)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KERNELAGENT_")}


def validate_env(env: object, what: str = "env") -> dict[str, str]:
    """A mapping of names to strings, as the contract requires; anything else is a 400."""
    if env is None:
        return {}
    if not isinstance(env, dict):
        raise bad_request(f"'{what}' must be an object mapping names to strings")
    out: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise bad_request(f"Invalid environment variable name: {key!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or "\0" in value:
            raise bad_request(f"Environment variable {key!r} must be a string without NUL bytes")
        out[key] = value
    return out


class EnvStore:
    """Global variables, held in memory; read on every execution, so changes apply without restarts."""

    def __init__(self) -> None:
        self._vars: dict[str, str] = {}

    def all(self) -> dict[str, str]:
        return dict(self._vars)

    def replace(self, env: dict[str, str]) -> dict[str, str]:
        self._vars = dict(env)
        return self.all()

    def merge(self, env: dict[str, str]) -> dict[str, str]:
        self._vars.update(env)
        return self.all()

    def clear(self) -> int:
        count = len(self._vars)
        self._vars = {}
        return count

    def patch(self, changes: dict[str, str | None]) -> dict[str, str]:
        """JSON merge-patch: set each variable given a value, remove each given null."""
        for key, value in changes.items():
            if value is None:
                self._vars.pop(key, None)
            else:
                self._vars[key] = value
        return self.all()

    def delete(self, key: str) -> bool:
        return self._vars.pop(key, None) is not None

    def overlay(self, request_env: dict[str, str] | None = None) -> dict[str, str]:
        """Global variables with the request's on top: what is layered over the agent's environment."""
        merged = dict(self._vars)
        if request_env:
            merged.update(request_env)
        return merged

    def process_env(self, request_env: dict[str, str] | None = None) -> dict[str, str]:
        """The full environment for a new process: agent env < global < request."""
        env = agent_base_env()
        env.update(self.overlay(request_env))
        return env
