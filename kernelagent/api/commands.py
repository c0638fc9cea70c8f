"""Shell commands: run to completion, or in the background as a job of the registry."""

from __future__ import annotations

from .routing import Route
from .base import BaseHandler


class CommandRunHandler(BaseHandler):
    """POST /commands/run: 200 with the exit code whatever the command did."""

    async def post(self) -> None:
        body = self.json_body()
        self.write_json(await self.run_once(body, lambda: self.services.commands.run(body)))


class CommandBackgroundHandler(BaseHandler):
    """POST /commands/background: registered like a background execution."""

    async def post(self) -> None:
        body = self.json_body()
        self.write_json(await self.run_once(body, lambda: self.services.jobs.start_command(body)))


routes = [
    Route("/commands/run", CommandRunHandler),
    Route("/commands/background", CommandBackgroundHandler),
]
