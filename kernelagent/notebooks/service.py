"""The notebook service: a context's history as a notebook, and notebooks run through the agent.

It reaches contexts through the engine's public methods and files through the file service (so
a notebook path obeys the file API's policy and limits); it knows nothing of HTTP.
"""

from __future__ import annotations

import os
from typing import Any

from ..core.errors import bad_request, missing
from ..core.workdir import resolve_workdir
from ..engine import Engine
from ..engine.context import Context
from ..engine.kernel_info import KernelInfoCache, kernelspec
from ..files import FileService
from ..models.base import parse_object, within_max_timeout
from ..models.files import ReadQuery, WriteRequest
from ..models.notebooks import Notebook, NotebookRunAnswer, NotebookRunRequest
from ..settings import Settings
from . import document
from .run import RunPlan, run_cells

EXECUTED_SUFFIX = ".executed.ipynb"  # NAME.ipynb runs into NAME.executed.ipynb beside it


class NotebookService:
    """Notebooks in and out of contexts: GET /contexts/{id}/notebook and POST /notebooks/run."""

    def __init__(self, settings: Settings, engine: Engine, files: FileService):
        self.settings = settings
        self.engine = engine
        self.files = files
        self.kernel_infos = KernelInfoCache()

    async def notebook(self, context_id: str) -> Notebook:
        """The context's history as an nbformat v4 notebook (404 for a context that does not exist)."""
        ctx = self.engine.get_context(context_id)
        info = await self.kernel_infos.language_info(ctx.kernel, ask=not ctx.busy)
        return document.from_history(
            ctx.history.entries(),
            ctx.history.state(),
            kernelspec=kernelspec(ctx.kernel),
            language_info=info,
            context_id=ctx.id,
            language=ctx.language.name,
        )

    async def run(self, req: NotebookRunRequest) -> NotebookRunAnswer:
        """Run a notebook's code cells in a fresh context (deleted after unless kept) or a named one."""
        s = self.settings
        cell_timeout = within_max_timeout(req.timeout, s.default_timeout, s.max_timeout)
        if req.total_timeout is not None and req.total_timeout > s.max_timeout:
            raise bad_request(f"'total_timeout' must be between 0 and {s.max_timeout:g} seconds", field="total_timeout")
        total_timeout = req.total_timeout or s.max_timeout
        target = self._target(req)
        nb = await self._load(req)
        source_dir = os.path.dirname(self.files.policy.resolve(req.path)) if req.path else None
        workdir = resolve_workdir(s, req.cwd if req.cwd is not None else source_dir)
        env = {**self.engine.global_env(), **req.env} if req.env else self.engine.global_env()
        plan = RunPlan(cell_timeout, total_timeout, req.continue_on_error, workdir, env)

        ctx, fresh = await self._context(req, nb)
        try:
            outcome = await run_cells(nb, ctx, plan)
        finally:
            if fresh and not req.keep_context:
                await self.engine.delete_context(ctx.id)
        written = None
        if target is not None:
            await self.files.write(parse_object(WriteRequest, {"path": target, "content": document.dumps(nb)}))
            written = target
        summary: Any = {
            "success": outcome.success,
            "cells": outcome.cells,
            "code_cells": outcome.code_cells,
            "cells_run": outcome.cells_run,
            "failed_cell": outcome.failed_cells[0] if outcome.failed_cells else None,
            "failed_cells": outcome.failed_cells,
            "stopped": outcome.stopped,
            "execution_time": outcome.execution_time,
            "context_id": ctx.id,
            "context_kept": not fresh or req.keep_context,
            "written": written,
        }
        if outcome.error is not None:
            summary["error"] = outcome.error
        return {"notebook": nb, "summary": summary}

    def _target(self, req: NotebookRunRequest) -> str | None:
        """Where the executed notebook goes, checked before anything runs; None: nowhere."""
        if req.output_path is not None:
            self.files.policy.resolve(req.output_path)
            return req.output_path
        if not req.write:
            return None
        if req.path is None:
            raise bad_request("'write' needs a notebook 'path' to write beside (or an 'output_path')", field="write")
        stem = req.path[: -len(".ipynb")] if req.path.endswith(".ipynb") else req.path
        return stem + EXECUTED_SUFFIX

    async def _load(self, req: NotebookRunRequest) -> Any:
        if req.notebook is not None and req.path is not None:
            raise bad_request("Give either 'notebook' or 'path', not both", field="path")
        if req.path is not None:
            text = (await self.files.read(parse_object(ReadQuery, {"path": req.path})))["content"]
            return await self.files.run(document.parse, text)
        if req.notebook is None:
            raise missing("notebook")
        return await self.files.run(document.parse, req.notebook)

    async def _context(self, req: NotebookRunRequest, nb: Any) -> tuple[Context, bool]:
        """The context to run in, and whether it was made for this run."""
        if req.context_id:
            ctx = self.engine.get_context(req.context_id)
            if req.language and self.engine.language(req.language) is not ctx.language:
                raise bad_request(f"Context {ctx.id} runs {ctx.language.name}, not {req.language}", field="language")
            return ctx, False
        language = req.language or notebook_language(nb)
        info = await self.engine.create_context(language)
        return self.engine.get_context(info["context_id"]), True


def notebook_language(nb: Any) -> str | None:
    """The language a notebook's metadata names (its kernelspec's, else its language_info's)."""
    meta = nb.get("metadata") or {}
    for name in ((meta.get("kernelspec") or {}).get("language"), (meta.get("language_info") or {}).get("name")):
        if isinstance(name, str) and name:
            return name
    return None
