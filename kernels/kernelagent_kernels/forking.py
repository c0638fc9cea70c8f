"""The agent's side of kernels forked from a template (zygote.py): a provisioner and a process handle.

The kernelspec names the provisioner (`kernelagent-fork`); its kernel manager may carry a
`template` (anything with `async fork(argv, env, cwd, user) -> ForkedProcess`). With one, the
kernel is forked from it; without one, or when the fork fails, it is launched as jupyter_client's
LocalProvisioner launches it. Either way jupyter_client's poll, wait, signal and kill work.

A forked kernel is the template's child, not the agent's: the agent cannot waitpid it. It holds a
pidfd instead (exact even once the pid is reused), and the template reports the exit status.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

log = logging.getLogger("kernelagent.fork")

STATUS_WAIT = 2.0  # seconds a poll waits for the template's report once the pidfd says the kernel ended
UNKNOWN_STATUS = 255  # a kernel that ended after its template died: nobody saw its status


class ForkedProcess:
    """A Popen-like handle on a process the agent did not start itself: pidfd and reported status."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int):
        self.pid = pid
        self.pidfd = pidfd
        self.returncode: int | None = None
        self.status_known = True
        self.orphaned = False  # its template died: no report will come
        self.reported = asyncio.Event()  # set by the template's report (or once it can report no more)

    def report(self, status: int | None) -> None:
        """How the process ended (None: nobody knows, its template is gone)."""
        if status is None:
            self.status_known = False
            status = UNKNOWN_STATUS
        if self.returncode is None:
            self.returncode = status
        self.reported.set()

    def orphan(self) -> None:
        self.orphaned = True
        if self.returncode is None and self.ended():
            self.report(None)

    def ended(self) -> bool:
        """Whether the process has ended (its pidfd is readable then)."""
        if self.pidfd < 0:
            return True
        return bool(select.select([self.pidfd], [], [], 0)[0])

    async def settle(self) -> int | None:
        """The return code if it has ended (waiting briefly for the template's report), else None."""
        if self.returncode is None and self.ended():
            if self.orphaned:
                self.report(None)
            try:
                await asyncio.wait_for(self.reported.wait(), STATUS_WAIT)
            except TimeoutError:
                self.report(None)
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        self.close()
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.pidfd < 0 or self.ended():
            raise ProcessLookupError(3, "No such process")
        signal.pidfd_send_signal(self.pidfd, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


class ForkProvisioner(LocalProvisioner):
    """Forks the kernel from the kernel manager's `template` when it has one; else launches it."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        template = getattr(self.parent, "template", None)
        if template is not None:
            user = None
            if kwargs.get("user") is not None:
                user = [kwargs["user"], kwargs.get("group", -1), list(kwargs.get("extra_groups") or [])]
            env = {**kwargs.get("env", os.environ), "JPY_PARENT_PID": str(os.getpid())}  # as launched
            try:
                process = await template.fork(cmd, env, kwargs.get("cwd"), user)
            except Exception as exc:  # a fork that fails falls back to a normal start
                log.warning("fork from the template failed (%s); launching the kernel", exc)
            else:
                self.process = process
                self.pid = self.pgid = process.pid  # its own session and group, as a launched kernel's
                self.cwd = kwargs.get("cwd")
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)

    def _forked(self) -> ForkedProcess | None:
        return self.process if isinstance(self.process, ForkedProcess) else None

    async def poll(self) -> int | None:
        forked = self._forked()
        if forked is not None:
            return await forked.settle()
        return await super().poll()

    async def send_signal(self, signum: int) -> None:
        forked = self._forked()
        if forked is not None and forked.ended():
            return  # its pid (and group) may be someone else's by now
        await super().send_signal(signum)

    async def cleanup(self, restart: bool = False) -> None:
        forked = self._forked()
        if forked is not None:
            forked.close()
        await super().cleanup(restart)
