"""The JSON base handler: auth before work, the error envelope, X-Request-ID, JSON bodies."""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from tornado import web, websocket
from tornado.ioloop import IOLoop
from tornado.log import access_log

from ..core.clock import utc_now_iso
from ..core.errors import AgentError, bad_request
from ..idempotency import KEY_FIELD, idempotency_key
from ..models.base import M, parse_json, parse_object

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("kernelagent.api")

CLOSE_TOKEN_EXPIRED = 4001  # WebSocket application close code (4000-4999): the token expired


def error_frame(code: str, message: str, **extra: Any) -> dict:
    """The one error frame of every WebSocket: the envelope's fields, typed as a frame."""
    return {"type": "error", "error": message, "message": message, "code": code, "timestamp": utc_now_iso(), **extra}


_QUERY_TOKEN = re.compile(r"([?&]token=)[^&]*", re.IGNORECASE)


def redact(uri: str) -> str:
    """The URI with the value of any `token` query argument replaced (WebSockets may carry the
    bearer token there), so access logs never hold a credential."""
    return _QUERY_TOKEN.sub(r"\1[redacted]", uri)


def log_request(handler: web.RequestHandler) -> None:
    """The access log line Tornado writes (its `log_function` setting), with tokens redacted."""
    status = handler.get_status()
    method = access_log.info if status < 400 else access_log.warning if status < 500 else access_log.error
    request = handler.request
    method(
        "%d %s %s (%s) %.2fms",
        status,
        request.method,
        redact(request.uri or ""),
        request.remote_ip,
        1000.0 * request.request_time(),
    )


def error_body(code: str, message: str, request_id: str, path: str, details: dict | None = None) -> dict:
    return {
        "error": message,
        "message": message,
        "code": code,
        "request_id": request_id,
        "timestamp": utc_now_iso(),
        "path": path,
        "details": details or {},
    }


class ServiceMixin(web.RequestHandler):
    """Gives a handler the services container; auth and request ids shared by HTTP and WebSocket."""

    open_endpoint = False  # True only for /health
    auth_schemes: tuple[str, ...] = ("bearer",)  # the Authorization schemes accepted (lower case)

    def initialize(self, services: Services, route: str = "(unmatched)") -> None:
        self.services = services
        self.route = route  # the pattern matched, for metrics by endpoint
        self.claims: dict | None = None

    def start_request(self) -> None:
        incoming = self.request.headers.get("X-Request-ID", "")
        self.request_id = incoming if 0 < len(incoming) <= 128 else str(uuid.uuid4())
        self.set_header("X-Request-ID", self.request_id)

    def authenticate(self, allow_query_token: bool = False) -> None:
        if self.open_endpoint:
            return
        header = self.request.headers.get("Authorization")
        if not header and allow_query_token:
            token = self.get_query_argument("token", "")
            header = f"Bearer {token}" if token else None
        self.claims = self.services.auth.verify(header, self.auth_schemes)

    def parse_query(self, model: type[M]) -> M:
        """The query arguments as `model`, each taken exactly as sent (the last of repeats).

        Tornado's own getter strips whitespace and turns control characters into spaces, which
        would hide a NUL from the path policy and change names that end in spaces.
        """
        args: dict[str, str] = {}
        for name, values in self.request.query_arguments.items():
            try:
                args[name] = values[-1].decode("utf-8")
            except UnicodeDecodeError:
                raise bad_request(f"Query argument '{name}' is not valid UTF-8", field=name) from None
        return parse_object(model, args)


class BaseHandler(ServiceMixin, web.RequestHandler):
    """Every HTTP handler: auth in prepare(), typed input, JSON output, errors in the envelope."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")

    async def prepare(self) -> None:
        self.start_request()
        self.authenticate()

    def on_finish(self) -> None:
        self.services.metrics.record(self.request.method, self.route, self.get_status(), self.request.request_time())

    # --- input ---

    def parse_body(self, model: type[M], required: bool = True) -> M:
        """The JSON body as `model` (400 in the envelope, naming the field, when it is not)."""
        return parse_json(model, self.request.body, required)

    async def run_once(self, body: BaseModel, run: Any) -> Any:
        """Start work at most once per idempotency key (idempotency.py): a retry carrying the same
        key gets the first answer, marked with Idempotent-Replayed. Without a key, just run."""
        key = idempotency_key(self.request.headers, getattr(body, KEY_FIELD, None))
        request = {"endpoint": self.request.path, "body": body.model_dump(mode="json", exclude={KEY_FIELD})}
        result, replayed = await self.services.cache.run(key, request, run)
        if replayed:
            self.set_header("Idempotent-Replayed", "true")
        return result

    # --- output ---

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        if isinstance(data, BaseModel):
            self.finish(data.model_dump_json())
        else:
            self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, AgentError):
            code, message, details = exc.code, exc.message, exc.details
            self.set_status(exc.status)
        elif isinstance(exc, web.HTTPError):
            code = {404: "RESOURCE_NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "INVALID_REQUEST"}.get(
                status_code, "INVALID_REQUEST" if status_code < 500 else "INTERNAL_ERROR"
            )
            message, details = exc.log_message or self._reason, {}
        else:
            code, message, details = "INTERNAL_ERROR", "Internal error", {}
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if getattr(self, "body_unread", False):
            # refused before its body was read (a streamed body over a limit): Tornado closes the
            # connection after this answer, so say so, or a client may reuse it and see a reset
            self.set_header("Connection", "close")
        rid = getattr(self, "request_id", None) or str(uuid.uuid4())
        self.set_header("X-Request-ID", rid)
        self.finish(json.dumps(error_body(code, message, rid, self.request.path, details)))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, AgentError):
            if value.status >= 500:
                log.warning("%s %s -> %s %s", self.request.method, self.request.path, value.code, value.message)
            return
        if isinstance(value, web.HTTPError):
            return
        log.error(
            "Unhandled error on %s %s\n%s",
            self.request.method,
            self.request.path,
            "".join(traceback.format_exception(typ, value, tb)),
        )


class NotFoundHandler(BaseHandler):
    """Unknown paths: 404 in the envelope (after auth, so the route table is not probed freely)."""

    async def prepare(self) -> None:
        self.start_request()
        self.authenticate()
        raise AgentError("RESOURCE_NOT_FOUND", 404, f"No such endpoint: {self.request.method} {self.request.path}")


class AuthWebSocketHandler(ServiceMixin, websocket.WebSocketHandler):
    """A WebSocket whose token is checked before the upgrade; small frames go out at once."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        self.start_request()
        try:
            self.authenticate(allow_query_token=True)
            self.ready()
        except AgentError as exc:
            self.set_status(exc.status)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps(error_body(exc.code, exc.message, self.request_id, self.request.path, exc.details)))
            return
        await super().get(*args, **kwargs)

    pending_bytes = 0  # frames handed to Tornado and not yet written to the socket
    dropped_frames = 0  # droppable frames left out while too much was pending
    _expiry: object | None = None

    def ready(self) -> None:
        """Checks after auth and before the upgrade: raise AgentError to refuse in the envelope."""

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.set_nodelay(True)
        exp = (self.claims or {}).get("exp")
        if isinstance(exp, (int, float)):  # the session ends when its token would stop being accepted
            delay = exp + self.services.settings.jwt_leeway - time.time()
            self._expiry = IOLoop.current().call_later(max(delay, 0), self.token_expired)

    def token_expired(self) -> None:
        """The token expired (at exp plus the leeway): an error frame, then close with 4001."""
        self._expiry = None
        self.send_json(error_frame("INVALID_TOKEN", "Token has expired"))
        self.close(CLOSE_TOKEN_EXPIRED, "Token has expired")

    def on_close(self) -> None:
        if self._expiry is not None:
            IOLoop.current().remove_timeout(self._expiry)
            self._expiry = None

    def send_json(self, data: dict, droppable: bool = False) -> bool:
        """Send one JSON frame; False if the socket is already closed, or if the frame is
        `droppable` and more than `ws_buffer_bytes` wait for a client that does not read (the
        frame is then counted in `dropped_frames`, for the caller to report)."""
        text = json.dumps(data, default=str)
        limit = self.services.settings.ws_buffer_bytes
        if droppable and self.pending_bytes and self.pending_bytes + len(text) > limit:
            self.dropped_frames += 1
            return False
        try:
            written = self.write_message(text)
        except websocket.WebSocketClosedError:
            return False
        size = len(text)
        self.pending_bytes += size
        written.add_done_callback(lambda f: self._written(f, size))
        return True

    def _written(self, future: Any, size: int) -> None:
        self.pending_bytes -= size
        if not future.cancelled():
            future.exception()  # retrieved: a socket closed under a write is not an error here

    def check_origin(self, origin: str) -> bool:
        # Bearer tokens, not cookies, authenticate here, so cross-origin pages gain nothing.
        return True
