"""The execution cache: answers kept per idempotency key, so a retried request does not run twice.

A request that carries a key (the `Idempotency-Key` header or an `idempotency_key` body field) runs
once; the same key again gets the first answer back, whether the first run has finished or is still
running (the retry joins the in-flight run). Only keyed requests are cached: kernels keep state, so
two unkeyed runs of the same code are two different requests.

- An answer is kept only once its run returned one; a run that raised (a bad request, a kernel that
  could not start) is forgotten, so a retry runs afresh. Those who joined it get the same error.
- The same key with a different request body is refused rather than answered with the wrong result.
- Bounded in entries, in bytes (the JSON size of the kept answers) and in age; the oldest finished
  entries go first. Runs in flight are never evicted.
- A run is shielded from the request that started it: a client that drops its connection does not
  cancel the run, so its retry finds the answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .core.clock import iso_from_epoch, utc_now_iso
from .core.errors import AgentError, bad_request
from .models.system import CacheStats
from .settings import Settings

MAX_KEY_LENGTH = 255
KEY_HEADER = "Idempotency-Key"
KEY_FIELD = "idempotency_key"


def idempotency_key(headers: Mapping[str, str], body_key: str | None) -> str | None:
    """The request's key, from the header or else the body field; None when it has none."""
    key = headers.get(KEY_HEADER)
    if key is None:
        key = body_key
    if key is None or key == "":
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise bad_request(f"Idempotency key must be a string of at most {MAX_KEY_LENGTH} characters")
    return key


def fingerprint(request: dict) -> str:
    """A digest of what was asked (the endpoint and the parsed body, less the key itself)."""
    canonical = json.dumps(request, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Entry:
    key: str
    fingerprint: str
    future: asyncio.Future
    created: float = field(default_factory=time.time)
    finished: float | None = None
    size: int = 0
    hits: int = 0

    def info(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "state": "done" if self.finished is not None else "running",
            "created_at": iso_from_epoch(self.created),
            "finished_at": iso_from_epoch(self.finished),
            "bytes": self.size,
            "hits": self.hits,
        }


class ExecutionCache:
    """Answers kept per idempotency key, bounded in entries, bytes and age (see the module doc)."""

    def __init__(self, settings: Settings):
        self.max_entries = settings.cache_max_entries
        self.max_bytes = settings.cache_max_bytes
        self.ttl = settings.cache_ttl
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._runs: set[asyncio.Task] = set()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    async def run(self, key: str | None, request: dict, factory: Callable[[], Awaitable[dict]]) -> tuple[dict, bool]:
        """The answer for this request and whether it was replayed from the cache."""
        if key is None:
            return await factory(), False
        self._expire()
        digest = fingerprint(request)
        entry = self._entries.get(key)
        if entry is not None:
            if entry.fingerprint != digest:
                raise AgentError(
                    "IDEMPOTENCY_KEY_REUSED",
                    422,
                    "This idempotency key was already used with a different request",
                    {"idempotency_key": key},
                )
            self.hits += 1
            entry.hits += 1
            return await asyncio.shield(entry.future), True
        self.misses += 1
        task = asyncio.ensure_future(factory())
        entry = self._entries[key] = Entry(key, digest, task)
        self._runs.add(task)
        task.add_done_callback(lambda t: self._finished(entry, t))
        return await asyncio.shield(task), False

    def _finished(self, entry: Entry, task: asyncio.Task) -> None:
        self._runs.discard(task)
        if self._entries.get(entry.key) is not entry:
            return  # cleared while it ran
        if task.cancelled() or task.exception() is not None:
            del self._entries[entry.key]
            return
        entry.finished = time.time()
        entry.size = len(json.dumps(task.result(), default=str))
        if entry.size > self.max_bytes:
            del self._entries[entry.key]
            return
        self.bytes += entry.size
        self._expire()

    def _expire(self) -> None:
        """Drop finished entries past their age, then the oldest until within the bounds."""
        cutoff = time.time() - self.ttl
        for entry in [e for e in self._entries.values() if e.finished is not None and e.finished < cutoff]:
            self._drop(entry)
        if len(self._entries) <= self.max_entries and self.bytes <= self.max_bytes:
            return
        for entry in [e for e in self._entries.values() if e.finished is not None]:
            if len(self._entries) <= self.max_entries and self.bytes <= self.max_bytes:
                break
            self._drop(entry)
            self.evictions += 1

    def _drop(self, entry: Entry) -> None:
        del self._entries[entry.key]
        if entry.finished is not None:
            self.bytes -= entry.size

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> int:
        """Forget every entry; runs in flight finish for those waiting on them but are not kept."""
        count = len(self._entries)
        self._entries.clear()
        self.bytes = 0
        return count

    def stats(self) -> CacheStats:
        self._expire()
        size = len(self._entries)
        lookups = self.hits + self.misses
        return {
            "size": size,
            "count": size,
            "max_size": self.max_entries,
            "in_flight": sum(1 for e in self._entries.values() if e.finished is None),
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / lookups if lookups else 0.0,
            "evictions": self.evictions,
            "ttl": self.ttl,
            "cache": {"size": size, "max_size": self.max_entries, "total_hits": self.hits, "ttl": self.ttl},
            "timestamp": utc_now_iso(),
        }

    def entries(self) -> list[dict[str, Any]]:
        self._expire()
        return [e.info() for e in self._entries.values()]

    async def stop(self) -> None:
        for task in list(self._runs):
            task.cancel()
        await asyncio.gather(*self._runs, return_exceptions=True)
