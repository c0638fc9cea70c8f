"""A kernel template (zygote) as the agent runs it: started, asked to fork kernels, restarted if it dies.

The template process (kernelagent_kernels.zygote) talks over a SOCK_SEQPACKET socket pair, one
JSON object per packet (see that module for the protocol). Forks are answered in the order they
were asked, so pending requests are a queue. Each forked kernel is a ForkedProcess: a pidfd the
template sends with its answer, and the exit status the template reports when it reaps it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
from collections import deque
from typing import Any

from kernelagent_kernels.forked_kernel import PAD_ENV, environ_bytes
from kernelagent_kernels.forking import ForkedProcess
from kernelagent_kernels.provisioning import die_with_parent

log = logging.getLogger("kernelagent.template")

MAX_PACKET = 1 << 20
PAD_BYTES = 64 << 10  # room in the template's environ area for a child's environment (see forked_kernel)
FORK_TIMEOUT = 10.0  # seconds a fork may take before the kernel is launched instead
MAX_BACKOFF = 30.0


class KernelTemplate:
    """One template process for a kernelspec; `fork()` gives a kernel process, or raises (launch then)."""

    def __init__(self, language: str, env: dict[str, str], cwd: str, start_timeout: float):
        self.language = language
        self.env = env
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.pid: int | None = None
        self.state = "starting"  # starting, ready, down (restarting), stopped
        self.forks = self.fallbacks = self.restarts = 0
        self.last_error: str | None = None
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sock: socket.socket | None = None
        self._pending: deque[asyncio.Future[ForkedProcess]] = deque()
        self._children: dict[int, ForkedProcess] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        self.state = "stopped"
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def info(self) -> dict[str, Any]:
        return {
            "mode": "fork" if self.state == "ready" else "launch",
            "template": {
                "state": self.state,
                "pid": self.pid,
                "forks": self.forks,
                "fallbacks": self.fallbacks,
                "restarts": self.restarts,
                "last_error": self.last_error,
            },
        }

    # --- forking ---

    async def fork(self, argv: list[str], env: dict[str, str], cwd: str | None, user: list | None) -> ForkedProcess:
        try:
            return await self._fork(argv, env, cwd, user)
        except Exception as exc:
            self.fallbacks += 1
            self.last_error = f"fork: {exc}"
            raise

    async def _fork(self, argv: list[str], env: dict[str, str], cwd: str | None, user: list | None) -> ForkedProcess:
        if self.state == "starting":
            await asyncio.wait_for(asyncio.shield(self._ready), self.start_timeout)
        if self.state != "ready" or self._sock is None:
            raise RuntimeError(f"the template is {self.state}")
        if environ_bytes(env) > PAD_BYTES:
            raise ValueError("the environment is larger than a template's room for one")
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd, "user": user}).encode()
        if len(request) > MAX_PACKET:
            raise ValueError("the request is larger than a packet")
        answer: asyncio.Future[ForkedProcess] = asyncio.get_running_loop().create_future()
        self._sock.send(request)
        self._pending.append(answer)
        try:
            process = await asyncio.wait_for(asyncio.shield(answer), FORK_TIMEOUT)
        except TimeoutError:
            answer.add_done_callback(_kill_late)  # a child that comes after all is nobody's
            raise RuntimeError(f"no fork within {FORK_TIMEOUT:g} s") from None
        self.forks += 1
        return process

    # --- the template's packets ---

    def _on_readable(self) -> None:
        while self._sock is not None:
            try:
                data, fds, _, _ = socket.recv_fds(self._sock, MAX_PACKET, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, fds = b"", []
            if not data:  # the template has gone: stop reading, the supervisor restarts it
                self._disconnect("the template exited")
                return
            self._dispatch(json.loads(data), fds)

    def _dispatch(self, msg: dict, fds: list[int]) -> None:
        if "exit" in msg:
            child = self._children.pop(msg["exit"], None)
            if child is not None:
                child.report(msg["status"])
        elif "ready" in msg:
            self.pid, self.state, self.last_error = msg["ready"], "ready", None
            if not self._ready.done():
                self._ready.set_result(None)
        elif self._pending:
            answer = self._pending.popleft()
            if "pid" in msg and fds:
                child = ForkedProcess(msg["pid"], fds.pop())
                self._children[child.pid] = child
                _settle(answer, result=child)
            else:
                _settle(answer, error=RuntimeError(msg.get("error", "no pidfd with the fork's answer")))
        else:  # the template could not start
            self.last_error = msg.get("error", str(msg))
        for fd in fds:
            os.close(fd)

    def _disconnect(self, why: str) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        while self._pending:
            _settle(self._pending.popleft(), error=RuntimeError(why))
        for child in self._children.values():
            child.orphan()  # it may outlive the template; nobody will report its status
        self._children.clear()

    # --- its life ---

    async def _supervise(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # recorded for /health; restarted below
                self.last_error = f"{type(exc).__name__}: {exc}"
            if self.state == "ready":
                backoff = 0.5
            elif not self._ready.done():  # it never became ready: those waiting for it launch instead
                self._ready.set_exception(RuntimeError(f"the template did not start: {self.last_error}"))
                self._ready.exception()  # retrieved: nobody may be waiting
            self.state = "down"
            self.restarts += 1
            log.warning("%s template ended (%s); restarting in %.1f s", self.language, self.last_error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            self.state = "starting"
            if self._ready.done():
                self._ready = asyncio.get_running_loop().create_future()

    async def _run(self) -> None:
        """Start the template and return when it has exited."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "kernelagent_kernels.zygote",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                env={**self.env, PAD_ENV: "x" * PAD_BYTES},
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # and it dies with the agent
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        asyncio.get_running_loop().add_reader(ours.fileno(), self._on_readable)
        try:
            code = await proc.wait()
        except asyncio.CancelledError:
            proc.kill()
            await asyncio.shield(proc.wait())
            raise
        finally:
            self._on_readable()  # what it sent before it died: exit reports of its children
            self._disconnect("the template exited")
        self.last_error = self.last_error or f"exited with status {code}"


def _settle(answer: asyncio.Future, result: Any = None, error: BaseException | None = None) -> None:
    if answer.done():
        if result is not None:
            _kill_late(answer, result)
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)


def _kill_late(answer: asyncio.Future, child: ForkedProcess | None = None) -> None:
    """A forked child whose requester stopped waiting: end it."""
    if child is None:
        if answer.cancelled() or answer.exception() is not None:
            return
        child = answer.result()
    try:
        child.send_signal(signal.SIGKILL)
    except OSError:
        pass
    child.close()
