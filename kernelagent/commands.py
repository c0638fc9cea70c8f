"""Shell commands and process trees.

A command runs as an asyncio subprocess in a session (and process group) of its own, with the
full environment of EnvStore.process_env. At its deadline, or when killed, its whole tree is
ended: SIGTERM to the group and to every descendant found by psutil, then SIGKILL to whatever is
left after a grace. Nothing here blocks the event loop: pipes are read by asyncio, and the
waits are polls with asyncio.sleep.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import shlex
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import psutil

from .environment import EnvStore, validate_env
from .core.errors import bad_request, missing
from .settings import Settings
from .core.clock import utc_now_iso
from .core.workdir import parse_timeout, resolve_workdir
from .core.text import BoundedText

EXIT_TIMEOUT = 124  # as coreutils' `timeout`
READ_CHUNK = 64 << 10
# After the command itself exits, how long to keep reading pipes that a process it left running
# in the background (`server &`) still holds open.
DRAIN_AFTER_EXIT = 0.25
EXIT_POLL = 0.05

OutputSink = Callable[[str, str], None]  # (stream name, text)


@dataclass
class CommandSpec:
    argv: list[str]
    display: str  # the command as a caller would read it
    timeout: float
    env: dict[str, str]  # the full process environment
    workdir: str
    name: str | None = None


def parse_command(body: dict, settings: Settings, env_store: EnvStore, default_timeout: float) -> CommandSpec:
    """Both forms of the contract: `command` + `args` (argv), or `command` alone (a /bin/sh -c string)."""
    command = body.get("command")
    if command is None or command == "":
        raise missing("command")
    if not isinstance(command, str):
        raise bad_request("'command' must be a string")
    if "\0" in command:
        raise bad_request("'command' must not contain NUL bytes")
    args = body.get("args")
    if args is not None:
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise bad_request("'args' must be a list of strings")
        if any("\0" in a for a in args):
            raise bad_request("'args' must not contain NUL bytes")
        argv = [command, *args]
        display = shlex.join(argv)
    else:
        argv = ["/bin/sh", "-c", command]
        display = command
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise bad_request("'name' must be a string")
    workdir = body.get("workdir") if body.get("workdir") is not None else body.get("working_dir")
    return CommandSpec(
        argv=argv,
        display=display,
        timeout=parse_timeout(body.get("timeout"), default_timeout, settings.max_timeout),
        env=env_store.process_env(validate_env(body.get("env"))),
        workdir=resolve_workdir(settings, workdir),
        name=name,
    )


# --- process trees ---

def tree_snapshot(pid: int) -> list[psutil.Process]:
    """The process and all its descendants as they are now (before anyone is reparented)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal_all(procs: list[psutil.Process], pgid: int | None, sig: int) -> None:
    if pgid is not None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for proc in procs:
        try:
            proc.send_signal(sig)  # psutil checks the pid was not reused
        except psutil.Error:
            pass


async def kill_tree(pid: int | None, grace: float, pgid: int | None = None,
                    extra: list[psutil.Process] | None = None) -> int:
    """End a process tree: SIGTERM everywhere, then SIGKILL to survivors after `grace` seconds.

    `pid` is the root (None once it has been reaped, so a reused pid is never hit); `pgid` is
    signalled as a group too (descendants that were reparented but kept the group); `extra` are
    processes snapshotted earlier. Returns how many processes had to be SIGKILLed.
    """
    procs = (tree_snapshot(pid) if pid is not None else []) + list(extra or [])
    _signal_all(procs, pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        procs = [p for p in procs if _alive(p)]
        if not procs:
            break
        await asyncio.sleep(0.05)
    survivors = [p for p in procs if _alive(p)]
    # New children may have been forked meanwhile: take them too.
    for proc in list(survivors):
        try:
            survivors.extend(proc.children(recursive=True))
        except psutil.Error:
            pass
    _signal_all(survivors, pgid, signal.SIGKILL)
    return len(survivors)


# --- running one command ---

async def _exited(proc: asyncio.subprocess.Process) -> int:
    """Wait for the process itself to exit.

    On Python 3.11, Process.wait() also waits for every pipe to close, which never happens while
    something the command left in the background holds them; so the return code, set as soon as the
    child is reaped, is polled beside it.
    """
    waiter = asyncio.ensure_future(proc.wait())
    try:
        while proc.returncode is None:
            await asyncio.wait([waiter], timeout=EXIT_POLL)
            if waiter.done():
                break
        return proc.returncode
    finally:
        if not waiter.done():
            waiter.cancel()


@dataclass
class CommandRun:
    """One command in flight; `kill()` ends its tree and the run reports `killed`."""

    spec: CommandSpec
    stdout: BoundedText
    stderr: BoundedText
    sink: OutputSink | None = None
    kill_grace: float = 3.0
    pid: int | None = None
    started: float = field(default_factory=time.monotonic)
    timed_out: bool = False
    killed: bool = False
    exit_code: int | None = None
    error: str | None = None
    _proc: asyncio.subprocess.Process | None = None
    _killing: asyncio.Task | None = None

    def _out(self, name: str, text: str) -> None:
        buf = self.stderr if name == "stderr" else self.stdout
        buf.add(text)
        if self.sink is not None:
            self.sink(name, text)

    async def _pump(self, stream: asyncio.StreamReader, name: str) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            chunk = await stream.read(READ_CHUNK)
            if not chunk:
                break
            text = decoder.decode(chunk)
            if text:
                self._out(name, text)
        tail = decoder.decode(b"", final=True)
        if tail:
            self._out(name, tail)

    def kill(self) -> asyncio.Task | None:
        """End the command's whole tree (SIGTERM, then SIGKILL after the grace)."""
        if self._killing is not None:
            return self._killing
        if self.pid is None or self.exit_code is not None:
            return None  # not started, or already over
        self.killed = True
        root = self.pid if self._proc is not None and self._proc.returncode is None else None
        self._killing = asyncio.ensure_future(kill_tree(root, self.kill_grace, pgid=self.pid))
        return self._killing

    async def start(self) -> bool:
        """Start the process; False if it could not be (the run is then already over, with 126/127)."""
        spec = self.spec
        self.started = time.monotonic()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *spec.argv, cwd=spec.workdir, env=spec.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own session and process group: the tree can be ended as one
            )
        except FileNotFoundError:
            self._fail(127, "command not found")
            return False
        except PermissionError:
            self._fail(126, "permission denied")
            return False
        except OSError as exc:
            self._fail(126, exc.strerror or str(exc))
            return False
        self.pid = self._proc.pid
        return True

    def _fail(self, code: int, why: str) -> None:
        self._out("stderr", f"{self.spec.argv[0]}: {why}\n")
        self.exit_code, self.error = code, why

    async def run(self) -> int:
        if self._proc is None and self.exit_code is None:
            await self.start()
        if self._proc is None:
            return self.exit_code
        return await self.wait()

    async def wait(self) -> int:
        spec, proc = self.spec, self._proc
        readers = [asyncio.create_task(self._pump(proc.stdout, "stdout")),
                   asyncio.create_task(self._pump(proc.stderr, "stderr"))]
        try:
            remaining = spec.timeout - (time.monotonic() - self.started)
            try:
                await asyncio.wait_for(_exited(proc), max(remaining, 0.001))
            except asyncio.TimeoutError:
                if not self.killed:
                    self.timed_out = True
                    self.kill()
                await _exited(proc)
            if self._killing is not None:
                await self._killing
            # Pipes may be held open by something the command left in the background.
            done, pending = await asyncio.wait(readers, timeout=DRAIN_AFTER_EXIT)
            for task in pending:
                task.cancel()
        except asyncio.CancelledError:
            self.kill()
            for task in readers:
                task.cancel()
            if self._killing is not None:
                await asyncio.shield(self._killing)
            raise
        rc = proc.returncode
        if self.timed_out:
            self.exit_code = EXIT_TIMEOUT
            self.error = f"Command timed out after {spec.timeout:g} s; its process tree was ended"
            self._out("stderr", f"\n[kernelagent] {self.error}\n")
        elif rc is not None and rc < 0:
            self.exit_code = 128 - rc  # killed by a signal, as shells report it
            if self.killed:
                self.error = "Command was killed"
        else:
            self.exit_code = rc if rc is not None else 1
        return self.exit_code

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 6)

    def response(self) -> dict[str, Any]:
        """The /commands/run answer (superset of the contract's CommandResponse)."""
        truncated = self.stdout.truncated or self.stderr.truncated
        out: dict[str, Any] = {
            "stdout": self.stdout.text(),
            "stderr": self.stderr.text(),
            "exit_code": self.exit_code,
            "success": self.exit_code == 0,
            "execution_time": self.elapsed(),
            "command": self.spec.display,
            "pid": self.pid,
            "timed_out": self.timed_out,
            "killed": self.killed and not self.timed_out,
            "truncated": truncated,
            "timestamp": utc_now_iso(),
        }
        if self.timed_out:
            out["error"] = {"code": "EXECUTION_TIMEOUT", "message": self.error}
        elif self.error:
            out["error"] = {"code": "COMMAND_FAILED", "message": self.error}
        return out


class CommandService:
    """Runs commands to completion (/commands/run); background commands go through the job registry."""

    def __init__(self, settings: Settings, env_store: EnvStore):
        self.settings = settings
        self.env_store = env_store

    def parse(self, body: dict, background: bool = False) -> CommandSpec:
        default = self.settings.background_timeout if background else self.settings.command_timeout
        return parse_command(body, self.settings, self.env_store, default)

    def new_run(self, spec: CommandSpec, sink: OutputSink | None = None, limit: int | None = None) -> CommandRun:
        s = self.settings
        return CommandRun(spec, BoundedText(limit or s.max_stdout_bytes), BoundedText(limit or s.max_stderr_bytes),
                          sink=sink, kill_grace=s.kill_grace)

    async def run(self, body: dict) -> dict:
        run = self.new_run(self.parse(body))
        await run.run()
        return run.response()
