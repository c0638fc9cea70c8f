"""Warm kernels, ready per language, refilled in the background.

Taking a kernel never waits on a start when one is ready. Start failures are recorded and shown in
the pool's state (and /health) rather than swallowed; refills back off after a failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from .kernel import Kernel

log = logging.getLogger("kernelagent.pool")

StartKernel = Callable[[str], Awaitable[Kernel]]
RetireKernel = Callable[[Kernel], None]


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
        for lang in self._pools:
            self._refill(lang)

    async def take(self, language: str) -> Kernel:
        pool = self._pools.get(language)
        while pool and pool.ready:
            kernel = pool.ready.popleft()
            self._refill(language)
            if await kernel.is_alive():
                return kernel
            self._retire(kernel)
        if pool:
            self._refill(language)
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
            pool.ready.append(kernel)
            backoff = 1.0

    def state(self) -> dict:
        return {lang: pool.state() for lang, pool in self._pools.items()}

    async def close(self) -> None:
        self._closed = True
        tasks = [p.refill_task for p in self._pools.values() if p.refill_task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        kernels = [k for p in self._pools.values() for k in p.ready]
        for p in self._pools.values():
            p.ready.clear()
        await asyncio.gather(*(k.shutdown() for k in kernels), return_exceptions=True)
