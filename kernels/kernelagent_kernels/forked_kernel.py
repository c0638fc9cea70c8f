"""What a child forked from the template (zygote.py) does to become a normal ipykernel.

It leaves the template's session, descriptors and signal handlers, takes the directory, user and
environment the agent asked for, reseeds its random generators, and runs IPKernelApp on its own
connection file: its own ZMQ context, sockets, threads and heartbeat, made after the fork.

The environment is also written over the template's environ area, the memory /proc/<pid>/environ
shows: the agent finds every process of a kernel's tree by the marker variable in that file
(kernelagent.core.proc), and changing os.environ alone would leave the template's there.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import random
import select
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import NoReturn

PAD_ENV = "KA_TEMPLATE_PAD"  # set by the agent when it starts a template: room for children's environments
PR_SET_DUMPABLE = 4  # from <linux/prctl.h>
LAUNCHER = ("-m", "ipykernel_launcher")  # the only command line a template forks for


def environ_bytes(env: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) + 2 for k, v in env.items())


@dataclass(frozen=True)
class EnvironRegion:
    """The environ area the kernel set up at exec (/proc/self/stat, fields 50 and 51)."""

    start: int
    size: int

    @classmethod
    def own(cls) -> EnvironRegion:
        """This process's area, emptied of what libc points at: the variables move to the heap
        (os.environ's unsetenv and setenv), so children may write over it. Call it first."""
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # fields 50, 51; the list starts at field 3
        saved = {k: v for k, v in os.environ.items() if k != PAD_ENV}
        os.environ.clear()
        os.environ.update(saved)
        return cls(start, end - start)

    def write(self, env: dict[str, str]) -> None:
        data = b"".join(k.encode() + b"=" + v.encode() + b"\0" for k, v in env.items())
        if len(data) > self.size:
            raise ValueError("the environment does not fit the template's environ area")
        ctypes.memmove(self.start, data, len(data))
        ctypes.memset(self.start + len(data), 0, self.size - len(data))


@dataclass(frozen=True)
class Inherited:
    """What the child gets from the template: descriptors to close, the agent's pidfd, the area."""

    close: list[int]
    agent_fd: int
    region: EnvironRegion


class AgentWatcher(threading.Thread):
    """Ends the kernel when the agent ends (ipykernel's parent poller watches its parent, which is
    the template here: a kernel outlives a template that dies, not the agent)."""

    def __init__(self, agent_fd: int):
        super().__init__(name="agent-watcher", daemon=True)
        self.agent_fd = agent_fd

    def run(self) -> None:
        select.select([self.agent_fd], [], [])
        os._exit(1)


def become(request: dict, status_fd: int, inherited: Inherited) -> NoReturn:
    """Run in the forked child; never returns. Writes why to `status_fd` if it cannot set up,
    closes it once set up, then runs the kernel until it ends."""
    code = 1
    try:
        try:
            prepare(request, inherited)
        except BaseException as exc:
            os.write(status_fd, f"{type(exc).__name__}: {exc}".encode()[:4000])
            os._exit(1)
        os.close(status_fd)
        code = run_kernel(request["argv"], inherited.agent_fd)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:  # what a normal interpreter exit does, without unwinding into the template's loop
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def prepare(request: dict, inherited: Inherited) -> None:
    """Leave the template behind and take the session, directory, user and environment asked for."""
    argv = request["argv"]
    if tuple(argv[1:3]) != LAUNCHER:
        raise ValueError(f"a template forks ipykernel_launcher only, not {argv!r}")
    signal.set_wakeup_fd(-1)
    for fd in inherited.close:
        os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # interrupts: KeyboardInterrupt, as launched
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.setsid()  # its own session and group, as jupyter_client launches kernels: interrupts reach the group
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if request.get("cwd"):
        os.chdir(request["cwd"])  # before the user changes, as subprocess does
    if request.get("user"):
        uid, gid, groups = request["user"]
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
        # a change of user makes a process undumpable (its /proc files root's); an exec'd kernel is not
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    env = request["env"]
    os.environ.clear()
    os.environ.update(env)
    inherited.region.write(env)
    reseed()


def reseed() -> None:
    """Fresh random state: the template's would otherwise repeat in every child."""
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def run_kernel(argv: list[str], agent_fd: int) -> int:
    from ipykernel.kernelapp import IPKernelApp

    class ForkedKernelApp(IPKernelApp):
        def init_poller(self) -> None:
            self.poller = AgentWatcher(agent_fd)

    sys.argv = [sys.modules["ipykernel"].__file__ or "ipykernel", *argv[3:]]
    app = ForkedKernelApp.instance()
    app.parent_handle = int(os.environ.get("JPY_PARENT_PID") or 0)  # as launched: no console banner
    app.initialize(argv[3:])
    app.start()
    return 0
