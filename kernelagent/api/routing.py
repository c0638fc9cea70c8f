"""Routes and operations: each handler method says once what it takes and what it answers.

`@op(...)` on a handler method parses the query and body into their models before the method
runs, runs it at most once per idempotency key when asked, and renders what it returns as JSON.
The same declaration is what `openapi.py` turns into the API document, so a route cannot serve a
request shape that the document does not describe.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from .base import BaseHandler

METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Op:
    """One operation: a method on a route, with its request and response types."""

    summary: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    response: Any = None  # a pydantic model or TypedDict for the JSON answer; None: no JSON schema
    status: int = 200
    idempotent: bool = False  # runs at most once per Idempotency-Key
    media_type: str = "application/json"  # of the answer
    request_media_type: str | None = None  # a body that is not JSON (uploads): documented, parsed by the method
    description: str = ""


def op(summary: str, **spec: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a handler method as an operation; see `Op` for the fields."""
    operation = Op(summary, **spec)

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        async def handler(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
            if operation.query is not None:
                kwargs["query"] = self.parse_query(operation.query)
            body = None
            if operation.body is not None:
                body = kwargs["body"] = self.parse_body(operation.body, operation.body_required)

            async def call() -> Any:
                result = method(self, *args, **kwargs)
                return await result if inspect.isawaitable(result) else result

            if operation.idempotent and body is not None:
                result = await self.run_once(body, call)
            else:
                result = await call()
            if result is not None and not self._finished:
                self.write_json(result, operation.status)

        handler.__op__ = operation  # type: ignore[attr-defined]
        return handler

    return wrap


def operation_of(handler: type, method: str) -> Op | None:
    """The declared operation of `handler.method`, if the handler serves that method."""
    fn = handler.__dict__.get(method) or getattr(handler, method, None)
    return getattr(fn, "__op__", None)


@dataclass(frozen=True)
class Route:
    """A path (in the API document's template form, `/contexts/{context_id}`) and its handler.

    `websocket` is set for WebSocket routes: the text that describes their frames. `protocol` is
    set for a route that speaks another protocol over HTTP (MCP at /mcp): the text that describes
    it. Neither kind has JSON operations in the API document; both are described in its text.
    """

    path: str
    handler: type
    websocket: str = ""
    protocol: str = ""

    @property
    def pattern(self) -> str:
        """The Tornado pattern: each `{name}` matches one path segment, passed as a keyword."""
        return _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", self.path) + "$"

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)
