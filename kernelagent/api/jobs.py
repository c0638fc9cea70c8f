"""Background and webhook executions, and the one registry of jobs (list, read, kill)."""

from __future__ import annotations

from ..models.jobs import (
    AsyncExecuteRequest,
    AsyncQueued,
    BackgroundExecuteRequest,
    BackgroundStarted,
    JobList,
    JobRecord,
    KillAnswer,
    KillBody,
    KillQuery,
    ProcessesQuery,
    kill_target,
)
from .base import BaseHandler
from .routing import Route, op


class BackgroundExecuteHandler(BaseHandler):
    """POST /execute/background: runs in a kernel of its own; answers at once with the process id."""

    @op(
        "Run code in the background, in a kernel of its own",
        body=BackgroundExecuteRequest,
        response=BackgroundStarted,
        idempotent=True,
    )
    async def post(self, body: BackgroundExecuteRequest) -> BackgroundStarted:
        return await self.services.jobs.start_background(body)


class AsyncExecuteHandler(BaseHandler):
    """POST /execute/async: answers `queued`; the result is POSTed to callback_url when done."""

    @op(
        "Run code in the background and POST the result to callback_url",
        body=AsyncExecuteRequest,
        response=AsyncQueued,
        idempotent=True,
    )
    async def post(self, body: AsyncExecuteRequest) -> AsyncQueued:
        return await self.services.jobs.start_async(body)


class JobsHandler(BaseHandler):
    """GET /execute/processes (?output=false leaves out stdout/stderr)."""

    @op("List the jobs: background and webhook executions, background commands", query=ProcessesQuery, response=JobList)
    def get(self, query: ProcessesQuery) -> JobList:
        return self.services.jobs.list(output=query.output)


class JobHandler(BaseHandler):
    """GET /execute/processes/{process_id}: one record with its output so far."""

    @op("One job, with its output so far", response=JobRecord)
    def get(self, process_id: str) -> JobRecord:
        return self.services.jobs.info(process_id)


class KillHandler(BaseHandler):
    """Every kill shape of the contract: POST /execute/kill/{process_id}, DELETE /execute/kill?process_id=,
    DELETE /execute/kill with {"process_id": ...}, POST /processes/{process_id}/kill."""

    @op(
        "Kill a job and its whole process tree",
        query=KillQuery,
        body=KillBody,
        body_required=False,
        response=KillAnswer,
    )
    async def post(self, query: KillQuery, body: KillBody, process_id: str | None = None) -> KillAnswer:
        return await self.services.jobs.kill(kill_target(process_id, query, body))

    @op(
        "Kill a job and its whole process tree",
        query=KillQuery,
        body=KillBody,
        body_required=False,
        response=KillAnswer,
    )
    async def delete(self, query: KillQuery, body: KillBody, process_id: str | None = None) -> KillAnswer:
        return await self.services.jobs.kill(kill_target(process_id, query, body))


routes = [
    Route("/execute/background", BackgroundExecuteHandler),
    Route("/execute/async", AsyncExecuteHandler),
    Route("/execute/processes", JobsHandler),
    Route("/execute/processes/{process_id}", JobHandler),
    Route("/execute/kill", KillHandler),
    Route("/execute/kill/{process_id}", KillHandler),
    Route("/processes/{process_id}/kill", KillHandler),
]
