"""One limiter for every "at most N at once" of the agent: past its limit, a 429 in the envelope."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import rate_limited


class Limiter:
    """Counts things held at once; `take()` past the limit raises RATE_LIMIT_EXCEEDED (429).

    Not a semaphore: nothing waits. A caller over the limit is refused at once, so a full agent
    answers quickly instead of queueing work it cannot bound.
    """

    def __init__(self, limit: int, what: str):
        self.limit = limit
        self.what = what
        self.used = 0

    def take(self) -> None:
        if self.used >= self.limit:
            raise rate_limited(f"Too many {self.what} at once (max {self.limit}); retry when one ends", self.limit)
        self.used += 1

    def give(self) -> None:
        self.used = max(0, self.used - 1)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Take a slot for the duration of a `with` block."""
        self.take()
        try:
            yield
        finally:
            self.give()

    @property
    def free(self) -> int:
        return max(0, self.limit - self.used)
