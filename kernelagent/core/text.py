"""Bounded text: a buffer that keeps at most a number of bytes and says, in a marker, that it cut."""

from __future__ import annotations

# pydantic reads TypedDicts from typing_extensions on Python < 3.12
from typing_extensions import TypedDict

TRUNCATION_MARKER = "\n[... output truncated by kernelagent: limit of {limit} bytes reached ...]\n"


class StreamLimits(TypedDict):
    stdout_bytes: int
    stderr_bytes: int


class StreamTruncation(TypedDict):
    """Which stream was cut at its cap (answers carry it only when one was)."""

    stdout: bool
    stderr: bool
    limits: StreamLimits


def truncation(stdout: BoundedText, stderr: BoundedText) -> StreamTruncation | None:
    """Which of two streams was cut, and their caps; None when neither was."""
    if not (stdout.truncated or stderr.truncated):
        return None
    return {
        "stdout": stdout.truncated,
        "stderr": stderr.truncated,
        "limits": {"stdout_bytes": stdout.limit, "stderr_bytes": stderr.limit},
    }


class BoundedText:
    """A text buffer that keeps at most `limit` bytes and counts what it dropped."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def add(self, text: str) -> str:
        """Append; returns the part actually kept (for streaming listeners)."""
        if self.dropped:
            self.dropped += len(text.encode("utf-8", "replace"))
            return ""
        data = text.encode("utf-8", "replace")
        room = self.limit - self.size
        if len(data) <= room:
            self.parts.append(text)
            self.size += len(data)
            return text
        kept = data[:room].decode("utf-8", "ignore")
        self.parts.append(kept)
        self.size = self.limit
        self.dropped = len(data) - len(kept.encode("utf-8"))
        return kept

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    def text(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += TRUNCATION_MARKER.format(limit=self.limit)
        return out
