"""Shell commands: run to completion, or in the background as a job of the registry."""

from __future__ import annotations

from ..models.commands import CommandRequest, CommandResult
from ..models.jobs import BackgroundStarted
from .base import BaseHandler
from .routing import Route, op


class CommandRunHandler(BaseHandler):
    """POST /commands/run: 200 with the exit code whatever the command did."""

    @op(
        "Run a command to completion (200 whatever its exit code)",
        body=CommandRequest,
        response=CommandResult,
        idempotent=True,
    )
    async def post(self, body: CommandRequest) -> CommandResult:
        return await self.services.commands.run(body)


class CommandBackgroundHandler(BaseHandler):
    """POST /commands/background: registered like a background execution."""

    @op(
        "Start a command in the background; it is listed and killed as a job",
        body=CommandRequest,
        response=BackgroundStarted,
        idempotent=True,
    )
    async def post(self, body: CommandRequest) -> BackgroundStarted:
        return await self.services.jobs.start_command(body)


routes = [
    Route("/commands/run", CommandRunHandler),
    Route("/commands/background", CommandBackgroundHandler),
]
