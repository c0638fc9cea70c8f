"""The global environment store: variables set through /env that every later execution and command sees.

Precedence when a process or kernel is given its environment: request > global (this store) > the
agent's own environment. The agent's own secrets (KERNELAGENT_*) never reach user code.
"""

from __future__ import annotations

import os


def agent_base_env() -> dict[str, str]:
    """The agent's own environment, less its settings (which may hold the JWT secret)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KERNELAGENT_")}


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
