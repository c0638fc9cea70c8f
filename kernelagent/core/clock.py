"""Timestamps in the contract's form: timezone-aware ISO-8601 in UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def iso_from_epoch(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class Uptime:
    """When the agent started, and how long ago that was."""

    def __init__(self) -> None:
        self.started_at = time.time()

    def seconds(self) -> float:
        return time.time() - self.started_at
