"""The engine: routes each execution to its context, and owns the contexts' lifecycle.

Each language has a default context (`default-<language>`), made on first use, so plain /execute
calls share state like notebook cells; named contexts are made by POST /contexts, culled when idle
for `context_idle_timeout`, and bounded by `max_contexts`. Kernels come from the supply's warm pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

from ..core import proc
from ..core.errors import bad_request, not_found
from ..core.limits import Limiter
from ..core.workdir import resolve_workdir
from ..models.base import within_max_timeout
from ..models.execute import ContextInfo, ExecuteAnswer, ExecuteRequest, KernelSession
from ..settings import Settings
from .context import Context, Execution, ExecutionStats, Listener
from .kernel import Kernel
from .languages import Language, canonical
from .supply import KernelSupply, kernel_tree

log = logging.getLogger("kernelagent.engine")


class Engine:
    """Code execution in warm kernels: contexts by id, one run at a time each, in arrival order."""

    def __init__(self, settings: Settings, global_env: Callable[[], dict[str, str]]):
        """`global_env` returns the global variables (/env) that every execution sees under its own."""
        self.settings = settings
        self.global_env = global_env
        self.supply = KernelSupply(settings)
        self._contexts: dict[str, Context] = {}
        self.stats = ExecutionStats()
        self._named = Limiter(settings.max_contexts, "contexts")
        self._cull_task: asyncio.Task | None = None

    # --- life cycle ---

    async def start(self) -> None:
        await self.supply.start()
        self._cull_task = asyncio.create_task(self._cull_loop())

    async def stop(self) -> None:
        if self._cull_task:
            self._cull_task.cancel()
        kernels = [c.kernel for c in self._contexts.values()]
        self._contexts.clear()
        await self.supply.stop(kernels)

    # --- what it offers ---

    @property
    def available(self) -> list[str]:
        """The languages this agent can run."""
        return self.supply.available

    @property
    def active_executions(self) -> int:
        return self.stats.active

    @property
    def total_executions(self) -> int:
        return self.stats.total

    def language(self, name: str | None) -> Language:
        """The language `name` (or alias) stands for; a 400 naming the options if none."""
        return canonical(name, self.available)

    def pool_state(self) -> dict:
        return self.supply.pool_state()

    def kernel_modes(self) -> dict:
        return self.supply.modes()

    # --- execution ---

    async def execute(
        self, req: ExecuteRequest, listener: Listener | None = None, stream_limit: int | None = None
    ) -> ExecuteAnswer:
        """Run `req` in its context (its `context_id`, or its language's default context).

        `listener(kind, payload)` hears stdout, stderr and display outputs as they come;
        `stream_limit` lets it hear more stdout/stderr characters than the answer keeps.
        """
        s = self.settings
        timeout = within_max_timeout(req.timeout, s.default_timeout, s.max_timeout)
        if req.context_id:
            ctx = self.get_context(req.context_id)
            if req.language and self.language(req.language) is not ctx.language:
                raise bad_request(f"Context {ctx.id} runs {ctx.language.name}, not {req.language}")
        else:
            ctx = await self._default_context(self.language(req.language))
        workdir = resolve_workdir(s, req.cwd)
        env = {**self.global_env(), **req.env} if req.env else self.global_env()
        return await ctx.execute(Execution(req.code, timeout, env, workdir, listener, stream_limit))

    # --- contexts ---

    def _context(self, cid: str, lang: Language, kernel: Kernel, default: bool = False) -> Context:
        ctx = Context(cid, lang, kernel, self.supply, self.settings, self.stats, default=default)
        self._contexts[cid] = ctx
        return ctx

    async def _default_context(self, lang: Language) -> Context:
        cid = f"default-{lang.name}"
        ctx = self._contexts.get(cid)
        if ctx is None:
            kernel = await self.supply.take(lang)
            ctx = self._contexts.get(cid)  # another request may have made it meanwhile
            if ctx is None:
                ctx = self._context(cid, lang, kernel, default=True)
            else:
                self.supply.retire(kernel)
        return ctx

    async def create_context(self, language: str | None) -> ContextInfo:
        """A named context with a kernel of its own; 429 past `max_contexts`."""
        lang = self.language(language)
        self._named.take()
        try:
            kernel = await self.supply.take(lang)
        except BaseException:
            self._named.give()
            raise
        return self._context(str(uuid.uuid4()), lang, kernel).info()

    def get_context(self, context_id: str) -> Context:
        ctx = self._contexts.get(context_id)
        if ctx is None:
            raise not_found("CONTEXT_NOT_FOUND", f"No such context: {context_id}", context_id=context_id)
        return ctx

    def context_info(self, context_id: str) -> ContextInfo:
        return self.get_context(context_id).info()

    def list_contexts(self) -> list[ContextInfo]:
        return [c.info() for c in self._contexts.values()]

    def context_count(self) -> int:
        return len(self._contexts)

    def sessions(self) -> list[KernelSession]:
        return [c.session() for c in self._contexts.values()]

    async def interrupt_context(self, context_id: str) -> ContextInfo:
        ctx = self.get_context(context_id)
        await ctx.interrupt()
        return ctx.info()

    async def restart_context(self, context_id: str) -> ContextInfo:
        ctx = self.get_context(context_id)
        await ctx.replace()
        ctx.history.clear()
        return ctx.info()

    async def delete_context(self, context_id: str) -> None:
        self._drop(self.get_context(context_id))

    async def end_context(self, context_id: str, grace: float) -> None:
        """Delete a context and end its kernel's whole process tree now (what a job's kill means),
        SIGKILLing whatever is left after `grace` seconds. A context already gone is no error."""
        ctx = self._contexts.get(context_id)
        if ctx is None:
            return
        pid = ctx.kernel.pid()
        procs = proc.descendants(pid)
        group = proc.own_group(pid)
        self._drop(ctx)
        await proc.kill_tree(procs, grace, pgid=group, tree=kernel_tree(ctx.kernel))

    def _drop(self, ctx: Context) -> None:
        """Forget a context and retire its kernel: the one way a context ends."""
        if self._contexts.pop(ctx.id, None) is None:
            return
        if not ctx.default:
            self._named.give()
        self.supply.retire(ctx.kernel)

    async def _cull_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.cull_interval)
            cutoff = time.time() - self.settings.context_idle_timeout
            for ctx in list(self._contexts.values()):
                if not ctx.default and ctx.idle and ctx.last_used < cutoff:
                    log.info("culling idle context %s", ctx.id)
                    self._drop(ctx)
