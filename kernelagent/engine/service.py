"""The execution service: contexts (id -> kernel, one run at a time in arrival order), deadlines,
dead-kernel recovery, and the rendering of one run into the contract's /execute response."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from jupyter_client.kernelspec import KernelSpecManager
from kernelagent_kernels import kernelspecs_dir

from ..environment import EnvStore, agent_base_env, validate_env
from ..core import proc
from ..core.errors import AgentError, bad_request, not_found
from ..settings import Settings
from ..core.clock import iso_from_epoch, utc_now_iso
from ..core.workdir import parse_timeout, resolve_workdir
from .kernel import Kernel
from .languages import LANGUAGES, Language, canonical
from .outputs import Outputs
from .pool import KernelPool

log = logging.getLogger("kernelagent.engine")

KERNELS_DIR = kernelspecs_dir()  # the kernelspecs, package data of kernelagent_kernels
EXIT_TIMEOUT = 124  # as coreutils' `timeout`
RUNTIME_EXITED = {"KernelDied", "ShellExited"}  # enames wrapper kernels send when their runtime exits


@dataclass
class Context:
    id: str
    language: Language
    kernel: Kernel
    default: bool = False
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    executions: int = 0

    def info(self) -> dict[str, Any]:
        return {
            "context_id": self.id,
            "id": self.id,
            "language": self.language.name,
            "default": self.default,
            "kernel_id": self.kernel.id,
            "pid": self.kernel.pid(),
            "execution_state": self.kernel.execution_state,
            "busy": self.lock.locked(),
            "queued": self.waiting,
            "executions": self.executions,
            "created_at": iso_from_epoch(self.created),
            "last_activity": iso_from_epoch(self.last_used),
        }


@dataclass
class ExecuteRequest:
    code: str
    language: str | None = None
    context_id: str | None = None
    timeout: float | None = None
    env: dict[str, str] | None = None
    workdir: str | None = None
    # stdout/stderr characters the listener may receive, beyond what the response keeps (jobs
    # spill their whole output to files); None: the listener gets what the response keeps
    stream_limit: int | None = None


Listener = Callable[[str, Any], None]


class Engine:
    def __init__(self, settings: Settings, env_store: EnvStore):
        self.settings = settings
        self.env_store = env_store
        self.ksm = KernelSpecManager(kernel_dirs=[str(KERNELS_DIR)])
        self.runtime_dir = ""
        self.available: list[str] = []
        self.contexts: dict[str, Context] = {}
        self.pool: KernelPool | None = None
        self._cull_task: asyncio.Task | None = None
        self._retiring: set[asyncio.Task] = set()
        self.active_executions = 0
        self.total_executions = 0

    # --- life cycle ---

    async def start(self) -> None:
        self.runtime_dir = tempfile.mkdtemp(prefix="kernelagent-")
        os.chmod(self.runtime_dir, 0o700)
        self.available = self._find_languages()
        sizes = {lang: self.settings.pool_size for lang in self.settings.languages_warm(self.available)}
        self.pool = KernelPool(self._start_kernel, sizes)
        self.pool.fill()
        self._cull_task = asyncio.create_task(self._cull_loop())

    def _find_languages(self) -> list[str]:
        specs = self.ksm.find_kernel_specs()
        found = []
        for lang in LANGUAGES.values():
            if (lang.kernel_name in specs and all(shutil.which(exe) for exe in lang.requires)
                    and all(importlib.util.find_spec(mod) for mod in lang.requires_modules)):
                found.append(lang.name)
            else:
                log.warning("language %s is not available (needs %s)", lang.name,
                            ", ".join(lang.requires + lang.requires_modules) or "its kernelspec")
        return found

    async def stop(self) -> None:
        if self._cull_task:
            self._cull_task.cancel()
        if self.pool:
            await self.pool.close()
        kernels = [c.kernel for c in self.contexts.values()]
        self.contexts.clear()
        await asyncio.gather(*(k.shutdown() for k in kernels), *self._retiring, return_exceptions=True)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    async def _start_kernel(self, language: str) -> Kernel:
        lang = LANGUAGES[language]
        kernel = Kernel(lang, self.ksm, self.runtime_dir)
        env = agent_base_env()
        try:
            await kernel.start(self.settings.workspace, env, self.settings.kernel_start_timeout)
            warmup = lang.warmup
            if lang.stream_limit:
                kernel.stream_limit = self._kernel_stream_limit(None)
                warmup += lang.stream_limit(kernel.stream_limit)
            if warmup:
                outputs = await kernel.run_silent(warmup, self.settings.kernel_start_timeout)
                if outputs.error:
                    raise RuntimeError(f"warm-up failed: {outputs.error['ename']}: {outputs.error['evalue']}")
        except BaseException:
            await kernel.shutdown()
            raise
        return kernel

    def _kernel_stream_limit(self, wanted: int | None) -> int:
        """The cap set inside kernels that can trim at the source: a little over what the agent
        keeps, so the agent still sees the overflow and reports it."""
        cap = max(self.settings.max_stdout_bytes, self.settings.max_stderr_bytes, wanted or 0)
        return cap + 4096

    def _retire(self, kernel: Kernel) -> None:
        """Shut a replaced kernel down in the background."""
        task = asyncio.create_task(kernel.shutdown())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    # --- contexts ---

    def language(self, name: str | None) -> Language:
        return canonical(name, self.available)

    async def _default_context(self, lang: Language) -> Context:
        cid = f"default-{lang.name}"
        ctx = self.contexts.get(cid)
        if ctx is None:
            kernel = await self._take_kernel(lang)
            ctx = self.contexts.get(cid)  # another request may have made it meanwhile
            if ctx is None:
                ctx = self.contexts[cid] = Context(cid, lang, kernel, default=True)
            else:
                self._retire(kernel)
        return ctx

    async def create_context(self, language: str | None) -> dict:
        lang = self.language(language)
        named = sum(1 for c in self.contexts.values() if not c.default)
        if named >= self.settings.max_contexts:
            raise AgentError("RATE_LIMIT_EXCEEDED", 429,
                             f"Too many contexts ({named}, max {self.settings.max_contexts}); delete some first")
        kernel = await self._take_kernel(lang)
        ctx = Context(str(uuid.uuid4()), lang, kernel)
        self.contexts[ctx.id] = ctx
        return ctx.info()

    async def _take_kernel(self, lang: Language) -> Kernel:
        try:
            return await self.pool.take(lang.name)
        except Exception as exc:
            raise AgentError("EXECUTION_FAILED", 500, f"Could not start a {lang.name} kernel: {exc}") from None

    def get_context(self, context_id: str) -> Context:
        ctx = self.contexts.get(context_id)
        if ctx is None:
            raise not_found("CONTEXT_NOT_FOUND", f"No such context: {context_id}", context_id=context_id)
        return ctx

    def list_contexts(self) -> list[dict]:
        return [c.info() for c in self.contexts.values()]

    async def interrupt_context(self, context_id: str) -> dict:
        ctx = self.get_context(context_id)
        await ctx.kernel.interrupt()
        return ctx.info()

    async def restart_context(self, context_id: str) -> dict:
        ctx = self.get_context(context_id)
        await self._replace_kernel(ctx, ctx.kernel)
        return ctx.info()

    async def delete_context(self, context_id: str) -> None:
        ctx = self.get_context(context_id)
        self.contexts.pop(context_id, None)
        self._retire(ctx.kernel)

    async def end_context(self, context_id: str, grace: float) -> None:
        """Delete a context and end its kernel's whole process tree now (what a job's kill means),
        SIGKILLing whatever is left after `grace` seconds. A context already gone is no error."""
        ctx = self.contexts.get(context_id)
        if ctx is None:
            return
        pid = ctx.kernel.pid()
        procs = proc.descendants(pid)
        group = proc.own_group(pid)
        self.contexts.pop(context_id, None)
        self._retire(ctx.kernel)
        await proc.kill_tree(procs, grace, pgid=group)

    def context_count(self) -> int:
        return len(self.contexts)

    async def _replace_kernel(self, ctx: Context, old: Kernel) -> None:
        if ctx.kernel is not old:
            return  # someone else already replaced it
        new = await self._take_kernel(ctx.language)
        if ctx.kernel is old:
            ctx.kernel = new
            self._retire(old)
        else:
            self._retire(new)

    async def _cull_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.cull_interval)
            cutoff = time.time() - self.settings.context_idle_timeout
            for ctx in list(self.contexts.values()):
                if not ctx.default and not ctx.lock.locked() and ctx.waiting == 0 and ctx.last_used < cutoff:
                    log.info("culling idle context %s", ctx.id)
                    self.contexts.pop(ctx.id, None)
                    self._retire(ctx.kernel)

    def sessions(self) -> list[dict]:
        return [
            {
                "kernel_id": c.kernel.id,
                "context_id": c.id,
                "language": c.language.name,
                "execution_state": c.kernel.execution_state,
                "connections": 1 if c.lock.locked() else 0,
                "last_activity": iso_from_epoch(c.kernel.last_activity),
            }
            for c in self.contexts.values()
        ]

    def pool_state(self) -> dict:
        return self.pool.state() if self.pool else {}

    # --- execution ---

    def parse_request(self, body: dict) -> ExecuteRequest:
        """Validate an /execute body (every variant of the contract) into an ExecuteRequest."""
        code = body.get("code")
        if code is None:
            raise AgentError("MISSING_PARAMETER", 400, "Missing required parameter: code", {"parameter": "code"})
        if not isinstance(code, str):
            raise bad_request("'code' must be a string")
        language = body.get("language")
        if language is not None and not isinstance(language, str):
            raise bad_request("'language' must be a string")
        context_id = body.get("context_id")
        if context_id is not None and not isinstance(context_id, str):
            raise bad_request("'context_id' must be a string")
        workdir = body.get("workdir") or body.get("working_dir")  # checked by resolve_workdir
        timeout = parse_timeout(body.get("timeout"), self.settings.default_timeout, self.settings.max_timeout)
        return ExecuteRequest(code=code, language=language, context_id=context_id, timeout=timeout,
                              env=validate_env(body.get("env")), workdir=workdir)

    async def execute(self, req: ExecuteRequest, listener: Listener | None = None) -> dict:
        if req.context_id:
            ctx = self.get_context(req.context_id)
            if req.language and self.language(req.language) is not ctx.language:
                raise bad_request(f"Context {ctx.id} runs {ctx.language.name}, not {req.language}")
        else:
            ctx = await self._default_context(self.language(req.language))
        workdir = resolve_workdir(self.settings, req.workdir)
        if ctx.waiting >= self.settings.max_queue_per_context:
            raise AgentError("RATE_LIMIT_EXCEEDED", 429,
                             f"Context {ctx.id} already has {ctx.waiting} executions waiting")
        ctx.waiting += 1
        queued = True
        try:
            async with ctx.lock:
                ctx.waiting -= 1
                queued = False
                return await self._run(ctx, req, workdir, listener)
        finally:
            if queued:  # cancelled while waiting for its turn
                ctx.waiting -= 1
            ctx.last_used = time.time()

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
        outputs = await kernel.run_silent(code, 30.0)
        if outputs.error:
            raise AgentError("EXECUTION_FAILED", 500,
                             f"Could not apply env/workdir: {outputs.error['ename']}: {outputs.error['evalue']}")
        kernel.env_overlay = dict(overlay)
        kernel.workdir = workdir

    async def _apply_stream_limit(self, kernel: Kernel, wanted: int | None) -> None:
        limit = self._kernel_stream_limit(wanted)
        if kernel.language.stream_limit and kernel.stream_limit != limit:
            await kernel.run_silent(kernel.language.stream_limit(limit), 30.0)
            kernel.stream_limit = limit

    async def _run(self, ctx: Context, req: ExecuteRequest, workdir: str, listener: Listener | None) -> dict:
        s = self.settings
        started = time.monotonic()
        outputs = Outputs(s.max_stdout_bytes, s.max_stderr_bytes, s.max_rich_bytes, listener=listener,
                          forward_limit=req.stream_limit)
        restarted = False
        if not await ctx.kernel.is_alive():  # it died while idle (killed, out of memory)
            cause, _ = self._death_cause(ctx.kernel)
            await self._replace_kernel(ctx, ctx.kernel)
            outputs.add_stream("stderr", f"[kernelagent] The kernel had died while idle ({cause}); this code "
                                         "ran in a fresh kernel and earlier state is lost\n")
            restarted = True
        kernel = ctx.kernel
        self.active_executions += 1
        self.total_executions += 1
        ctx.executions += 1
        error: dict | None = None
        exit_code = 0
        try:
            await self._apply(kernel, self.env_store.overlay(req.env), workdir)
            await self._apply_stream_limit(kernel, req.stream_limit)
            run = kernel.submit(req.code, outputs)
            try:
                state = await kernel.wait(run, req.timeout)
                if state == "timeout":
                    error, exit_code = await self._on_timeout(ctx, kernel, run, req.timeout)
                elif state == "died":
                    error, exit_code = await self._on_death(ctx, kernel)
            except asyncio.CancelledError:
                # The caller went away (a stream client disconnected, a job was killed): stop the
                # code too, so the next run in this context does not queue behind it in the kernel.
                try:
                    await kernel.interrupt()
                except Exception as exc:
                    log.warning("interrupt after cancel failed: %s", exc)
                raise
            finally:
                kernel.release(run)
            if error is None:
                exit_code = self._exit_code(run.reply, outputs)
                if outputs.error:
                    error = dict(outputs.error, code="EXECUTION_ERROR",
                                 message=f"{outputs.error['ename']}: {outputs.error['evalue']}")
                    if outputs.error["ename"] in RUNTIME_EXITED:
                        # The cell ended the language's runtime (process.exit, `exit`): the wrapper
                        # kernel exits next, so a fresh one takes its place now.
                        await self._replace_kernel(ctx, kernel)
                        error.update(state_preserved=False, kernel_restarted=True)
        finally:
            self.active_executions -= 1
        result = {
            "success": exit_code == 0,
            "exit_code": exit_code,
            "execution_time": round(time.monotonic() - started, 6),
            "language": ctx.language.name,
            "context_id": ctx.id,
            "execution_count": (run.reply or {}).get("execution_count"),
            "timestamp": utc_now_iso(),
            **outputs.fields(),
        }
        if error is not None:
            result["error"] = error
        if restarted:
            result["kernel_restarted"] = True
        return result

    @staticmethod
    def _exit_code(reply: dict | None, outputs: Outputs) -> int:
        if reply is not None and isinstance(reply.get("exit_code"), int):
            return reply["exit_code"]  # wrapper kernels report their own (bash: the cell's status)
        if outputs.error or (reply is not None and reply.get("status") not in (None, "ok")):
            return 1
        return 0

    async def _on_timeout(self, ctx: Context, kernel: Kernel, run, timeout: float) -> tuple[dict, int]:
        try:
            await kernel.interrupt()
        except Exception as exc:
            log.warning("interrupt failed: %s", exc)
        state = await kernel.wait(run, self.settings.interrupt_grace)
        if state == "done":
            preserved, how = True, "the kernel was interrupted; its state is kept"
        else:
            await self._replace_kernel(ctx, kernel)
            preserved, how = False, "the kernel ignored the interrupt and was restarted; its state was lost"
        message = f"Execution timed out after {timeout:g} s: {how}"
        run.outputs.add_stream("stderr", f"\n[kernelagent] {message}\n")
        return {"code": "EXECUTION_TIMEOUT", "message": message, "ename": "TimeoutError",
                "evalue": message, "traceback": [], "state_preserved": preserved,
                "kernel_restarted": not preserved}, EXIT_TIMEOUT

    @staticmethod
    def _death_cause(kernel: Kernel) -> tuple[str, int]:
        """How a kernel process ended, in words, and the exit code a shell would report."""
        status = kernel.exit_status()
        if status is not None and status < 0:
            try:
                cause = f"killed by {signal.Signals(-status).name}"
            except ValueError:
                cause = f"killed by signal {-status}"
            if status == -signal.SIGKILL:
                cause += " (possibly out of memory)"
            return cause, 128 - status
        return f"exited with status {status}", status if status else 1

    async def _on_death(self, ctx: Context, kernel: Kernel) -> tuple[dict, int]:
        cause, exit_code = self._death_cause(kernel)
        await self._replace_kernel(ctx, kernel)
        message = f"The kernel died ({cause}); its state was lost and a fresh kernel replaces it"
        return {"code": "KERNEL_DIED", "message": message, "ename": "KernelDied", "evalue": message,
                "traceback": [], "state_preserved": False, "kernel_restarted": True}, exit_code
