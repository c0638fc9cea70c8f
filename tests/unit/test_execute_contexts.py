"""Contexts and the engine's routing over a fake kernel supply: limits, queueing, replacement. No kernels."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kernelagent.core.errors import AgentError
from kernelagent.engine import Engine
from kernelagent.engine.languages import LANGUAGES, Language
from kernelagent.engine.outputs import Outputs
from kernelagent.models.execute import ExecuteRequest
from kernelagent.settings import Settings


class FakeRun:
    def __init__(self, outputs: Outputs):
        self.outputs = outputs
        self.reply: dict[str, Any] | None = {"status": "ok", "execution_count": 1}


class FakeKernel:
    """Enough of engine.kernel.Kernel for a context: runs `code` by waiting on `gate` if it is "block"."""

    count = 0

    def __init__(self, language: Language):
        FakeKernel.count += 1
        self.id = f"k{FakeKernel.count}"
        self.language = language
        self.alive = True
        self.status: int | None = None
        self.gate = asyncio.Event()
        self.base_env: dict[str, str] = {}
        self.env_overlay: dict[str, str] = {}
        self.workdir = "/"
        self.stream_limit = 0
        self.execution_state = "idle"
        self.last_activity = 0.0

    async def is_alive(self) -> bool:
        return self.alive

    def exit_status(self) -> int | None:
        return self.status

    def pid(self) -> int | None:
        return None

    async def run_silent(self, code: str, timeout: float) -> Outputs:
        return Outputs(100, 100, 100)

    def submit(self, code: str, outputs: Outputs) -> FakeRun:
        outputs.add_stream("stdout", f"ran {code} in {self.id}\n")
        self.code = code
        return FakeRun(outputs)

    async def wait(self, run: FakeRun, timeout: float) -> str:
        if self.code == "block":
            await self.gate.wait()
        return "done"

    def release(self, run: FakeRun) -> None:
        pass

    async def interrupt(self) -> None:
        self.gate.set()


class FakeSupply:
    def __init__(self) -> None:
        self.available = list(LANGUAGES)
        self.retired: list[FakeKernel] = []

    async def take(self, language: Language) -> FakeKernel:
        return FakeKernel(language)

    def retire(self, kernel: FakeKernel) -> None:
        self.retired.append(kernel)

    def source_cap(self, wanted: int | None) -> int:
        return 100

    def pool_state(self) -> dict:
        return {}


def engine(tmp_path, global_env: dict[str, str] | None = None, **settings: Any) -> Engine:
    e = Engine(Settings(workspace=str(tmp_path), **settings), global_env=lambda: dict(global_env or {}))
    e.supply = FakeSupply()  # type: ignore[assignment]
    return e


def request(code: str, **fields: Any) -> ExecuteRequest:
    return ExecuteRequest(code=code, **fields)


def test_max_contexts_is_a_429_and_a_deleted_context_frees_its_slot(tmp_path):
    async def main() -> None:
        e = engine(tmp_path, max_contexts=2)
        first = await e.create_context("python")
        await e.create_context(None)
        with pytest.raises(AgentError) as info:
            await e.create_context("python")
        assert (info.value.status, info.value.code) == (429, "RATE_LIMIT_EXCEEDED")
        await e.delete_context(first["context_id"])
        await e.create_context("python")
        await e.execute(request("1"))  # default contexts do not count
        assert e.context_count() == 3

    asyncio.run(main())


def test_queue_per_context_is_a_429_and_runs_go_in_arrival_order(tmp_path):
    async def main() -> None:
        e = engine(tmp_path, max_queue_per_context=1)
        cid = (await e.create_context("python"))["context_id"]
        running = asyncio.create_task(e.execute(request("block", context_id=cid)))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(e.execute(request("second", context_id=cid)))
        await asyncio.sleep(0)
        info = e.context_info(cid)
        assert info["busy"] is True and info["queued"] == 1
        with pytest.raises(AgentError) as refused:
            await e.execute(request("third", context_id=cid))
        assert (refused.value.status, refused.value.code) == (429, "RATE_LIMIT_EXCEEDED")
        await e.interrupt_context(cid)
        assert (await running)["stdout"].startswith("ran block")
        assert (await waiting)["stdout"].startswith("ran second")
        assert e.context_info(cid)["queued"] == 0 and e.active_executions == 0 and e.total_executions == 2

    asyncio.run(main())


def test_a_kernel_dead_while_idle_is_replaced_and_said(tmp_path):
    async def main() -> None:
        e = engine(tmp_path)
        await e.execute(request("1"))
        ctx = e.get_context("default-python")
        dead: Any = ctx.kernel  # a FakeKernel
        dead.alive, dead.status = False, -9
        answer = await e.execute(request("2"))
        assert answer["kernel_restarted"] is True and answer["success"] is True
        assert "killed by SIGKILL" in answer["stderr"] and "ran 2 in" in answer["stdout"]
        assert ctx.kernel is not dead and e.supply.retired == [dead]  # type: ignore[attr-defined]

    asyncio.run(main())


def test_env_is_global_then_request_and_workdir_is_resolved_once(tmp_path):
    async def main() -> None:
        e = engine(tmp_path, global_env={"G": "1", "A": "global"})
        await e.execute(request("1", env={"A": "request"}))
        kernel = e.get_context("default-python").kernel
        assert kernel.env_overlay == {"G": "1", "A": "request"}
        assert kernel.workdir == str(tmp_path)
        with pytest.raises(AgentError) as info:
            await e.execute(request("1", workdir=str(tmp_path / "missing")))
        assert info.value.code == "DIRECTORY_NOT_FOUND"
        with pytest.raises(AgentError) as info:
            await e.execute(request("1", context_id="nope"))
        assert info.value.status == 404

    asyncio.run(main())


def test_unknown_language_and_a_context_of_another_language(tmp_path):
    async def main() -> None:
        e = engine(tmp_path)
        with pytest.raises(AgentError) as info:
            await e.execute(request("1", language="cobol"))
        assert info.value.status == 400 and "python" in info.value.message
        cid = (await e.create_context("bash"))["context_id"]
        with pytest.raises(AgentError) as info:
            await e.execute(request("1", language="python", context_id=cid))
        assert info.value.status == 400 and "runs bash" in info.value.message

    asyncio.run(main())
