"""The services container: built once at start, handed to every handler through initialize()."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .auth import Authenticator
from .commands import CommandService
from .core.clock import Uptime
from .core.memory import MemoryTrimmer
from .core.runas import run_as
from .core.statedir import private_dir
from .desktop import DesktopService
from .engine import Engine
from .environment import EnvStore
from .files import FileService
from .gateway import GatewayService
from .idempotency import ExecutionCache
from .jobs import JobService
from .mcp.endpoint import McpEndpoint
from .metrics import Metrics
from .notebooks import NotebookService
from .settings import Settings
from .terminal import TerminalManager


@dataclass
class Services:
    """Every service of the agent, built once at start and handed to the handlers."""

    settings: Settings
    auth: Authenticator
    env: EnvStore
    engine: Engine
    cache: ExecutionCache
    terminals: TerminalManager
    metrics: Metrics
    files: FileService
    commands: CommandService
    jobs: JobService
    notebooks: NotebookService
    desktop: DesktopService
    gateway: GatewayService
    memory: MemoryTrimmer
    uptime: Uptime = field(default_factory=Uptime)
    mcp: McpEndpoint = field(init=False)  # /mcp; needs the container itself, so made after it

    def __post_init__(self) -> None:
        self.mcp = McpEndpoint(self)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        run_as(settings.run_as_user)  # an unknown user stops the start here (RunAsError)
        env = EnvStore()
        engine = Engine(settings, global_env=env.all)
        cache = ExecutionCache(settings)
        terminals = TerminalManager(settings, env)
        commands = CommandService(settings, env)
        uptime = Uptime()
        metrics = Metrics(settings, engine, cache, terminals, uptime)
        files = FileService(settings)
        auth = Authenticator(settings)
        return cls(
            settings=settings,
            auth=auth,
            env=env,
            engine=engine,
            cache=cache,
            terminals=terminals,
            metrics=metrics,
            uptime=uptime,
            files=files,
            commands=commands,
            jobs=JobService(settings, engine, commands, agent_token=auth.accepts),
            notebooks=NotebookService(settings, engine, files),
            desktop=DesktopService(settings),
            gateway=GatewayService(settings, engine),
            memory=MemoryTrimmer(settings.memory_trim_interval),
        )

    async def start(self) -> None:
        private_dir(self.settings.state_dir)  # 0700 even where it existed wider
        created = not os.path.isdir(self.settings.workspace)
        os.makedirs(self.settings.workspace, exist_ok=True)
        if (user := run_as(self.settings.run_as_user)) is not None:
            user.prepare(self.settings.workspace, created)
        await self.desktop.start()  # first: kernels and commands inherit its DISPLAY
        await self.engine.start()
        await self.jobs.start()
        self.memory.start()

    async def stop(self) -> None:
        await self.mcp.stop()  # first: MCP sessions call the other services
        await self.jobs.stop()  # first: background executions hold contexts of the engine
        await self.terminals.stop()
        self.gateway.stop()
        await self.cache.stop()
        await self.engine.stop()
        self.files.close()
        await self.desktop.stop()
        await self.memory.stop()
