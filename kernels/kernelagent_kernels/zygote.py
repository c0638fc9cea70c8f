"""A template (zygote) for Python kernels: run as `python -m kernelagent_kernels.zygote FD`.

It imports what a warm Python kernel holds (ipykernel, IPython, numpy, pandas, matplotlib), then
waits single-threaded (no ZMQ context, no thread alive, `gc.freeze()` done) on FD, a SOCK_SEQPACKET
socket to the agent, and forks one child per request. The child becomes a normal ipykernel on its
own connection file (see forked_kernel.py); its pages stay shared with the template until written.

The protocol, one JSON object per packet:
- template -> agent, once: {"ready": pid} (or {"error": why}, then it exits);
- agent -> template: {"argv": [...], "env": {...}, "cwd": path, "user": [uid, gid, [groups]] | null};
- template -> agent: {"pid": N} with a pidfd of the child (SCM_RIGHTS), or {"error": why};
- template -> agent, whenever a child it forked ends: {"exit": pid, "status": returncode}
  (negative: the signal), as subprocess reports it.
The template reaps its children; the agent watches and signals them through their pidfds.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading

from . import forked_kernel

MAX_PACKET = 1 << 20
# Modules a warm Python kernel holds: imported here once, shared by every child.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.comm",
    "ipykernel.debugger",  # with debugpy: most of what an ipykernel imports as it initializes
    "IPython",
    "IPython.core.completer",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.magics",
    "IPython.core.magic_arguments",
    "IPython.core.oinspect",
    "IPython.utils.wildcard",
    "IPython.utils.module_paths",
    "faulthandler",
    "resource",
    "importlib.resources.readers",
    "IPython.extensions.storemagic",
    "tornado.queues",
    "tornado.platform.asyncio",
    "jedi",
    "numpy",
    "pandas",
    "pandas.io.formats.html",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "matplotlib_inline.backend_inline",
    "PIL.PngImagePlugin",
    "PIL.JpegImagePlugin",
    "kernelagent_kernels.charts",
)


def send(sock: socket.socket, msg: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(msg).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # optional ones (jedi) may be missing; the kernel imports what it needs
            pass
    # the half of the warm-up's `%matplotlib inline` that needs no shell (half its time)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and "matplotlib_inline.backend_inline" in sys.modules:
        pyplot.switch_backend("module://matplotlib_inline.backend_inline")


def settle() -> str | None:
    """Leave the template single-threaded and its heap frozen; why not, if it cannot be.

    Native pools started at import (OpenBLAS's) stop in their fork handlers: one throwaway fork
    runs those handlers, and nothing here restarts the pools."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1 or threading.active_count() != 1:
        return f"the template has {threads} threads after its imports; it must have one to fork"
    gc.collect()
    gc.freeze()  # children's collections then leave the template's objects (and their pages) alone
    return None


class Template:
    """The waiting loop: forks on request, reaps children and reports how they ended."""

    def __init__(self, sock: socket.socket, agent_fd: int, region: forked_kernel.EnvironRegion):
        self.sock = sock
        self.agent_fd = agent_fd
        self.region = region
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)

    def serve(self) -> None:
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the work
        while True:
            ready = select.select([self.sock.fileno(), self.wake_r], [], [])[0]
            if self.wake_r in ready:
                os.read(self.wake_r, 4096)
                self.reap()
            if self.sock.fileno() in ready:
                data = self.sock.recv(MAX_PACKET)
                if not data:
                    return  # the agent is gone
                self.handle(data)

    def handle(self, data: bytes) -> None:
        pid = 0
        try:
            pid = self.fork(json.loads(data))
            pidfd = os.pidfd_open(pid)
        except Exception as exc:  # any failure is the agent's cue to launch the kernel instead
            if pid:  # forked, but the agent could not hold it: unreaped yet, so the pid is still its own
                os.kill(pid, signal.SIGKILL)
            send(self.sock, {"error": f"{type(exc).__name__}: {exc}"})
            return
        try:
            send(self.sock, {"pid": pid}, [pidfd])
        finally:
            os.close(pidfd)

    def fork(self, request: dict) -> int:
        """Fork a kernel; its pid once the child has applied env, cwd and user (else the error)."""
        if self.region.size < forked_kernel.environ_bytes(request["env"]):
            raise ValueError("the environment does not fit the template's environ area")
        status_r, status_w = os.pipe()
        try:
            pid = os.fork()
            if pid == 0:
                os.close(status_r)
                forked_kernel.become(request, status_w, self.inherited())
            os.close(status_w)
            status_w = -1
            with os.fdopen(status_r, "rb", closefd=False) as f:
                error = f.read(4096)
            if error:  # the child could not become what was asked: it has exited
                os.waitpid(pid, 0)
                raise OSError(error.decode(errors="replace"))
            return pid
        finally:
            os.close(status_r)
            if status_w >= 0:
                os.close(status_w)

    def inherited(self) -> forked_kernel.Inherited:
        """What a child takes from the template: the descriptors it must close, the agent's pidfd."""
        return forked_kernel.Inherited([self.sock.fileno(), self.wake_r, self.wake_w], self.agent_fd, self.region)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            send(self.sock, {"exit": pid, "status": os.waitstatus_to_exitcode(status)})


def main() -> None:
    region = forked_kernel.EnvironRegion.own()  # first: before anything keeps pointers into it
    sock = socket.socket(fileno=int(sys.argv[1]))
    agent_fd = os.pidfd_open(os.getppid())
    os.set_inheritable(agent_fd, False)
    if os.getppid() == 1:  # the agent died before the pidfd was taken
        sys.exit(1)
    if sys.path and sys.path[0] == os.getcwd():  # as ipykernel_launcher: the cwd's modules shadow none
        del sys.path[0]
    preload()
    why = settle()
    if why is not None:
        send(sock, {"error": why})
        sys.exit(1)
    send(sock, {"ready": os.getpid()})
    Template(sock, agent_fd, region).serve()


if __name__ == "__main__":
    main()
