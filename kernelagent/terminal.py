"""Interactive terminals: a shell on a real pseudo-terminal (ptyprocess), read and written without
blocking the event loop.

The PTY's master fd is non-blocking and watched with the loop's add_reader/add_writer; the shell's
exit is watched through a pidfd (Linux >= 5.3), with a short poll as fallback. Nothing here knows
about HTTP: the WebSocket handler pumps `read()` into frames and frames into `write()`/`resize()`.

The shell is a session leader (ptyprocess forks with setsid), so closing a terminal ends every
process of that session, its jobs and their children included: SIGHUP and SIGCONT first, SIGKILL
after a grace.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import logging
import os
import shutil
import signal
import time
from typing import Any

from ptyprocess import PtyProcess

from .core import proc as ptree
from .core.errors import AgentError
from .core.limits import Limiter
from .core.runas import run_as
from .environment import EnvStore
from .settings import Settings

log = logging.getLogger("kernelagent.terminal")

READ_CHUNK = 64 * 1024
KILL_GRACE = 1.0


class Terminal:
    """One shell on a PTY: read its output, write its input, resize it, close it (and its session)."""

    def __init__(self, manager: TerminalManager, proc: PtyProcess, tree: str):
        self.manager = manager
        self.proc = proc
        self.tree = tree  # the process-tree marker its shell and everything it starts inherit
        self.pid = proc.pid
        self.fd = proc.fd
        self.created = time.time()
        self._loop = asyncio.get_running_loop()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._eof = False
        self._exited = self._loop.create_future()
        self._closed = False
        self._pidfd: int | None = None  # watched for the shell's exit (Linux >= 5.3)
        os.set_blocking(self.fd, False)
        self._watch_exit()

    # --- output ---

    async def read(self) -> str | None:
        """The next output the shell wrote (as much as is ready), or None once the terminal is done."""
        while not self._eof and not self._closed:
            data = self._read_ready()
            if data:
                return data
            if self._eof:
                break
            if self._exited.done():
                # the shell is gone; anything left in the PTY was read above
                self._eof = True
                break
            readable = self._loop.create_future()
            self._loop.add_reader(self.fd, _resolve, readable)
            try:
                await asyncio.wait({readable, self._exited}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._loop.remove_reader(self.fd)
        tail = self._decoder.decode(b"", final=True)
        return tail or None

    def _read_ready(self) -> str:
        chunks = []
        while True:
            try:
                data = os.read(self.fd, READ_CHUNK)
            except BlockingIOError:
                break
            except OSError as exc:  # EIO: the slave side is closed
                if exc.errno != errno.EIO:
                    log.warning("terminal %s read failed: %s", self.pid, exc)
                self._eof = True
                break
            if not data:
                self._eof = True
                break
            chunks.append(data)
            if sum(map(len, chunks)) >= READ_CHUNK:
                break
        return self._decoder.decode(b"".join(chunks)) if chunks else ""

    async def wait(self) -> int:
        """The shell's exit code (128 + signal when killed by one)."""
        return await self._exited

    # --- input ---

    async def write(self, data: str) -> None:
        view = memoryview(data.encode())
        while view and not self._closed:
            try:
                written = os.write(self.fd, view)
                view = view[written:]
            except BlockingIOError:
                writable = self._loop.create_future()
                self._loop.add_writer(self.fd, _resolve, writable)
                try:
                    await asyncio.wait({writable, self._exited}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    self._loop.remove_writer(self.fd)
                if self._exited.done():
                    return
            except OSError:
                return  # the shell is gone; its exit is reported by the reader

    def resize(self, cols: int, rows: int) -> None:
        """A new size (already checked by models.terminal.TerminalResize)."""
        if not self._closed:
            self.proc.setwinsize(rows, cols)

    # --- exit ---

    def _watch_exit(self) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._poll_task = self._loop.create_task(self._poll_exit())
            return

        def on_exit() -> None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            self._pidfd = None
            self._reap()

        self._loop.add_reader(pidfd, on_exit)
        self._pidfd = pidfd

    async def _poll_exit(self) -> None:
        while not self._reap():
            await asyncio.sleep(0.2)

    def _reap(self) -> bool:
        if self._exited.done():
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0  # reaped elsewhere; its status is lost
        if pid == 0:
            return False
        code = os.waitstatus_to_exitcode(status)
        self._exited.set_result(128 - code if code < 0 else code)
        return True

    def close(self) -> None:
        """End the shell and everything in its session; forget the terminal. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.manager._forget(self)
        self._loop.remove_reader(self.fd)
        self._loop.remove_writer(self.fd)
        pidfd = self._pidfd
        if pidfd is not None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            self._pidfd = None
        task = self._loop.create_task(self._kill_session())
        self.manager._track(task)

    async def _kill_session(self) -> None:
        members = await self._loop.run_in_executor(None, ptree.session_members, self.pid)
        known = {p.pid for p in members}  # and what left the session (setsid, double fork)
        members += [p for p in await asyncio.to_thread(ptree.marked, self.tree) if p.pid not in known]
        ptree.signal_all(members, signal.SIGHUP)
        ptree.signal_all(members, signal.SIGCONT)
        # Close the master fd ourselves: PtyProcess.close() sleeps and reaps, which the loop must not do.
        try:
            self.proc.fileobj.close()
        except OSError:
            pass
        self.proc.closed = True
        # the shell, a zombie once it exits, counts as gone; SIGKILL for what is left after the grace
        await ptree.kill_tree(members, KILL_GRACE, first=())
        for _ in range(20):
            if self._reap():
                break
            await asyncio.sleep(0.05)


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


class TerminalManager:
    """Opens terminals (at most `terminal_max` at once: one Limiter, 429 past it) and ends them all at stop."""

    def __init__(self, settings: Settings, env: EnvStore):
        self.settings = settings
        self.env = env
        self.max = settings.terminal_max
        self.slots = Limiter(self.max, "terminals open")
        self.active: dict[int, Terminal] = {}
        self.total = 0
        self._cleanups: set[asyncio.Task] = set()

    def shell(self) -> str:
        for candidate in (self.settings.terminal_shell, os.environ.get("SHELL", ""), "/bin/bash", "/bin/sh"):
            if candidate and shutil.which(candidate):
                return shutil.which(candidate)  # type: ignore[return-value]
        raise AgentError("INTERNAL_ERROR", 500, "No shell found for the terminal")

    def open(self, cols: int = 80, rows: int = 24) -> Terminal:
        """A new shell of that size (checked by models.terminal.TerminalSize)."""
        self.slots.take()
        try:
            return self._spawn(cols, rows)
        except BaseException:
            self.slots.give()
            raise

    def _spawn(self, cols: int, rows: int) -> Terminal:
        env = self.env.process_env()
        user = run_as(self.settings.run_as_user)
        if user is not None:  # its HOME, USER, LOGNAME, unless /env set them
            env = user.environ(env, keep=self.env.overlay())
        env.setdefault("TERM", "xterm-256color")
        env.pop("PROMPT_COMMAND", None)
        cwd = self.settings.workspace if os.path.isdir(self.settings.workspace) else "/"
        env["PWD"] = cwd
        try:
            tree = ptree.new_tree()
            proc = PtyProcess.spawn(
                [self.shell()],
                cwd=cwd,
                env=ptree.marked_env(env, tree),
                dimensions=(rows, cols),
                preexec_fn=user.drop if user is not None else None,  # ptyprocess forks itself: no Popen seam
            )
        except OSError as exc:
            raise AgentError("INTERNAL_ERROR", 500, f"Could not start a terminal: {exc}") from None
        term = Terminal(self, proc, tree)
        self.active[term.pid] = term
        self.total += 1
        return term

    def _forget(self, term: Terminal) -> None:
        if self.active.pop(term.pid, None) is not None:
            self.slots.give()

    def _track(self, task: asyncio.Task) -> None:
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    def stats(self) -> dict[str, Any]:
        return {"active": len(self.active), "total": self.total, "max": self.max}

    async def stop(self) -> None:
        for term in list(self.active.values()):
            term.close()
        await asyncio.gather(*self._cleanups, return_exceptions=True)
