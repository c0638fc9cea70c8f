"""A context: one kernel with its own state, and everything applied to it.

Runs in a context go one at a time, in arrival order. Before each run the context brings its
kernel's environment, directory and source-side output cap to what the run asks (sending only
changes); at the deadline it interrupts the kernel, and restarts it if the interrupt is ignored;
a kernel that died (idle or mid-run) is reported in words and replaced, and the context keeps its id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.clock import iso_from_epoch
from ..core.errors import AgentError, bad_request
from ..core.limits import Limiter
from ..models.execute import ContextInfo, ExecuteAnswer, ExecutionError, KernelSession
from ..settings import Settings
from . import render
from .history import History
from .kernel import Kernel, Run
from .languages import Language
from .outputs import Outputs

log = logging.getLogger("kernelagent.engine")

RUNTIME_EXITED = {"KernelDied", "ShellExited"}  # enames wrapper kernels send when their runtime exits
SETUP_TIMEOUT = 30.0  # seconds for the set-up code that applies env, workdir and output caps

Listener = Callable[[str, Any], None]


class KernelSource(Protocol):
    """Where a context gets a fresh kernel and leaves an old one (the engine's supply)."""

    async def take(self, language: Language) -> Kernel: ...

    def retire(self, kernel: Kernel) -> None: ...

    def source_cap(self, wanted: int | None) -> int: ...


@dataclass
class ExecutionStats:
    """Executions running now and started so far, across every context (for /metrics)."""

    active: int = 0
    total: int = 0


@dataclass(frozen=True)
class Execution:
    """One execution as a context takes it: the request, already typed, defaulted and resolved."""

    code: str
    timeout: float
    env: dict[str, str]  # the overlay on the kernel's start environment: global variables, then the request's
    workdir: str
    listener: Listener | None = None
    # stdout/stderr characters the listener may receive beyond what the answer keeps (jobs spill
    # their whole output to files); None: the listener gets what the answer keeps
    stream_limit: int | None = None


@dataclass(eq=False)
class Context:
    """One kernel with its own state; its runs go one at a time, in arrival order."""

    id: str
    language: Language
    kernel: Kernel
    source: KernelSource
    settings: Settings
    stats: ExecutionStats
    default: bool = False
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    executions: int = 0
    waiting: Limiter = field(init=False)
    history: History = field(init=False)  # what it ran, for GET /contexts/{id}/notebook

    def __post_init__(self) -> None:
        self.waiting = Limiter(self.settings.max_queue_per_context, f"executions waiting on context {self.id}")
        self.history = History(self.settings.history_max_cells, self.settings.history_max_bytes)

    # --- what it is ---

    @property
    def busy(self) -> bool:
        return self.lock.locked()

    @property
    def idle(self) -> bool:
        """Nothing running and nothing waiting."""
        return not self.lock.locked() and self.waiting.used == 0

    def info(self) -> ContextInfo:
        return {
            "context_id": self.id,
            "id": self.id,
            "language": self.language.name,
            "default": self.default,
            "kernel_id": self.kernel.id,
            "pid": self.kernel.pid(),
            "kernel_mode": "fork" if self.kernel.forked() else "launch",
            "execution_state": self.kernel.execution_state,
            "busy": self.busy,
            "queued": self.waiting.used,
            "executions": self.executions,
            "created_at": iso_from_epoch(self.created),
            "last_activity": iso_from_epoch(self.last_used),
        }

    def session(self) -> KernelSession:
        return {
            "kernel_id": self.kernel.id,
            "context_id": self.id,
            "language": self.language.name,
            "execution_state": self.kernel.execution_state,
            "connections": 1 if self.busy else 0,
            "last_activity": iso_from_epoch(self.kernel.last_activity),
        }

    # --- its kernel ---

    async def interrupt(self) -> None:
        await self.kernel.interrupt()

    async def replace(self, old: Kernel | None = None) -> None:
        """Put a fresh kernel in place of `old` (default: the current one); its state is lost."""
        old = old or self.kernel
        if self.kernel is not old:
            return  # someone else already replaced it
        new = await self.source.take(self.language)
        if self.kernel is old:
            self.kernel = new
            self.source.retire(old)
        else:
            self.source.retire(new)

    # --- runs ---

    async def execute(self, ex: Execution) -> ExecuteAnswer:
        """Run `ex` once the runs that arrived before it are done; 429 when too many wait already."""
        async with self.turn():
            return await self._run(ex)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait until the runs that arrived before are done, and hold the kernel for the `with` block:
        the one order of every run in this context (/execute and the Jupyter gateway's alike).
        429 when too many wait already."""
        self.waiting.take()
        queued = True
        try:
            async with self.lock:
                self.waiting.give()
                queued = False
                yield
        finally:
            if queued:  # cancelled while waiting for its turn
                self.waiting.give()
            self.last_used = time.time()

    async def _run(self, ex: Execution) -> ExecuteAnswer:
        s = self.settings
        started = time.monotonic()
        outputs = Outputs(
            s.max_stdout_bytes,
            s.max_stderr_bytes,
            s.max_rich_bytes,
            listener=ex.listener,
            forward_limit=ex.stream_limit,
        )
        restarted = False
        if not await self.kernel.is_alive():  # it died while idle (killed, out of memory)
            cause, _ = render.death_cause(self.kernel.exit_status())
            await self.replace()
            outputs.add_stream(
                "stderr",
                f"[kernelagent] The kernel had died while idle ({cause}); this code "
                "ran in a fresh kernel and earlier state is lost\n",
            )
            restarted = True
        kernel = self.kernel
        self.stats.active += 1
        self.stats.total += 1
        self.executions += 1
        error: ExecutionError | None = None
        exit_code = 0
        try:
            await self._apply(kernel, ex.env, ex.workdir)
            await self._apply_stream_limit(kernel, ex.stream_limit)
            run = kernel.submit(ex.code, outputs)
            try:
                state = await kernel.wait(run, ex.timeout)
                if state == "timeout":
                    error, exit_code = await self._on_timeout(kernel, run, ex.timeout)
                elif state == "died":
                    error, exit_code = await self._on_death(kernel)
            except asyncio.CancelledError:
                # The caller went away (a stream client disconnected, a job was killed): stop the
                # code too, so the next run in this context does not queue behind it in the kernel.
                try:
                    await kernel.interrupt()
                except Exception as exc:  # best effort; the run is cancelled either way
                    log.warning("interrupt after cancel failed: %s", exc)
                raise
            finally:
                kernel.release(run)
            if error is None:
                exit_code = render.exit_code(run.reply, outputs)
                if outputs.error:
                    ended = outputs.error["ename"] in RUNTIME_EXITED
                    if ended:
                        # The cell ended the language's runtime (process.exit, `exit`): the wrapper
                        # kernel exits next, so a fresh one takes its place now.
                        await self.replace(kernel)
                    error = render.kernel_error(outputs.error, kernel_restarted=ended)
        finally:
            self.stats.active -= 1
        answer = render.answer(
            outputs=outputs,
            reply=run.reply,
            exit_code=exit_code,
            error=error,
            execution_time=time.monotonic() - started,
            language=self.language.name,
            context_id=self.id,
            restarted=restarted,
        )
        self.history.record(ex.code, answer)
        return answer

    async def apply_env(self, env: dict[str, str]) -> None:
        """Bring the kernel's environment to `env` and leave its directory as it is, for a run that
        does not come through execute() (the Jupyter gateway's); call it within turn()."""
        await self._apply(self.kernel, env, self.kernel.workdir)

    async def _apply(self, kernel: Kernel, overlay: dict[str, str], workdir: str) -> None:
        """Bring the kernel's environment and directory to what this run asks, sending only changes."""
        base = kernel.base_env
        set_env = {k: v for k, v in overlay.items() if kernel.env_overlay.get(k, base.get(k)) != v}
        unset: list[str] = []
        for key in kernel.env_overlay:
            if key not in overlay:
                if key in base:
                    set_env[key] = base[key]
                else:
                    unset.append(key)
        new_dir = workdir if workdir != kernel.workdir else None
        if not set_env and not unset and new_dir is None:
            return
        try:
            code = kernel.language.setup_code(set_env, unset, new_dir)
        except ValueError as exc:  # a name this language cannot hold
            raise bad_request(str(exc)) from None
        outputs = await kernel.run_silent(code, SETUP_TIMEOUT)
        if outputs.error:
            raise AgentError(
                "EXECUTION_FAILED",
                500,
                f"Could not apply env/workdir: {outputs.error['ename']}: {outputs.error['evalue']}",
            )
        kernel.env_overlay = dict(overlay)
        kernel.workdir = workdir

    async def _apply_stream_limit(self, kernel: Kernel, wanted: int | None) -> None:
        limit = self.source.source_cap(wanted)
        if kernel.language.stream_limit and kernel.stream_limit != limit:
            await kernel.run_silent(kernel.language.stream_limit(limit), SETUP_TIMEOUT)
            kernel.stream_limit = limit

    async def _on_timeout(self, kernel: Kernel, run: Run, timeout: float) -> tuple[ExecutionError, int]:
        try:
            await kernel.interrupt()
        except Exception as exc:  # the wait below tells what happened
            log.warning("interrupt failed: %s", exc)
        preserved = await kernel.wait(run, self.settings.interrupt_grace) == "done"
        if not preserved:
            await self.replace(kernel)
        message = render.timeout_message(timeout, preserved)
        run.outputs.add_stream("stderr", f"\n[kernelagent] {message}\n")
        return render.timeout_error(message, preserved), render.EXIT_TIMEOUT

    async def _on_death(self, kernel: Kernel) -> tuple[ExecutionError, int]:
        cause, exit_code = render.death_cause(kernel.exit_status())
        await self.replace(kernel)
        return render.death_error(cause), exit_code
