"""Webhooks: a finished /execute/async job's result, POSTed to its callback URL, signed, retried.

Where a webhook may go is decided after DNS resolution, by the resolver the HTTP client connects
through: loopback, link-local (cloud metadata), private, multicast, reserved and unspecified
addresses are refused unless `webhook_allow_private` is set, so neither a name that resolves
inward nor an encoded address (`http://2130706433/`) reaches the sandbox or its network, and the
address checked is the address connected to. What the receiver answers is never kept: its body
is discarded as it arrives and capped (`webhook_max_response_bytes`), only the status is recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import socket
import time
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.netutil import DefaultLoopResolver, Resolver
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from .. import __version__
from ..core.clock import iso_from_epoch
from ..models.jobs import WebhookInfo
from ..settings import Settings

log = logging.getLogger("kernelagent.jobs")

MAX_BACKOFF = 60.0


def sign(secret: str, timestamp: str, body: str) -> str:
    """The X-HOPX-Signature value: HMAC-SHA256 over f"{timestamp}{body}"."""
    digest = hmac.new(secret.encode(), f"{timestamp}{body}".encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class DestinationRefused(OSError):
    """A callback host that resolves only to addresses webhooks may not reach."""


def address_allowed(address: str) -> bool:
    """True for a public unicast address; False for loopback, link-local, private, multicast,
    reserved or unspecified ones (an IPv4 address mapped into IPv6 is judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


class GuardedResolver(Resolver):
    """Resolves a callback host and keeps only the addresses webhooks may reach (all of them
    when private destinations are allowed); none left is a refused destination."""

    def initialize(self, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        self.inner = DefaultLoopResolver()

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        found = await self.inner.resolve(host, port, family)
        if self.allow_private:
            return found
        allowed = [(fam, addr) for fam, addr in found if address_allowed(addr[0])]
        if not allowed:
            raise DestinationRefused(f"destination not allowed: {host} resolves to a non-public address")
        return allowed


def retryable(status_code: int) -> bool:
    """Answers worth another attempt: the receiver was busy or failed, not refusing the request."""
    return status_code in (408, 425, 429) or status_code >= 500


@dataclasses.dataclass
class Webhook:
    """One job's callback: where it goes, with which headers and secret, and how delivery went."""

    url: str
    headers: dict[str, str]
    secret: str | None
    status: str = "pending"  # pending -> delivering -> delivered | failed
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: float | None = None

    def info(self) -> WebhookInfo:
        return {
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "signed": bool(self.secret),
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "delivered_at": iso_from_epoch(self.delivered_at),
        }

    def request(self, job_id: str, body: str, timeout: float, seen: list[int] | None = None) -> HTTPRequest:
        """The POST of one attempt (counted already), signed afresh when there is a secret; the
        answer's status code is appended to `seen` as soon as its status line arrives."""
        headers = {"Content-Type": "application/json", "User-Agent": f"kernelagent/{__version__}"}
        headers.update(self.headers)
        headers.update({"X-HOPX-Execution-ID": job_id, "X-HOPX-Delivery-Attempt": str(self.attempts)})
        if self.secret:
            timestamp = str(int(time.time()))
            headers["X-HOPX-Timestamp"] = timestamp
            headers["X-HOPX-Signature"] = sign(self.secret, timestamp, body)
        return HTTPRequest(
            self.url,
            method="POST",
            body=body,
            headers=headers,
            follow_redirects=False,
            connect_timeout=timeout,
            request_timeout=timeout,
            streaming_callback=_discard,  # the receiver's answer body is never kept
            header_callback=(lambda line: _status_line(line, seen)) if seen is not None else None,
        )

    async def deliver(self, job_id: str, body: str, settings: Settings) -> None:
        """POST `body` until a 2xx, retrying failures with exponential backoff a bounded number of times."""
        client = SimpleAsyncHTTPClient(
            force_instance=True,
            resolver=GuardedResolver(allow_private=settings.webhook_allow_private),
            max_header_size=settings.webhook_max_response_bytes,
            max_body_size=settings.webhook_max_response_bytes,
        )
        try:
            await self._attempts(client, job_id, body, settings)
        finally:
            client.close()

    async def _attempts(self, client: SimpleAsyncHTTPClient, job_id: str, body: str, settings: Settings) -> None:
        delay = settings.webhook_backoff
        for attempt in range(1 + max(settings.webhook_retries, 0)):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
            self.status = "delivering"
            self.attempts += 1
            seen: list[int] = []
            try:
                response = await client.fetch(
                    self.request(job_id, body, settings.webhook_timeout, seen), raise_error=False
                )
            except DestinationRefused as exc:  # refused before any connection: no retry helps
                self.last_status_code, self.last_error = None, str(exc)
                retry = False
            except Exception as exc:  # noqa: BLE001  (any failure of the POST is a failed attempt)
                if seen and 200 <= seen[0] < 300:  # accepted; only its answer was past the read cap
                    self.last_status_code, self.status, self.last_error = seen[0], "delivered", None
                    self.delivered_at = time.time()
                    return
                self.last_status_code, self.last_error = None, f"{type(exc).__name__}: {exc}"
                retry = True
            else:
                self.last_status_code = response.code
                if 200 <= response.code < 300:
                    self.status, self.last_error, self.delivered_at = "delivered", None, time.time()
                    return
                self.last_error = f"HTTP {response.code}"
                retry = retryable(response.code)
            if not retry:
                break
            self.status = "pending"
        self.status = "failed"
        log.warning(
            "webhook for %s to %s failed after %d attempts: %s", job_id, self.url, self.attempts, self.last_error
        )


def _discard(chunk: bytes) -> None:
    """Streaming callback that drops the receiver's answer as it arrives."""


def _status_line(line: str, seen: list[int]) -> None:
    """Header callback: note the status code of the answer's status line (`HTTP/1.1 200 OK`)."""
    if not seen and line.startswith("HTTP/"):
        parts = line.split()
        if len(parts) > 1 and parts[1].isdigit():
            seen.append(int(parts[1]))
