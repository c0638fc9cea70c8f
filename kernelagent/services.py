"""The services container: built once at start, handed to every handler through initialize()."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from . import __version__
from .auth import Authenticator
from .commands import CommandService
from .engine import Engine
from .environment import EnvStore
from .jobs import JobService
from .settings import Settings


@dataclass
class Services:
    settings: Settings
    auth: Authenticator
    env: EnvStore
    engine: Engine
    commands: CommandService
    jobs: JobService
    started_at: float = field(default_factory=time.time)
    version: str = __version__

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        env = EnvStore()
        engine = Engine(settings, env)
        commands = CommandService(settings, env)
        return cls(settings=settings, auth=Authenticator(settings), env=env, engine=engine,
                   commands=commands, jobs=JobService(settings, engine, commands))

    async def start(self) -> None:
        os.makedirs(self.settings.workspace, exist_ok=True)
        await self.engine.start()
        await self.jobs.start()

    async def stop(self) -> None:
        await self.jobs.stop()  # first: background executions hold contexts of the engine
        await self.engine.stop()

    def uptime(self) -> float:
        return time.time() - self.started_at
