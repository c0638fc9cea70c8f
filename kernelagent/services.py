"""The services container: built once at start, handed to every handler through initialize()."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from . import __version__
from .auth import Authenticator
from .engine import Engine
from .environment import EnvStore
from .files import FileService
from .settings import Settings


@dataclass
class Services:
    settings: Settings
    auth: Authenticator
    env: EnvStore
    engine: Engine
    files: FileService
    started_at: float = field(default_factory=time.time)
    version: str = __version__

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        env = EnvStore()
        return cls(settings=settings, auth=Authenticator(settings), env=env, engine=Engine(settings, env),
                   files=FileService(settings))

    async def start(self) -> None:
        os.makedirs(self.settings.workspace, exist_ok=True)
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()
        self.files.close()

    def uptime(self) -> float:
        return time.time() - self.started_at
