"""One job: its state, its bounded output in memory and in spill files, and its record."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

from ..commands import CommandRun
from ..core.clock import iso_from_epoch, utc_now_iso
from ..core.text import BoundedText, truncation
from ..models.execute import ExecuteAnswer
from ..models.jobs import JobRecord, KillAnswer
from ..settings import Settings
from .spill import Spill
from .webhook import Webhook

FINISHED = ("completed", "failed", "killed", "timeout")
# keys of an execution's /execute answer that its record repeats
RESULT_KEYS = ("result", "rich_outputs", "png", "html", "svg", "markdown", "json")


def kept_result(result: ExecuteAnswer, budget: int) -> ExecuteAnswer:
    """An /execute answer with its result fields (RESULT_KEYS) held to `budget` bytes of JSON in
    all: `result` is cut with the marker, rich outputs past the budget are left out, and the answer
    says `truncated: true` when anything was (the record then says so too)."""
    # stdout and stderr are the job's own bounded buffers; the answer's copies are not kept twice
    kept: dict[str, Any] = {k: v for k, v in result.items() if k not in RESULT_KEYS and k not in ("stdout", "stderr")}
    left = budget
    cut = False
    if "result" in result:
        text = BoundedText(max(left, 0))
        text.add(result["result"])
        kept["result"] = text.text()
        left -= text.size
        cut = text.truncated
    rich = []
    dropped = 0
    for entry in result.get("rich_outputs", []):
        size = len(json.dumps(entry, default=str))
        if size <= left:
            rich.append(entry)
            left -= size
        else:
            dropped += 1
    if "rich_outputs" in result:
        kept["rich_outputs"] = rich
    for key in RESULT_KEYS[2:]:  # png, html, ...: the first rich output of each kind, again
        if key in result:
            size = len(json.dumps(result[key], default=str))  # type: ignore[literal-required]
            if size <= left:
                kept[key] = result[key]  # type: ignore[literal-required]
                left -= size
            else:
                cut = True
    if cut or dropped:
        kept["truncated"] = True
    return kept  # type: ignore[return-value]


class Job:
    """A background execution, webhook execution or background command, from queued to finished.

    `running` is set once it runs (or ended before it could); `done` once its status is final and
    its process tree is gone.
    """

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
        self.result: ExecuteAnswer | None = None  # an execution's /execute answer
        self.context_id: str | None = None
        self.command_run: CommandRun | None = None
        self.webhook: Webhook | None = None
        self.task: asyncio.Task[None] | None = None
        self.kill_requested = False
        self.kill_reason = ""
        self.running = asyncio.Event()
        self.done = asyncio.Event()
        limit = settings.job_output_bytes
        self.stdout, self.stderr = BoundedText(limit), BoundedText(limit)
        self.spill_out = Spill(os.path.join(spill_dir, f"{self.id}.stdout"), settings.job_spill_bytes)
        self.spill_err = Spill(os.path.join(spill_dir, f"{self.id}.stderr"), settings.job_spill_bytes)
        self.rich_count = 0
        self.result_budget = settings.job_result_bytes
        self.full_result: ExecuteAnswer | None = None  # until the webhook's body is built

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

    async def close_spills(self) -> None:
        await asyncio.gather(self.spill_out.close(), self.spill_err.close(), return_exceptions=True)

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

    def finish_execution(self, result: ExecuteAnswer) -> None:
        """An execution's /execute answer: completed, timed out or failed. The record keeps its
        result fields within `job_result_bytes` (finished records stay small); a webhook still
        gets the whole answer, once."""
        self.result = kept_result(result, self.result_budget)
        if self.webhook is not None:
            self.full_result = result
        error = result.get("error")
        if result.get("success"):
            status = "completed"
        elif error and error.get("code") == "EXECUTION_TIMEOUT":
            status = "timeout"
        else:
            status = "failed"
        self.finish(status, result.get("exit_code"), error)

    def finish_command(self, run: CommandRun) -> None:
        """A command's end: timed out, killed, completed (exit 0) or failed."""
        if run.timed_out:
            status = "timeout"
        elif run.killed:
            status = "killed"
        else:
            status = "completed" if run.exit_code == 0 else "failed"
        error = None
        if run.error:
            error = {"code": "EXECUTION_TIMEOUT" if run.timed_out else "COMMAND_FAILED", "message": run.error}
        self.finish(status, run.exit_code, error)

    def duration(self) -> float | None:
        if self.started is None:
            return None
        return round((self.ended or time.time()) - self.started, 6)

    def info(self, output: bool = True) -> JobRecord:
        start, end = iso_from_epoch(self.started or self.created), iso_from_epoch(self.ended)
        rec: JobRecord = {
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
            "truncated": self.stdout.truncated
            or self.stderr.truncated
            or bool(self.result and self.result.get("truncated")),
            "rich_output_count": self.rich_count,
        }
        cut = truncation(self.stdout, self.stderr)
        if cut is not None:
            rec["truncation"] = cut
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
                for key in RESULT_KEYS:
                    if key in self.result:
                        rec[key] = self.result[key]  # type: ignore[literal-required]
        return rec

    def kill_answer(self, status: str, message: str) -> KillAnswer:
        return {
            "process_id": self.id,
            "execution_id": self.id,
            "status": status,
            "success": True,
            "message": message,
            "timestamp": utc_now_iso(),
        }

    def payload(self, timestamp: str) -> dict[str, Any]:
        """What a webhook POSTs: the /execute answer (less its context) and the job's outcome."""
        result: Mapping[str, Any] = self.full_result or self.result or {}
        self.full_result = None
        payload = {k: v for k, v in result.items() if k != "context_id"}
        payload.update(
            {
                "execution_id": self.id,
                "process_id": self.id,
                "status": self.status,
                "success": self.status == "completed",
                "stdout": result.get("stdout", self.stdout.text()),
                "stderr": result.get("stderr", self.stderr.text()),
                "exit_code": self.exit_code,
                "execution_time": result.get("execution_time", self.duration()),
                "language": self.language,
                "timestamp": timestamp,
            }
        )
        if self.error:
            payload["error"] = self.error
        return payload
