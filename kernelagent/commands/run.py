"""One command in flight: its process, its pipes, its deadline and the end of its tree.

A command runs as an asyncio subprocess in a session (and process group) of its own. At its
deadline, or when killed, its whole tree is ended through core.proc: SIGTERM to the group and to
every descendant, then SIGKILL to whatever is left after a grace. Nothing here blocks the event
loop: pipes are read by asyncio, and the waits are polls with asyncio.sleep.
"""

from __future__ import annotations

import asyncio
import codecs
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core import proc as ptree
from ..core.clock import utc_now_iso
from ..core.runas import RunAs
from ..core.text import BoundedText, truncation
from ..models.commands import CommandResult

EXIT_TIMEOUT = 124  # as coreutils' `timeout`
READ_CHUNK = 64 << 10
# After the command itself exits, how long to keep reading pipes that a process it left running
# in the background (`server &`) still holds open.
DRAIN_AFTER_EXIT = 0.25
EXIT_POLL = 0.05

OutputSink = Callable[[str, str], None]  # (stream name, text)


@dataclass
class CommandSpec:
    """A command ready to start: what a CommandRequest becomes once the settings are applied."""

    argv: list[str]
    display: str  # the command as a caller would read it
    timeout: float
    env: dict[str, str]  # the full process environment
    workdir: str
    name: str | None = None
    user: RunAs | None = None  # the unprivileged user it runs as (setting run_as_user), if any


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
        # set once the loop above ends: by the reaper, or by wait() itself
        return proc.returncode  # type: ignore[return-value]
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
    tree: str = field(default_factory=ptree.new_tree)  # the marker its whole tree inherits
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
        # the root only while it is unreaped (its pid cannot have been reused); the group either way
        root = self.pid if self._proc is not None and self._proc.returncode is None else None
        self._killing = asyncio.ensure_future(
            ptree.kill_tree(ptree.descendants(root), self.kill_grace, pgid=self.pid, tree=self.tree)
        )
        return self._killing

    async def start(self) -> bool:
        """Start the process; False if it could not be (the run is then already over, with 126/127)."""
        spec = self.spec
        self.started = time.monotonic()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=spec.workdir,
                env=ptree.marked_env(spec.env, self.tree),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own session and process group: the tree can be ended as one
                **(spec.user.popen_kwargs() if spec.user is not None else {}),
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
        """Start (if not yet) and wait for the end; the exit code (126/127 when it could not start)."""
        if self._proc is None and self.exit_code is None:
            await self.start()
        if self._proc is None:
            return self.exit_code if self.exit_code is not None else 1
        return await self.wait()

    async def wait(self) -> int:
        """Read the pipes until the command ends, at its deadline at the latest; the exit code."""
        spec, proc = self.spec, self._proc
        assert proc is not None and proc.stdout is not None and proc.stderr is not None, "wait() before start()"
        readers = [
            asyncio.create_task(self._pump(proc.stdout, "stdout")),
            asyncio.create_task(self._pump(proc.stderr, "stderr")),
        ]
        try:
            remaining = spec.timeout - (time.monotonic() - self.started)
            try:
                await asyncio.wait_for(_exited(proc), max(remaining, 0.001))
            except TimeoutError:
                if not self.killed:
                    self.timed_out = True
                    self.kill()
                await _exited(proc)
            if self._killing is not None:
                await self._killing
            # Pipes may be held open by something the command left in the background.
            _, pending = await asyncio.wait(readers, timeout=DRAIN_AFTER_EXIT)
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

    def response(self) -> CommandResult:
        """The /commands/run answer (superset of the contract's CommandResponse)."""
        truncated = self.stdout.truncated or self.stderr.truncated
        out: CommandResult = {
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
        cut = truncation(self.stdout, self.stderr)
        if cut is not None:
            out["truncation"] = cut
        if self.timed_out:
            out["error"] = {"code": "EXECUTION_TIMEOUT", "message": self.error or "timed out"}
        elif self.error:
            out["error"] = {"code": "COMMAND_FAILED", "message": self.error}
        return out
