"""Webhooks: a finished /execute/async job's result, POSTed to its callback URL, signed, retried."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import time

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

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

    def request(self, job_id: str, body: str, timeout: float) -> HTTPRequest:
        """The POST of one attempt (counted already), signed afresh when there is a secret."""
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
        )

    async def deliver(self, job_id: str, body: str, settings: Settings) -> None:
        """POST `body` until a 2xx, retrying failures with exponential backoff a bounded number of times."""
        client = AsyncHTTPClient()
        delay = settings.webhook_backoff
        for attempt in range(1 + max(settings.webhook_retries, 0)):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
            self.status = "delivering"
            self.attempts += 1
            try:
                response = await client.fetch(self.request(job_id, body, settings.webhook_timeout), raise_error=False)
            except Exception as exc:  # noqa: BLE001  (any failure of the POST is a failed attempt)
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
