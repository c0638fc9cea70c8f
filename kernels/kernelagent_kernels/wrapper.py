"""Shared plumbing for the project's own wrapper kernels (javascript, bash, go).

Each wrapper is an ipykernel `Kernel` subclass that drives a child process. What they share:

- SIGINT handling. jupyter_client interrupts with SIGINT to the kernel's whole process group, so
  the child (node, bash, a Go program) gets the signal directly and decides what it means. The
  wrapper itself must survive it: ipykernel installs `default_int_handler` around every handler,
  which would raise KeyboardInterrupt inside the asyncio loop and kill the kernel. We install a
  Python handler instead (not SIG_IGN, because ignored signals are inherited across exec and
  bash cannot un-ignore them), which only records that an interrupt happened.
- Non-blocking pipe readers on the event loop, so output is forwarded while a cell runs.
- Reply builders: every reply carries an integer `exit_code`; failures also publish an iopub
  `error` message (ename/evalue/traceback), as ipykernel does.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import shutil
import signal
import sys
from collections.abc import Callable

from ipykernel.kernelbase import Kernel

INTERRUPTED_EXIT_CODE = 130  # what a shell reports for a command killed by SIGINT


def require_executable(name: str) -> str:
    """Path of `name` on PATH, or exit with a clear message (the agent reports the dead kernel)."""
    path = shutil.which(name)
    if path is None:
        sys.stderr.write(f"kernelagent: '{name}' was not found on PATH; this kernel cannot start\n")
        sys.exit(3)
    return path


class FdReader:
    """Reads a pipe fd on the event loop and hands decoded text to a callback as it arrives."""

    def __init__(self, fd: int, on_text: Callable[[str], None], on_eof: Callable[[], None] | None = None):
        self.fd = fd
        self._on_text = on_text
        self._on_eof = on_eof
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.closed = False
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        self.drain()

    def drain(self) -> None:
        """Read everything the pipe holds right now (used before a reply, so no output lags it)."""
        while not self.closed:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                if self._on_eof:
                    self._on_eof()
                return
            text = self._decoder.decode(data)
            if text:
                self._on_text(text)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().remove_reader(self.fd)
            os.close(self.fd)


def watch_exit(proc, on_exit: Callable[[int], None]) -> None:
    """Call on_exit(returncode) when `proc` (a Popen) exits.

    A pidfd is used rather than EOF on a pipe because background children may hold the pipes."""
    fd = os.pidfd_open(proc.pid)
    loop = asyncio.get_running_loop()

    def exited() -> None:
        loop.remove_reader(fd)
        os.close(fd)
        on_exit(proc.wait())

    loop.add_reader(fd, exited)


class WrapperKernel(Kernel):
    """Base for kernels that drive one child process."""

    implementation_version = "0.1"
    banner = ""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.interrupts = 0
        self._cell_parent: dict = {}
        self._stream_buf: tuple[str, dict, list[str]] | None = None
        self._stream_chars = 0
        self._stream_timer: asyncio.TimerHandle | None = None
        self._start_task: asyncio.Task | None = None
        signal.signal(signal.SIGINT, self._on_sigint)

    def start(self):
        super().start()
        # Start the child as soon as the loop runs, so a pooled kernel is warm before its first cell.
        self.io_loop.add_callback(self.ensure_started)

    def ensure_started(self) -> asyncio.Task:
        """start_child(), begun once; await it (for its result) before talking to the child."""
        if self._start_task is None:
            self._start_task = asyncio.ensure_future(self.start_child())
        return self._start_task

    async def start_child(self):
        """Start what the kernel drives: its child process, or a tool it builds."""

    def _on_sigint(self, signum, frame) -> None:
        self.interrupts += 1

    # ipykernel swaps in default_int_handler around each handler; keep ours instead.
    def pre_handler_hook(self) -> None:
        pass

    def post_handler_hook(self) -> None:
        pass

    async def execute_request(self, stream, ident, parent):
        # Output arrives from pipe callbacks, outside the handler's context variables, so the
        # parent header is kept here explicitly. Output that arrives between cells (background
        # jobs) is attributed to the last request.
        self._cell_parent = parent
        await super().execute_request(stream, ident, parent)

    # -- iopub helpers ---------------------------------------------------------------------
    def publish(self, msg_type: str, content: dict) -> None:
        self.flush_streams()  # keeps output in order with results, displays and errors
        self._send_iopub(msg_type, content, self._cell_parent)

    def _send_iopub(self, msg_type: str, content: dict, parent: dict) -> None:
        if self.session:
            self.session.send(self.iopub_socket, msg_type, content, parent=parent)

    # Stream text is batched for a few milliseconds: a loop printing 100k lines would otherwise
    # cost one message (and ~0.3 ms) per line. Output still leaves while the cell runs.
    STREAM_BATCH_SECONDS = 0.005
    STREAM_BATCH_CHARS = 65536

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        if self._stream_buf and (self._stream_buf[0] != name or self._stream_buf[1] is not self._cell_parent):
            self.flush_streams()
        if not self._stream_buf:
            self._stream_buf = (name, self._cell_parent, [])
        self._stream_buf[2].append(text)
        self._stream_chars += len(text)
        if self._stream_chars >= self.STREAM_BATCH_CHARS:
            self.flush_streams()
        elif self._stream_timer is None:
            self._stream_timer = asyncio.get_running_loop().call_later(self.STREAM_BATCH_SECONDS, self.flush_streams)

    def flush_streams(self) -> None:
        if self._stream_timer is not None:
            self._stream_timer.cancel()
            self._stream_timer = None
        if self._stream_buf:
            name, parent, parts = self._stream_buf
            self._stream_buf, self._stream_chars = None, 0
            self._send_iopub("stream", {"name": name, "text": "".join(parts)}, parent)

    def display(self, data: dict, metadata: dict | None = None) -> None:
        self.publish("display_data", {"data": data, "metadata": metadata or {}, "transient": {}})

    def result(self, data: dict, metadata: dict | None = None) -> None:
        self.publish(
            "execute_result", {"execution_count": self.execution_count, "data": data, "metadata": metadata or {}}
        )

    # -- replies ---------------------------------------------------------------------------
    def ok_reply(self) -> dict:
        self.flush_streams()
        return {
            "status": "ok",
            "execution_count": self.execution_count,
            "payload": [],
            "user_expressions": {},
            "exit_code": 0,
        }

    def error_reply(self, ename: str, evalue: str, traceback: list[str], exit_code: int) -> dict:
        content = {"ename": ename, "evalue": evalue, "traceback": traceback}
        self.publish("error", content)
        return {
            "status": "error",
            "execution_count": self.execution_count,
            "exit_code": exit_code,
            **content,
        }

    def exit_soon(self, code: int = 1) -> None:
        """Leave the process after the reply has been flushed, so the agent sees the kernel died."""
        asyncio.get_running_loop().call_later(0.3, os._exit, code)
