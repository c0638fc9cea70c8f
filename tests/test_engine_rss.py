"""Kernels started and retired leave nothing behind in the agent: the engine in-process, real kernels.

40 named contexts are created, run a cell and deleted after a warm-up; the objects, sockets,
threads, descriptors and tasks a kernel brings must all be gone again, and no kernel may make a
ZMQ context of its own (each costs native threads whose churn grew the agent's RSS, issue 10's soak).
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

from kernelagent.engine import Engine
from kernelagent.engine.kernel import Kernel
from kernelagent.models.execute import ExecuteRequest
from kernelagent.settings import Settings

CYCLES = 40


def live(kind: type) -> int:
    return sum(isinstance(o, kind) for o in gc.get_objects())


def pool_threads() -> int:
    """Threads of asyncio's default executor: it adds one when calls overlap, up to its own bound."""
    return sum(t.name.startswith("asyncio_") for t in threading.enumerate())


def holdings(engine: Engine) -> dict[str, int]:
    """What the agent holds that a kernel brings or leaves behind (the default executor's threads aside)."""
    gc.collect()
    me = psutil.Process()
    pooled = pool_threads()
    return {
        "kernels": live(Kernel),
        "managers": live(AsyncKernelManager),
        "clients": live(AsyncKernelClient),
        "zmq contexts open": sum(isinstance(o, zmq.Context) and not o.closed for o in gc.get_objects()),
        "zmq sockets open": sum(isinstance(o, zmq.Socket) and not o.closed for o in gc.get_objects()),
        "python threads": threading.active_count() - pooled,
        "threads": me.num_threads() - pooled,
        "fds": me.num_fds(),
        "tasks": len(asyncio.all_tasks()),
        "contexts": engine.context_count(),
        "retiring": len(engine.supply._retiring),
    }


@asynccontextmanager
async def running_engine(tmp_path: Path, **settings: Any) -> AsyncIterator[Engine]:
    """The engine in-process with real kernels (Python warm), stopped after the block."""
    (tmp_path / "ws").mkdir()
    common = {"workspace": str(tmp_path / "ws"), "state_dir": str(tmp_path / "state")}
    engine = Engine(Settings(**common, warm_languages="python", desktop=False, **settings), global_env=dict)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


async def cycle(engine: Engine) -> None:
    cid = (await engine.create_context("python"))["context_id"]
    answer = await engine.execute(ExecuteRequest(code="6 * 7", context_id=cid))
    assert answer["success"], answer
    await engine.delete_context(cid)


async def settle(engine: Engine) -> None:
    """Until the retired kernels have ended and the pool is full again."""
    for _ in range(300):
        pool = engine.pool_state()["python"]
        if not engine.supply._retiring and pool["ready"] == pool["target"] and not pool["starting"]:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)


def test_contexts_created_and_deleted_leave_nothing_behind(tmp_path, monkeypatch):
    made: list[zmq.asyncio.Context] = []

    class CountedContext(zmq.asyncio.Context):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    async def main() -> None:
        async with running_engine(tmp_path) as engine:
            for _ in range(3):  # warm-up: the first kernels load what every later one reuses
                await cycle(engine)
            await settle(engine)
            before = holdings(engine)
            monkeypatch.setattr(zmq.asyncio, "Context", CountedContext)  # jupyter_client's default makes these
            for _ in range(CYCLES):
                await cycle(engine)
            await settle(engine)
            after = holdings(engine)
            monkeypatch.undo()
        assert not made, f"{len(made)} ZMQ contexts made for {CYCLES} kernels: each should use the supply's"
        grown = {k: (before[k], after[k]) for k in before if after[k] > before[k]}
        names = sorted(t.name for t in threading.enumerate())
        assert not grown, f"grew over {CYCLES} contexts created and deleted (before, after): {grown}; threads {names}"

    asyncio.run(main())


def test_kernel_clients_share_the_supply_context_and_start_only_shell_and_iopub(tmp_path):
    async def main() -> None:
        async with running_engine(tmp_path) as engine:
            cid = (await engine.create_context("python"))["context_id"]
            kernel = engine.get_context(cid).kernel
            assert kernel.km.context is engine.supply.zmq and kernel.kc.context is engine.supply.zmq
            for channel in ("hb", "stdin", "control"):  # the heartbeat alone is a thread per kernel
                assert getattr(kernel.kc, f"_{channel}_channel") is None, channel
            assert kernel.kc.shell_channel.is_alive() and kernel.kc.iopub_channel.is_alive()

    asyncio.run(main())


def test_the_signatures_a_kernel_client_remembers_stay_within_the_setting(tmp_path):
    """jupyter_client remembers every message's signature against replays, 65536 per kernel by default."""

    async def main() -> None:
        async with running_engine(tmp_path, kernel_digest_history=40) as engine:
            cid = (await engine.create_context("python"))["context_id"]
            for i in range(30):  # each run brings a reply and several iopub messages
                assert (await engine.execute(ExecuteRequest(code=f"print({i})", context_id=cid)))["success"]
            kernel = engine.get_context(cid).kernel
            assert 0 < len(kernel.kc.session.digest_history) <= 40  # the client's: shell and iopub

    asyncio.run(main())
