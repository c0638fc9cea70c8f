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

import psutil
from ptyprocess import PtyProcess

from .environment import EnvStore
from .core.errors import AgentError, bad_request
from .settings import Settings

log = logging.getLogger("kernelagent.terminal")

READ_CHUNK = 64 * 1024
KILL_GRACE = 1.0
MAX_DIMENSION = 1000


def _check_size(cols: Any, rows: Any) -> tuple[int, int]:
    for name, value in (("cols", cols), ("rows", rows)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DIMENSION:
            raise bad_request(f"'{name}' must be an integer between 1 and {MAX_DIMENSION}")
    return cols, rows


class Terminal:
    def __init__(self, manager: "TerminalManager", proc: PtyProcess):
        self.manager = manager
        self.proc = proc
        self.pid = proc.pid
        self.fd = proc.fd
        self.created = time.time()
        self._loop = asyncio.get_running_loop()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._eof = False
        self._exited = self._loop.create_future()
        self._closed = False
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

    def resize(self, cols: Any, rows: Any) -> None:
        cols, rows = _check_size(cols, rows)
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
        pidfd = getattr(self, "_pidfd", None)
        if pidfd is not None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            self._pidfd = None
        task = self._loop.create_task(self._kill_session())
        self.manager._track(task)

    async def _kill_session(self) -> None:
        members = await self._loop.run_in_executor(None, _session_members, self.pid)
        _signal_all(members, signal.SIGHUP)
        _signal_all(members, signal.SIGCONT)
        # Close the master fd ourselves: PtyProcess.close() sleeps and reaps, which the loop must not do.
        try:
            self.proc.fileobj.close()
        except OSError:
            pass
        self.proc.closed = True
        deadline = time.monotonic() + KILL_GRACE
        while time.monotonic() < deadline:
            self._reap()
            if not any(_alive(p) for p in members):
                break
            await asyncio.sleep(0.05)
        _signal_all([p for p in members if _alive(p)], signal.SIGKILL)
        for _ in range(20):
            if self._reap():
                break
            await asyncio.sleep(0.05)

    def info(self) -> dict[str, Any]:
        return {"pid": self.pid, "created": self.created, "alive": not self._exited.done()}


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


def _session_members(sid: int) -> list[psutil.Process]:
    """The shell and every process still in its session, or descended from it."""
    members: dict[int, psutil.Process] = {}
    try:
        shell = psutil.Process(sid)
        members[sid] = shell
        for child in shell.children(recursive=True):
            members[child.pid] = child
    except psutil.Error:
        pass
    for p in psutil.process_iter():
        try:
            if p.pid not in members and os.getsid(p.pid) == sid:
                members[p.pid] = p
        except (OSError, psutil.Error):
            continue
    return list(members.values())


def _signal_all(procs: list[psutil.Process], sig: int) -> None:
    for p in procs:
        try:
            p.send_signal(sig)
        except psutil.Error:
            pass


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class TerminalManager:
    def __init__(self, settings: Settings, env: EnvStore):
        self.settings = settings
        self.env = env
        self.max = settings.terminal_max
        self.active: dict[int, Terminal] = {}
        self.total = 0
        self._cleanups: set[asyncio.Task] = set()

    def shell(self) -> str:
        for candidate in (self.settings.terminal_shell, os.environ.get("SHELL", ""), "/bin/bash", "/bin/sh"):
            if candidate and shutil.which(candidate):
                return shutil.which(candidate)  # type: ignore[return-value]
        raise AgentError("INTERNAL_ERROR", 500, "No shell found for the terminal")

    def open(self, cols: int = 80, rows: int = 24) -> Terminal:
        cols, rows = _check_size(cols, rows)
        if len(self.active) >= self.max:
            raise AgentError("RATE_LIMIT_EXCEEDED", 429,
                             f"Too many terminals open ({len(self.active)}, max {self.max}); close one first")
        env = self.env.process_env()
        env.setdefault("TERM", "xterm-256color")
        env.pop("PROMPT_COMMAND", None)
        cwd = self.settings.workspace if os.path.isdir(self.settings.workspace) else "/"
        env["PWD"] = cwd
        try:
            proc = PtyProcess.spawn([self.shell()], cwd=cwd, env=env, dimensions=(rows, cols))
        except OSError as exc:
            raise AgentError("INTERNAL_ERROR", 500, f"Could not start a terminal: {exc}") from None
        term = Terminal(self, proc)
        self.active[term.pid] = term
        self.total += 1
        return term

    def _forget(self, term: Terminal) -> None:
        self.active.pop(term.pid, None)

    def _track(self, task: asyncio.Task) -> None:
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    def stats(self) -> dict[str, Any]:
        return {"active": len(self.active), "total": self.total, "max": self.max}

    async def stop(self) -> None:
        for term in list(self.active.values()):
            term.close()
        await asyncio.gather(*self._cleanups, return_exceptions=True)
