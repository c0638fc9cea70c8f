"""The job registry: background executions, webhook (async) executions and background commands.

One registry holds every job: it is listed by GET /execute/processes, read one at a time with its
output so far, and killed by any of the contract's kill shapes. A background execution runs in a
temporary context of its own (a kernel from the warm pool), so the caller's default context stays
free; when it ends, that kernel's whole process tree is ended and the context deleted. Output kept
in memory per job is bounded; the full output goes to spill files (written off the event loop)
whose paths the record gives. Finished records are dropped after a configurable time and count.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from . import __version__
from .commands import CommandRun, CommandService
from .core.workdir import resolve_workdir
from .core.text import BoundedText
from .engine import Engine
from .models.base import parse_object, within_max_timeout
from .models.execute import ExecuteAnswer, ExecuteRequest
from .core.errors import AgentError, bad_request, not_found
from .settings import Settings
from .core.clock import iso_from_epoch, utc_now_iso

log = logging.getLogger("kernelagent.jobs")

FINISHED = ("completed", "failed", "killed", "timeout")
# How long /execute/background waits for its kernel before answering "queued" instead of "running".
START_WAIT = 3.0
MAX_BACKOFF = 60.0


class Spill:
    """A stream's full output, appended to a file by one writer task in an executor thread."""

    def __init__(self, path: str, limit: int):
        self.path = path
        self.limit = limit
        self.size = 0
        self.dropped = 0
        self._pending: list[bytes] = []
        self._task: asyncio.Task | None = None
        self._fh = None

    def add(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        room = self.limit - self.size
        if len(data) > room:
            self.dropped += len(data) - max(room, 0)
            data = data[:max(room, 0)]
        if not data:
            return
        self.size += len(data)
        self._pending.append(data)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())

    def _write(self, data: bytes) -> None:
        if self._fh is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fh = os.fdopen(fd, "ab", buffering=0)
        if data:
            self._fh.write(data)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            try:
                await loop.run_in_executor(None, self._write, data)
            except OSError as exc:
                log.warning("spill %s: %s", self.path, exc)
                return

    async def close(self) -> None:
        if self._task is not None:
            await self._task
        if self.dropped:
            self._pending.append(f"\n[... {self.dropped} more bytes not kept by kernelagent ...]\n".encode())
        self._pending.append(b"")  # creates the file even when the job printed nothing
        await self._flush()
        if self._fh is not None:
            fh, self._fh = self._fh, None
            await asyncio.get_running_loop().run_in_executor(None, fh.close)


@dataclasses.dataclass
class Webhook:
    url: str
    headers: dict[str, str]
    secret: str | None
    status: str = "pending"  # pending -> delivering -> delivered | failed
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: float | None = None

    def info(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "attempts": self.attempts, "signed": bool(self.secret),
                "last_status_code": self.last_status_code, "last_error": self.last_error,
                "delivered_at": iso_from_epoch(self.delivered_at)}


class Job:
    def __init__(self, kind: str, mode: str, name: str | None, settings: Settings, spill_dir: str):
        self.id = "proc_" + uuid.uuid4().hex
        self.kind = kind  # "execution" | "command"
        self.mode = mode  # "background" | "async"
        self.name = name
        self.language: str | None = None
        self.command: str | None = None
        self.status = "queued"
        self.created = time.time()
        self.started: float | None = None
        self.ended: float | None = None
        self.exit_code: int | None = None
        self.pid: int | None = None
        self.error: Mapping[str, Any] | None = None
        self.result: ExecuteAnswer | None = None  # an execution's /execute response
        self.context_id: str | None = None
        self.command_run: CommandRun | None = None
        self.webhook: Webhook | None = None
        self.task: asyncio.Task | None = None
        self.kill_requested = False
        self.kill_reason = ""
        self.running = asyncio.Event()
        self.done = asyncio.Event()  # set once the status is final and the process tree is gone
        limit = settings.job_output_bytes
        self.stdout, self.stderr = BoundedText(limit), BoundedText(limit)
        self.spill_out = Spill(os.path.join(spill_dir, f"{self.id}.stdout"), settings.job_spill_bytes)
        self.spill_err = Spill(os.path.join(spill_dir, f"{self.id}.stderr"), settings.job_spill_bytes)
        self.rich_count = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    # --- output, from the engine's listener or a command's sink ---

    def on_stream(self, name: str, text: str) -> None:
        if name == "stderr":
            self.stderr.add(text)
            self.spill_err.add(text)
        else:
            self.stdout.add(text)
            self.spill_out.add(text)

    def on_output(self, kind: str, payload: Any) -> None:
        if kind in ("stdout", "stderr"):
            self.on_stream(kind, payload)
        elif kind == "display":
            self.rich_count += 1

    # --- state ---

    def mark_running(self, pid: int | None) -> None:
        self.pid = pid
        self.started = time.time()
        self.status = "running"
        self.running.set()

    def finish(self, status: str, exit_code: int | None, error: Mapping[str, Any] | None = None) -> None:
        if self.finished:
            return
        self.status = status
        self.exit_code = exit_code
        self.error = error
        self.ended = time.time()

    def duration(self) -> float | None:
        if self.started is None:
            return None
        return round((self.ended or time.time()) - self.started, 6)

    def record(self, output: bool = True) -> dict[str, Any]:
        start, end = iso_from_epoch(self.started or self.created), iso_from_epoch(self.ended)
        rec: dict[str, Any] = {
            "process_id": self.id,
            "execution_id": self.id,
            "id": self.id,
            "name": self.name,
            "type": self.kind,
            "mode": self.mode,
            "status": self.status,
            "language": self.language,
            "command": self.command,
            "pid": self.pid,
            "start_time": start,
            "started_at": start,
            "created_at": iso_from_epoch(self.created),
            "end_time": end,
            "completed_at": end,
            "exit_code": self.exit_code,
            "success": (self.status == "completed") if self.finished else None,
            "duration": self.duration(),
            "execution_time": self.duration(),
            "stdout_file": self.spill_out.path,
            "stderr_file": self.spill_err.path,
            "stdout_bytes": self.stdout.size + self.stdout.dropped,
            "stderr_bytes": self.stderr.size + self.stderr.dropped,
            "truncated": self.stdout.truncated or self.stderr.truncated,
            "rich_output_count": self.rich_count,
        }
        if self.context_id:
            rec["context_id"] = self.context_id
        if self.error:
            rec["error"] = self.error
        if self.webhook:
            rec["callback_url"] = self.webhook.url
            rec["webhook"] = self.webhook.info()
        if output:
            rec["stdout"] = self.stdout.text()
            rec["stderr"] = self.stderr.text()
            if self.result:
                for key in ("result", "rich_outputs", "png", "html", "svg", "markdown", "json"):
                    if key in self.result:
                        rec[key] = self.result[key]
        return rec


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise bad_request(f"'{what}' must be an object mapping names to strings")
    for k, v in value.items():
        if not k or any(c in k for c in "\r\n:") or any(c in v for c in "\r\n"):
            raise bad_request(f"'{what}' holds an invalid header: {k!r}")
    return dict(value)


def sign(secret: str, timestamp: str, body: str) -> str:
    """The X-HOPX-Signature value: HMAC-SHA256 over f"{timestamp}{body}"."""
    digest = hmac.new(secret.encode(), f"{timestamp}{body}".encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class JobService:
    def __init__(self, settings: Settings, engine: Engine, commands: CommandService):
        self.settings = settings
        self.engine = engine
        self.commands = commands
        self.jobs: dict[str, Job] = {}  # insertion order: oldest first
        self.spill_dir = ""

    async def start(self) -> None:
        base = self.settings.spill_dir or os.path.join(self.settings.state_dir, "jobs")
        os.makedirs(base, mode=0o700, exist_ok=True)
        self.spill_dir = tempfile.mkdtemp(prefix="run-", dir=base)

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
        running = sum(1 for j in self.jobs.values() if not j.finished)
        if running >= self.settings.max_running_jobs:
            raise AgentError("RATE_LIMIT_EXCEEDED", 429,
                             f"Too many background jobs running ({running}, max {self.settings.max_running_jobs})")
        self.jobs[job.id] = job

    def prune(self) -> None:
        cutoff = time.time() - self.settings.job_retention
        finished = [j for j in self.jobs.values() if j.finished and j.done.is_set()]
        excess = len(finished) - self.settings.job_retention_count
        for i, job in enumerate(finished):
            if i < excess or (job.ended or 0) < cutoff:
                self._forget(job)

    def _forget(self, job: Job) -> None:
        self.jobs.pop(job.id, None)
        paths = (job.spill_out.path, job.spill_err.path)

        def unlink() -> None:
            for path in paths:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        asyncio.get_running_loop().run_in_executor(None, unlink)

    def get(self, job_id: str) -> Job:
        self.prune()
        job = self.jobs.get(job_id)
        if job is None:
            raise not_found("PROCESS_NOT_FOUND", f"No such process: {job_id}", process_id=job_id)
        return job

    def list(self, output: bool = True) -> list[dict]:
        self.prune()
        return [j.record(output=output) for j in self.jobs.values()]

    def _spawn(self, job: Job, coro) -> None:
        job.task = asyncio.create_task(coro)

    # --- background and webhook executions ---

    def _execute_request(self, body: dict, default_timeout: float) -> ExecuteRequest:
        req = parse_object(ExecuteRequest, body)
        return req.model_copy(update={
            "timeout": within_max_timeout(req.timeout, default_timeout, self.settings.max_timeout),
            "workdir": resolve_workdir(self.settings, req.cwd),
            "working_dir": None,
            "context_id": None,  # a background execution always gets a kernel of its own
            "language": self.engine.language(req.language).name,
        })

    async def start_background(self, body: dict) -> dict:
        req = self._execute_request(body, self.settings.background_timeout)
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise bad_request("'name' must be a string")
        job = Job("execution", "background", name, self.settings, self.spill_dir)
        job.language = req.language
        self._register(job)
        self._spawn(job, self._run_execution(job, req))
        try:
            await asyncio.wait_for(asyncio.shield(job.running.wait()), START_WAIT)
        except asyncio.TimeoutError:
            pass
        return {
            "process_id": job.id,
            "execution_id": job.id,
            "status": job.status,
            "name": job.name,
            "language": job.language,
            "pid": job.pid,
            "start_time": iso_from_epoch(job.started or job.created),
            "message": "Background execution started" if job.status == "running" else
                       f"Background execution {job.status}",
            "timestamp": utc_now_iso(),
        }

    async def start_async(self, body: dict) -> dict:
        url = body.get("callback_url")
        if not url:
            raise AgentError("MISSING_PARAMETER", 400, "Missing required parameter: callback_url",
                             {"parameter": "callback_url"})
        if not isinstance(url, str):
            raise bad_request("'callback_url' must be a string")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("'callback_url' must be an http or https URL", url=url)
        headers = _string_map(body.get("callback_headers"), "callback_headers")
        secret = body.get("callback_signature_secret")
        if secret is not None and not isinstance(secret, str):
            raise bad_request("'callback_signature_secret' must be a string")
        req = self._execute_request(body, self.settings.async_timeout)
        job = Job("execution", "async", body.get("name") if isinstance(body.get("name"), str) else None,
                  self.settings, self.spill_dir)
        job.language = req.language
        job.webhook = Webhook(url, headers, secret or None)
        self._register(job)
        self._spawn(job, self._run_execution(job, req))
        return {
            "execution_id": job.id,
            "process_id": job.id,
            "status": "queued",
            "callback_url": url,
            "message": "Execution queued; the result will be POSTed to callback_url",
            "timestamp": utc_now_iso(),
        }

    async def _run_execution(self, job: Job, req: ExecuteRequest) -> None:
        engine = self.engine
        try:
            try:
                info = await engine.create_context(req.language)
                job.context_id = info["context_id"]
                job.mark_running(info.get("pid"))
                # the whole output reaches the job's spill files, not just what the result keeps
                run = req.model_copy(update={"context_id": job.context_id})
                result = await engine.execute(run, listener=job.on_output, stream_limit=self.settings.job_spill_bytes)
            except asyncio.CancelledError:
                if not job.kill_requested:
                    job.finish("killed", 137, {"code": "KILLED", "message": "the agent is shutting down"})
                    raise
                asyncio.current_task().uncancel()
                job.finish("killed", 137, {"code": "KILLED", "message": job.kill_reason or "Killed on request"})
            except AgentError as exc:
                job.finish("failed", 1, {"code": exc.code, "message": exc.message})
            except Exception as exc:  # never let a job die silently
                log.exception("background execution %s failed", job.id)
                job.finish("failed", 1, {"code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"})
            else:
                job.result = result
                error = result.get("error")
                if result.get("success"):
                    status = "completed"
                elif error and error.get("code") == "EXECUTION_TIMEOUT":
                    status = "timeout"
                else:
                    status = "failed"
                job.finish(status, result.get("exit_code"), error)
        finally:
            await self._end_kernel(job)
            await asyncio.gather(job.spill_out.close(), job.spill_err.close(), return_exceptions=True)
            job.running.set()
            job.done.set()
        if job.webhook is not None:
            await self._deliver(job)
        self.prune()

    async def _end_kernel(self, job: Job) -> None:
        """End the job's kernel and everything it started, then drop its temporary context."""
        if job.context_id is not None:
            await self.engine.end_context(job.context_id, self.settings.kill_grace)

    # --- background commands ---

    async def start_command(self, body: dict) -> dict:
        spec = self.commands.parse(body, background=True)
        job = Job("command", "background", spec.name, self.settings, self.spill_dir)
        job.command = spec.display
        job.language = "shell"
        self._register(job)
        run = job.command_run = self.commands.new_run(spec, sink=job.on_stream, limit=self.settings.job_output_bytes)
        started = await run.start()
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
            if run.timed_out:
                status = "timeout"
            elif run.killed:
                status = "killed"
            else:
                status = "completed" if run.exit_code == 0 else "failed"
            error = None
            if run.error:
                error = {"code": "EXECUTION_TIMEOUT" if run.timed_out else "COMMAND_FAILED", "message": run.error}
            job.finish(status, run.exit_code, error)
        except asyncio.CancelledError:
            job.finish("killed", 137, {"code": "KILLED", "message": "the agent is shutting down"})
            raise
        finally:
            await asyncio.gather(job.spill_out.close(), job.spill_err.close(), return_exceptions=True)
            job.done.set()
            self.prune()

    # --- kill ---

    async def kill(self, job_id: str) -> dict:
        job = self.get(job_id)
        if job.finished:
            await job.done.wait()
            return {"process_id": job.id, "execution_id": job.id, "status": job.status, "success": True,
                    "message": f"Process already finished ({job.status})", "timestamp": utc_now_iso()}
        await self._kill(job, "Killed on request")
        return {"process_id": job.id, "execution_id": job.id, "status": "killed", "success": True,
                "message": "Process killed", "timestamp": utc_now_iso()}

    async def _kill(self, job: Job, why: str) -> None:
        job.kill_requested = True
        job.kill_reason = why
        if job.command_run is not None:
            killing = job.command_run.kill()
            if killing is not None:
                await killing
        elif job.task is not None and not job.task.done():
            job.task.cancel()
        await job.done.wait()

    # --- webhooks ---

    def _payload(self, job: Job) -> dict:
        result: Mapping[str, Any] = job.result or {}
        payload = {k: v for k, v in result.items() if k not in ("context_id",)}
        payload.update({
            "execution_id": job.id,
            "process_id": job.id,
            "status": job.status,
            "success": job.status == "completed",
            "stdout": result.get("stdout", job.stdout.text()),
            "stderr": result.get("stderr", job.stderr.text()),
            "exit_code": job.exit_code,
            "execution_time": result.get("execution_time", job.duration()),
            "language": job.language,
            "timestamp": utc_now_iso(),
        })
        if job.error:
            payload["error"] = job.error
        return payload

    async def _deliver(self, job: Job) -> None:
        hook = job.webhook
        s = self.settings
        body = json.dumps(self._payload(job), default=str)
        client = AsyncHTTPClient()
        delay = s.webhook_backoff
        for attempt in range(1 + max(s.webhook_retries, 0)):
            if attempt:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
            hook.status = "delivering"
            hook.attempts += 1
            timestamp = str(int(time.time()))
            headers = {"Content-Type": "application/json", "User-Agent": f"kernelagent/{__version__}"}
            headers.update(hook.headers)
            headers.update({"X-HOPX-Execution-ID": job.id, "X-HOPX-Delivery-Attempt": str(hook.attempts)})
            if hook.secret:
                headers["X-HOPX-Timestamp"] = timestamp
                headers["X-HOPX-Signature"] = sign(hook.secret, timestamp, body)
            request = HTTPRequest(hook.url, method="POST", body=body, headers=headers, follow_redirects=False,
                                  connect_timeout=s.webhook_timeout, request_timeout=s.webhook_timeout)
            try:
                response = await client.fetch(request, raise_error=False)
            except Exception as exc:
                hook.last_status_code, hook.last_error = None, f"{type(exc).__name__}: {exc}"
                retry = True
            else:
                hook.last_status_code = response.code
                if 200 <= response.code < 300:
                    hook.status, hook.last_error, hook.delivered_at = "delivered", None, time.time()
                    return
                hook.last_error = f"HTTP {response.code}"
                retry = response.code in (408, 425, 429) or response.code >= 500
            if not retry:
                break
            hook.status = "pending"
        hook.status = "failed"
        log.warning("webhook for %s to %s failed after %d attempts: %s", job.id, hook.url, hook.attempts,
                    hook.last_error)
