"""The command service: a typed CommandRequest made into a CommandSpec, and run to completion."""

from __future__ import annotations

import shlex

from ..core.runas import run_as
from ..core.text import BoundedText
from ..core.workdir import resolve_workdir
from ..environment import EnvStore
from ..models.base import within_max_timeout
from ..models.commands import CommandRequest, CommandResult
from ..settings import Settings
from .run import CommandRun, CommandSpec, OutputSink


def argv_of(req: CommandRequest) -> tuple[list[str], str]:
    """Both forms of the contract: `command` + `args` is an argv (shown shell-quoted); `command`
    alone is a /bin/sh -c string (shown as sent)."""
    if req.args is not None:
        argv = [req.command, *req.args]
        return argv, shlex.join(argv)
    return ["/bin/sh", "-c", req.command], req.command


class CommandService:
    """Runs commands to completion (/commands/run); background commands go through the job registry."""

    def __init__(self, settings: Settings, env_store: EnvStore):
        self.settings = settings
        self.env_store = env_store

    def spec(self, req: CommandRequest, background: bool = False) -> CommandSpec:
        """The settings applied to a request: default timeout, full environment, resolved workdir."""
        s = self.settings
        argv, display = argv_of(req)
        default = s.background_timeout if background else s.command_timeout
        env = self.env_store.process_env(req.env)
        user = run_as(s.run_as_user)
        if user is not None:  # its HOME, USER, LOGNAME, unless /env or the request set them
            env = user.environ(env, keep=self.env_store.overlay(req.env))
        return CommandSpec(
            argv=argv,
            display=display,
            timeout=within_max_timeout(req.timeout, default, s.max_timeout),
            env=env,
            workdir=resolve_workdir(s, req.cwd),
            name=req.name,
            user=user,
        )

    def new_run(self, spec: CommandSpec, sink: OutputSink | None = None, limit: int | None = None) -> CommandRun:
        s = self.settings
        return CommandRun(
            spec,
            BoundedText(limit or s.max_stdout_bytes),
            BoundedText(limit or s.max_stderr_bytes),
            sink=sink,
            kill_grace=s.kill_grace,
        )

    async def run(self, req: CommandRequest) -> CommandResult:
        run = self.new_run(self.spec(req))
        await run.run()
        return run.response()
