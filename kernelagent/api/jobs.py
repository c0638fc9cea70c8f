"""Background and webhook executions, and the one registry of jobs (list, read, kill)."""

from __future__ import annotations

from ..core.errors import missing
from ..core.clock import utc_now_iso
from .routing import Route
from .base import BaseHandler


class BackgroundExecuteHandler(BaseHandler):
    """POST /execute/background: runs in a kernel of its own; answers at once with the process id."""

    async def post(self) -> None:
        body = self.json_body()
        self.write_json(await self.run_once(body, lambda: self.services.jobs.start_background(body)))


class AsyncExecuteHandler(BaseHandler):
    """POST /execute/async: answers `queued`; the result is POSTed to callback_url when done."""

    async def post(self) -> None:
        body = self.json_body()
        self.write_json(await self.run_once(body, lambda: self.services.jobs.start_async(body)))


class ProcessesHandler(BaseHandler):
    """GET /execute/processes (?output=false leaves out stdout/stderr)."""

    def get(self) -> None:
        output = (self.query("output", "true") or "true").lower() not in ("0", "false", "no")
        processes = self.services.jobs.list(output=output)
        self.write_json({"processes": processes, "count": len(processes), "timestamp": utc_now_iso()})


class ProcessHandler(BaseHandler):
    """GET /execute/processes/{id}: one record with its output so far."""

    def get(self, process_id: str) -> None:
        self.write_json(self.services.jobs.get(process_id).record(output=True))


class KillHandler(BaseHandler):
    """Every kill shape of the contract: POST /execute/kill/{id}, DELETE /execute/kill?process_id=,
    DELETE /execute/kill with {"process_id": ...}, POST /processes/{id}/kill."""

    async def post(self, process_id: str | None = None) -> None:
        await self._kill(process_id)

    async def delete(self, process_id: str | None = None) -> None:
        await self._kill(process_id)

    async def _kill(self, process_id: str | None) -> None:
        if not process_id:
            process_id = self.query("process_id") or self.query("execution_id")
        if not process_id:
            body = self.json_body(required=False)
            value = body.get("process_id") or body.get("execution_id")
            process_id = value if isinstance(value, str) else None
        if not process_id:
            raise missing("process_id")
        self.write_json(await self.services.jobs.kill(process_id))


routes = [
    Route("/execute/background", BackgroundExecuteHandler),
    Route("/execute/async", AsyncExecuteHandler),
    Route("/execute/processes", ProcessesHandler),
    Route("/execute/processes/{process_id}", ProcessHandler),
    Route("/execute/kill", KillHandler),
    Route("/execute/kill/{process_id}", KillHandler),
    Route("/processes/{process_id}/kill", KillHandler),
]
