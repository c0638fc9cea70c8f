"""Warm kernels, ready per language, refilled in the background.

Taking a kernel never waits on a start when one is ready. When none is, a take waits for a kernel
the refill is already starting rather than start one beside it: on a loaded machine two starts at
once each take about twice as long (a forked kernel is ready in tens of milliseconds, a launched
one is at least part way there). Start failures are recorded and shown in the pool's state (and
/health) rather than swallowed; refills back off after a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from .kernel import Kernel

log = logging.getLogger("kernelagent.pool")

StartKernel = Callable[[str], Awaitable[Kernel]]


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
        self.refill_task: asyncio.Task | None = None
        self.waiting: deque[asyncio.Future[Kernel]] = deque()  # takes promised the next kernel started

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

    def __init__(self, start_kernel: StartKernel, sizes: dict[str, int], max_parallel_starts: int = 2):
        self._start_kernel = start_kernel
        self._pools = {lang: LanguagePool(lang, size) for lang, size in sizes.items()}
        self._starts = asyncio.Semaphore(max_parallel_starts)
        self._closed = False

    def fill(self) -> None:
        for lang in self._pools:
            self._refill(lang)

    async def take(self, language: str) -> Kernel:
        pool = self._pools.get(language)
        while pool and pool.ready:
            kernel = pool.ready.popleft()
            self._refill(language)
            if await kernel.is_alive():
                return kernel
            asyncio.create_task(kernel.shutdown())
        if pool:
            self._refill(language)
            if pool.starting > len(pool.waiting):  # a kernel is on its way that no one else awaits
                waiter: asyncio.Future[Kernel] = asyncio.get_running_loop().create_future()
                pool.waiting.append(waiter)
                try:
                    return await waiter
                except RefillFailed:
                    pass  # start one of its own below
        return await self._start(language)  # cold start: nothing warm was ready

    async def _start(self, language: str) -> Kernel:
        async with self._starts:
            return await self._start_kernel(language)

    def _refill(self, language: str) -> None:
        pool = self._pools[language]
        if self._closed or pool.size <= 0 or (pool.refill_task and not pool.refill_task.done()):
            return
        pool.refill_task = asyncio.create_task(self._refill_loop(pool))

    async def _refill_loop(self, pool: LanguagePool) -> None:
        backoff = 1.0
        while not self._closed and len(pool.ready) < pool.size:
            pool.starting += 1
            try:
                kernel = await self._start(pool.language)
            except Exception as exc:  # recorded in the pool state, retried
                pool.failures += 1
                pool.last_error = f"{type(exc).__name__}: {exc}"
                if pool.waiting:  # the take waiting for this start makes its own
                    _fail(pool.waiting.popleft())
                log.error("pool %s: kernel start failed: %s", pool.language, pool.last_error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            finally:
                pool.starting -= 1
            if self._closed:
                await kernel.shutdown()
                return
            pool.started += 1
            pool.last_error = None
            if not pool.hand_over(kernel):
                pool.ready.append(kernel)
            backoff = 1.0

    def state(self) -> dict:
        return {lang: pool.state() for lang, pool in self._pools.items()}

    async def close(self) -> None:
        self._closed = True
        tasks = [p.refill_task for p in self._pools.values() if p.refill_task]
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
