"""Shell commands: run to completion, or in the background as a job of the registry."""

from __future__ import annotations

from .base import BaseHandler


class CommandRunHandler(BaseHandler):
    """POST /commands/run: 200 with the exit code whatever the command did."""

    async def post(self) -> None:
        self.write_json(await self.services.commands.run(self.json_body()))


class CommandBackgroundHandler(BaseHandler):
    """POST /commands/background: registered like a background execution."""

    async def post(self) -> None:
        self.write_json(await self.services.jobs.start_command(self.json_body()))


routes = [
    (r"/commands/run", CommandRunHandler),
    (r"/commands/background", CommandBackgroundHandler),
]
