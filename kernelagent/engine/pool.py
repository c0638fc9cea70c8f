"""Warm kernels, ready per language, refilled in the background.

Taking a kernel never waits on a start when one is ready. When none is, a take waits for a kernel
the refill is already starting rather than start one of its own, and the refill starts one more
for the pool behind it: creating contexts back to back then overlaps their starts (two at most,
`max_parallel_starts`) instead of doubling them up. A forked kernel is ready in tens of
milliseconds, a launched one is at least part way there. Start failures are recorded and shown in
the pool's state (and /health) rather than swallowed; refills back off after a failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from .kernel import Kernel

log = logging.getLogger("kernelagent.pool")

StartKernel = Callable[[str], Awaitable[Kernel]]
RetireKernel = Callable[[Kernel], None]
MAX_BACKOFF = 60.0


class RefillFailed(Exception):
    """The start a take was waiting for failed (or the pool closed): it starts a kernel itself."""


def _fail(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(RefillFailed())


class LanguagePool:
    """The ready kernels of one language, and how their starts have gone."""

    def __init__(self, language: str, size: int):
        self.language = language
        self.size = size
        self.ready: deque[Kernel] = deque()
        self.starting = 0
        self.started = 0
        self.failures = 0
        self.last_error: str | None = None
        self.tasks: set[asyncio.Task] = set()  # refill starts under way
        self.waiting: deque[asyncio.Future[Kernel]] = deque()  # takes promised the next kernel started
        self.backoff = 0.0  # after a failed start: seconds before the next refill, doubled per failure
        self.resume_at = 0.0  # monotonic time before which no refill starts

    def wanted(self) -> int:
        """Starts to add now: what the pool and the takes waiting on it lack beyond those under way."""
        if time.monotonic() < self.resume_at:
            return 0
        return self.size + len(self.waiting) - len(self.ready) - self.starting

    def hand_over(self, kernel: Kernel) -> bool:
        """Give a kernel just started to the first take still waiting; False if none is."""
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(kernel)
                return True
        return False

    def state(self) -> dict:
        return {
            "ready": len(self.ready),
            "target": self.size,
            "starting": self.starting,
            "started": self.started,
            "failures": self.failures,
            "last_error": self.last_error,
        }


class KernelPool:
    """Ready kernels per language, refilled in the background; `take` falls back to a cold start."""

    def __init__(
        self, start_kernel: StartKernel, retire: RetireKernel, sizes: dict[str, int], max_parallel_starts: int = 2
    ):
        self._start_kernel = start_kernel
        self._retire = retire  # how a kernel found dead is ended: its whole tree, tracked until done
        self._pools = {lang: LanguagePool(lang, size) for lang, size in sizes.items()}
        self._starts = asyncio.Semaphore(max_parallel_starts)
        self._closed = False

    def fill(self) -> None:
        for pool in self._pools.values():
            self._refill(pool)

    async def take(self, language: str) -> Kernel:
        pool = self._pools.get(language)
        while pool and pool.ready:
            kernel = pool.ready.popleft()
            self._refill(pool)
            if await kernel.is_alive():
                return kernel
            self._retire(kernel)
        if pool and pool.size > 0:
            self._refill(pool)
            if pool.starting > len(pool.waiting):  # a kernel is on its way that no one else awaits
                waiter: asyncio.Future[Kernel] = asyncio.get_running_loop().create_future()
                pool.waiting.append(waiter)
                self._refill(pool)  # and one more for the pool behind it
                try:
                    return await waiter
                except RefillFailed:
                    pass  # start one of its own below
        return await self._start(language)  # cold start: nothing warm was ready

    async def _start(self, language: str) -> Kernel:
        async with self._starts:
            return await self._start_kernel(language)

    def _refill(self, pool: LanguagePool) -> None:
        if self._closed or pool.size <= 0:
            return
        for _ in range(pool.wanted()):
            pool.starting += 1
            task = asyncio.create_task(self._refill_one(pool))
            pool.tasks.add(task)
            task.add_done_callback(pool.tasks.discard)

    async def _refill_one(self, pool: LanguagePool) -> None:
        try:
            kernel = await self._start(pool.language)
        except Exception as exc:  # recorded in the pool state, retried after a backoff
            pool.failures += 1
            pool.last_error = f"{type(exc).__name__}: {exc}"
            log.error("pool %s: kernel start failed: %s", pool.language, pool.last_error)
            if pool.waiting:  # the take waiting for this start makes its own
                _fail(pool.waiting.popleft())
            pool.backoff = min(pool.backoff * 2 or 1.0, MAX_BACKOFF)
            pool.resume_at = time.monotonic() + pool.backoff
            pool.starting -= 1
            await asyncio.sleep(pool.backoff)
            self._refill(pool)
            return
        pool.starting -= 1
        if self._closed:
            await kernel.shutdown()
            return
        pool.started += 1
        pool.last_error = None
        pool.backoff = 0.0
        if not pool.hand_over(kernel):
            pool.ready.append(kernel)
        self._refill(pool)

    def state(self) -> dict:
        return {lang: pool.state() for lang, pool in self._pools.items()}

    async def close(self) -> None:
        self._closed = True
        tasks = [t for p in self._pools.values() for t in p.tasks]
        for p in self._pools.values():
            while p.waiting:
                _fail(p.waiting.popleft())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        kernels = [k for p in self._pools.values() for k in p.ready]
        for p in self._pools.values():
            p.ready.clear()
        await asyncio.gather(*(k.shutdown() for k in kernels), return_exceptions=True)
