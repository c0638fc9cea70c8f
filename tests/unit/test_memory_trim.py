"""The trimmer hands freed heap back to the OS: measured on this process's own RSS (glibc)."""

from __future__ import annotations

import asyncio

import psutil

from kernelagent.core.memory import MemoryTrimmer

MB = 1 << 20


def test_trim_gives_freed_heap_back():
    trimmer = MemoryTrimmer(0)
    assert trimmer.libc is not None, "glibc's malloc_trim: this project's machines all have it"
    trimmer.trim()
    # 64 KiB blocks come from the heap (below glibc's mmap threshold); keeping every 16th pins
    # the heap's top, so glibc cannot shrink it on its own when the rest are freed
    blocks = [bytearray(64 << 10) for _ in range(3000)]
    kept = blocks[::16]
    del blocks
    before = psutil.Process().memory_info().rss
    assert trimmer.trim()
    after = psutil.Process().memory_info().rss
    assert before - after > 50 * MB, (before / MB, after / MB)
    assert kept


def test_the_loop_trims_at_its_interval_and_stops():
    async def main() -> int:
        trimmer = MemoryTrimmer(0.05)
        trimmer.start()
        await asyncio.sleep(0.5)
        await trimmer.stop()
        done = trimmer.trims
        await asyncio.sleep(0.2)
        assert trimmer.trims == done
        return done

    assert asyncio.run(main()) >= 3


def test_interval_zero_never_trims():
    async def main() -> int:
        trimmer = MemoryTrimmer(0)
        trimmer.start()
        await asyncio.sleep(0.2)
        await trimmer.stop()
        return trimmer.trims

    assert asyncio.run(main()) == 0
