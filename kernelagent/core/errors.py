"""The one error type of the agent, rendered by the handler layer into the contract's envelope."""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    """An error with a contract code and an HTTP status; raised by services and handlers alike."""

    def __init__(self, code: str, status: int, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = details or {}


def bad_request(message: str, code: str = "INVALID_REQUEST", **details: Any) -> AgentError:
    return AgentError(code, 400, message, details)


def missing(name: str) -> AgentError:
    return AgentError("MISSING_PARAMETER", 400, f"Missing required parameter: {name}", {"parameter": name})


def not_found(code: str, message: str, **details: Any) -> AgentError:
    return AgentError(code, 404, message, details)


def rate_limited(message: str, limit: int) -> AgentError:
    """429 in the envelope: a bounded resource is full; the caller may retry later."""
    return AgentError("RATE_LIMIT_EXCEEDED", 429, message, {"limit": limit})
