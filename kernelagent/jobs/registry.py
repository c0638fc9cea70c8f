"""The job registry: background executions, webhook (async) executions and background commands.

One registry holds every job: it is listed by GET /execute/processes, read one at a time with its
output so far, and killed by any of the contract's kill shapes. A background execution runs in a
temporary context of its own (a kernel from the warm pool), so the caller's default context stays
free; when it ends, the engine ends that kernel's whole process tree and deletes the context.
Output kept in memory per job is bounded; the full output goes to spill files whose paths the
record gives. Finished records are dropped after a configurable time and count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..commands import CommandRun, CommandService
from ..core.clock import iso_from_epoch, utc_now_iso
from ..core.errors import AgentError, bad_request, not_found
from ..core.limits import Limiter
from ..core.statedir import fresh_run_dir
from ..core.workdir import resolve_workdir
from ..engine import Engine
from ..models.base import within_max_timeout
from ..models.commands import CommandRequest
from ..models.execute import ExecuteRequest
from ..models.jobs import (
    AsyncExecuteRequest,
    AsyncQueued,
    BackgroundExecuteRequest,
    BackgroundStarted,
    JobList,
    JobRecord,
    KillAnswer,
)
from ..settings import Settings
from .job import Job
from .spill import remove_later
from .webhook import Webhook

log = logging.getLogger("kernelagent.jobs")

# How long /execute/background waits for its kernel before answering "queued" instead of "running".
START_WAIT = 3.0


def execution_of(req: BackgroundExecuteRequest, language: str, timeout: float, workdir: str) -> ExecuteRequest:
    """What the engine runs for a job: the request with the job's defaults applied (its language's
    canonical name, its timeout, its resolved workdir) and no context yet (the job makes its own)."""
    return ExecuteRequest.model_construct(
        code=req.code, language=language, timeout=timeout, env=req.env, workdir=workdir
    )


class JobService:
    """The registry of jobs: starts them, lists and reads them, kills them, forgets old ones.

    At most `max_running_jobs` run at once (one Limiter, 429 past it); a slot is held from
    registration until the job is done.
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        commands: CommandService,
        agent_token: Callable[[str], bool] | None = None,
    ):
        self.settings = settings
        self.agent_token = agent_token  # does a header value carry a token of this agent?
        self.engine = engine
        self.commands = commands
        self.jobs: dict[str, Job] = {}  # insertion order: oldest first
        self.running = Limiter(settings.max_running_jobs, "background jobs")
        self.spill_dir = ""

    async def start(self) -> None:
        base = self.settings.spill_dir or os.path.join(self.settings.state_dir, "jobs")
        self.spill_dir = fresh_run_dir(base)  # a killed agent's leftover spill files are cleared here

    async def stop(self) -> None:
        running = [j for j in self.jobs.values() if not j.finished]
        await asyncio.gather(*(self._kill(j, "the agent is shutting down") for j in running), return_exceptions=True)
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:  # webhook deliveries still retrying
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.spill_dir:
            shutil.rmtree(self.spill_dir, ignore_errors=True)

    # --- registry ---

    def _register(self, job: Job) -> None:
        self.prune()
        self.running.take()
        self.jobs[job.id] = job

    def _settle(self, job: Job) -> None:
        """The job is done (final status, no process left): its slot is free again."""
        if not job.done.is_set():
            job.done.set()
            self.running.give()

    def prune(self) -> None:
        cutoff = time.time() - self.settings.job_retention
        finished = [j for j in self.jobs.values() if j.finished and j.done.is_set()]
        excess = len(finished) - self.settings.job_retention_count
        for i, job in enumerate(finished):
            if i < excess or (job.ended or 0) < cutoff:
                self.jobs.pop(job.id, None)
                remove_later((job.spill_out.path, job.spill_err.path))

    def get(self, job_id: str) -> Job:
        self.prune()
        job = self.jobs.get(job_id)
        if job is None:
            raise not_found("PROCESS_NOT_FOUND", f"No such process: {job_id}", process_id=job_id)
        return job

    def info(self, job_id: str) -> JobRecord:
        return self.get(job_id).info(output=True)

    def list(self, output: bool = True) -> JobList:
        self.prune()
        processes = [j.info(output=output) for j in self.jobs.values()]
        return {"processes": processes, "count": len(processes), "timestamp": utc_now_iso()}

    def _spawn(self, job: Job, coro: Coroutine[Any, Any, None]) -> None:
        job.task = asyncio.create_task(coro)

    def _spawn_or_finish(self, job: Job, coro: Coroutine[Any, Any, None]) -> None:
        """Spawn a registered job's work; if even that fails, the record is finished and its slot freed."""
        try:
            self._spawn(job, coro)
        except BaseException:
            coro.close()
            job.finish("failed", 1, {"code": "INTERNAL_ERROR", "message": "the job could not be started"})
            job.running.set()
            self._settle(job)
            raise

    # --- background and webhook executions ---

    def _execution(
        self, req: BackgroundExecuteRequest, mode: str, default_timeout: float
    ) -> tuple[Job, ExecuteRequest]:
        """A registered execution job and what the engine runs for it (checked before anything starts)."""
        s = self.settings
        timeout = within_max_timeout(req.timeout, default_timeout, s.max_timeout)
        workdir = resolve_workdir(s, req.cwd)
        language = self.engine.language(req.language).name
        job = Job("execution", mode, req.name, s, self.spill_dir)
        job.language = language
        run = execution_of(req, language, timeout, workdir)
        self._register(job)
        return job, run

    async def start_background(self, req: BackgroundExecuteRequest) -> BackgroundStarted:
        job, run = self._execution(req, "background", self.settings.background_timeout)
        self._spawn_or_finish(job, self._run_execution(job, run))
        try:
            await asyncio.wait_for(asyncio.shield(job.running.wait()), START_WAIT)
        except TimeoutError:
            pass
        return {
            "process_id": job.id,
            "execution_id": job.id,
            "status": job.status,
            "name": job.name,
            "language": job.language,
            "pid": job.pid,
            "start_time": iso_from_epoch(job.started or job.created),
            "message": "Background execution started"
            if job.status == "running"
            else f"Background execution {job.status}",
            "timestamp": utc_now_iso(),
        }

    async def start_async(self, req: AsyncExecuteRequest) -> AsyncQueued:
        headers = dict(req.callback_headers or {})
        for name, value in headers.items():  # the agent's own credentials never leave it
            if self.agent_token is not None and self.agent_token(value):
                raise bad_request(
                    f"callback_headers.{name} carries a token of this agent; it is never forwarded",
                    field=f"callback_headers.{name}",
                )
        job, run = self._execution(req, "async", self.settings.async_timeout)
        job.webhook = Webhook(req.callback_url, headers, req.callback_signature_secret or None)
        self._spawn_or_finish(job, self._run_execution(job, run))
        return {
            "execution_id": job.id,
            "process_id": job.id,
            "status": "queued",
            "callback_url": req.callback_url,
            "message": "Execution queued; the result will be POSTed to callback_url",
            "timestamp": utc_now_iso(),
        }

    async def _run_execution(self, job: Job, req: ExecuteRequest) -> None:
        engine = self.engine
        try:
            try:
                info = await engine.create_context(req.language)  # a kernel of its own
                job.context_id = info["context_id"]
                job.mark_running(info.get("pid"))
                run = req.model_copy(update={"context_id": job.context_id})
                # the whole output reaches the job's spill files, not just what the answer keeps
                result = await engine.execute(run, listener=job.on_output, stream_limit=self.settings.job_spill_bytes)
            except asyncio.CancelledError:
                if not job.kill_requested:
                    job.finish("killed", 137, {"code": "KILLED", "message": "the agent is shutting down"})
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]
                job.finish("killed", 137, {"code": "KILLED", "message": job.kill_reason or "Killed on request"})
            except AgentError as exc:
                job.finish("failed", 1, {"code": exc.code, "message": exc.message})
            except Exception as exc:  # never let a job die silently
                log.exception("background execution %s failed", job.id)
                job.finish("failed", 1, {"code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"})
            else:
                job.finish_execution(result)
        finally:
            if job.context_id is not None:  # its kernel and everything it started
                await engine.end_context(job.context_id, self.settings.kill_grace)
            await job.close_spills()
            job.running.set()
            self._settle(job)
        if job.webhook is not None:
            body = json.dumps(job.payload(utc_now_iso()), default=str)
            await job.webhook.deliver(job.id, body, self.settings)
        self.prune()

    # --- background commands ---

    async def start_command(self, req: CommandRequest) -> BackgroundStarted:
        spec = self.commands.spec(req, background=True)
        job = Job("command", "background", spec.name, self.settings, self.spill_dir)
        job.command = spec.display
        job.language = "shell"
        self._register(job)
        try:  # whatever fails between registration and the spawn finishes the record and frees its slot
            run = job.command_run = self.commands.new_run(
                spec, sink=job.on_stream, limit=self.settings.job_output_bytes
            )
            started = await run.start()
        except BaseException:
            job.finish("failed", 1)
            self._settle(job)
            raise
        job.mark_running(run.pid)
        self._spawn(job, self._run_command(job, run, started))
        return {
            "process_id": job.id,
            "execution_id": job.id,
            "status": "running" if started else job.status,
            "name": job.name,
            "command": job.command,
            "pid": job.pid,
            "start_time": iso_from_epoch(job.started),
            "message": "Background command started",
            "timestamp": utc_now_iso(),
        }

    async def _run_command(self, job: Job, run: CommandRun, started: bool) -> None:
        try:
            if started:
                await run.wait()
            job.finish_command(run)
        except asyncio.CancelledError:
            job.finish("killed", 137, {"code": "KILLED", "message": "the agent is shutting down"})
            raise
        finally:
            await job.close_spills()
            self._settle(job)
            self.prune()

    # --- kill ---

    async def kill(self, job_id: str) -> KillAnswer:
        job = self.get(job_id)
        if job.finished:
            await job.done.wait()
            return job.kill_answer(job.status, f"Process already finished ({job.status})")
        await self._kill(job, "Killed on request")
        return job.kill_answer("killed", "Process killed")

    async def _kill(self, job: Job, why: str) -> None:
        job.kill_requested = True
        job.kill_reason = why
        if job.command_run is not None:
            killing = job.command_run.kill()
            if killing is not None:
                await killing
        elif job.task is not None and not job.task.done():
            job.task.cancel()
        elif job.task is None or job.task.done():  # nothing runs that could finish it: finish it here
            job.finish("killed", 137, {"code": "KILLED", "message": why})
            self._settle(job)
        await job.done.wait()
