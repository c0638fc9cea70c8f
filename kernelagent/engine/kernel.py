"""One kernel process: its manager, its client, and the routing of its messages to the run that asked.

A single reader task per channel (iopub, shell) hands each message to the run whose request is
its parent, so stale messages from an interrupted run never reach the next one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.session import Session
from kernelagent_kernels.forking import ForkedProcess

from ..core.runas import RunAs
from .languages import Language
from .outputs import Outputs

log = logging.getLogger("kernelagent.kernel")

# After execute_reply, how long to wait for the iopub "idle" that ends a run; covers the rare
# case of an idle message lost to the PUB socket's high-water mark.
IDLE_AFTER_REPLY = 1.0
# The environment variable naming a kernel's scratch directory (see Kernel.start).
SCRATCH_ENV = "KA_KERNEL_SCRATCH"
# How often a waiting run checks that the kernel process is still alive.
ALIVE_POLL = 0.25
# How long each kernel_info of the start handshake waits for its answer before it is sent again.
HANDSHAKE_POLL = 0.1


async def read_messages(get: Callable[[], Awaitable[dict]], handle: Callable[[dict], None], what: str) -> None:
    """Hand every message `get` receives to `handle` until cancelled; a malformed one is logged
    (as `what`) and skipped: it must not stop the reader."""
    while True:
        try:
            msg = await get()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: bad message: %s", what, exc)
            await asyncio.sleep(0.01)
            continue
        handle(msg)


class Run:
    """One execute_request in flight: done once the kernel has replied and reported idle.

    Reply (shell) and idle (iopub) travel on different sockets, so either may come first; the
    reply carries what wrapper kernels report (their exit code), the idle ends the output.
    """

    def __init__(self, msg_id: str, outputs: Outputs):
        self.msg_id = msg_id
        self.outputs = outputs
        self.reply: dict | None = None
        self.idle = False
        self.finished = asyncio.Event()
        self._grace: asyncio.TimerHandle | None = None

    def on_iopub(self, msg: dict) -> None:
        kind = msg["header"]["msg_type"]
        content = msg["content"]
        self.outputs.add_message(kind, content)
        if kind == "status" and content.get("execution_state") == "idle":
            self.idle = True
            if self.reply is not None:
                self.finished.set()

    def on_reply(self, msg: dict) -> None:
        self.reply = msg["content"]
        if self.idle:
            self.finished.set()
        else:
            self._grace = asyncio.get_running_loop().call_later(IDLE_AFTER_REPLY, self.finished.set)

    def close(self) -> None:
        if self._grace is not None:
            self._grace.cancel()


class _KernelManager(AsyncKernelManager):
    """An AsyncKernelManager that can launch its kernel as another user (`owner`): the Popen
    arguments come through start_kernel's keyword arguments; the connection file, written by the
    provisioner as the agent's (mode 0600), is given to that user just before the launch."""

    owner: RunAs | None = None
    template: Any = None  # a KernelTemplate to fork the kernel from (the kernelspec's provisioner reads it)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        # jupyter_client's documented override point, between writing the connection file and the launch
        if self.owner is not None:
            self.owner.give(self.connection_file)
        await super()._async_launch_kernel(kernel_cmd, **kw)


class Kernel:
    """One kernel process and its client: starts it, submits code, routes replies to runs, ends it."""

    def __init__(
        self,
        language: Language,
        kernel_spec_manager,
        runtime_dir: str,
        context: zmq.asyncio.Context,
        digest_history: int,
    ):
        """`context` is the ZMQ context shared by every kernel of the agent (the supply's): a context of
        its own per kernel, jupyter_client's default, costs two native threads started and ended per
        kernel, and that churn grew the agent's RSS by about 30 KB per kernel started and retired."""
        self.id = str(uuid.uuid4())
        self.language = language
        # A kernelspec may ask for a short wait after idle (Deno sometimes publishes a cell's last
        # output just after its idle status). Its provisioner may choose another transport (Deno's
        # picks tcp on loopback: it cannot use ipc).
        options = kernel_spec_manager.get_kernel_spec(language.kernel_name).metadata.get("kernelagent", {})
        self.late_output_grace = float(options.get("late_output_grace", 0))
        self.km = _KernelManager(
            context=context,
            kernel_name=language.kernel_name,
            kernel_spec_manager=kernel_spec_manager,
            transport="ipc",
            connection_file=os.path.join(runtime_dir, f"kernel-{self.id}.json"),
        )
        self.km.session.digest_history_size = digest_history  # the client's session is a clone of this one
        self.scratch = os.path.join(runtime_dir, f"kernel-{self.id}.scratch")
        self.kc: Any = None  # its AsyncKernelClient, once start() has run
        self._runs: dict[str, Run] = {}
        self._tasks: list[asyncio.Task] = []
        self.started_at = 0.0
        self.last_activity = time.time()
        self.execution_state = "starting"
        # What set-up code has applied on top of the start environment and directory.
        self.stream_limit = 0  # the source-side output cap set in the kernel, where it has one
        self.base_env: dict[str, str] = {}
        self.env_overlay: dict[str, str] = {}
        self.workdir: str = ""

    def side_client(self) -> Any:
        """Another client of this kernel (channels not started), with a Session of its own.
        jupyter_client names a client's shell socket after its session id, and the kernel's ROUTER
        forgets a name once its socket closes: a short-lived client sharing the main client's
        session cut the main one off from every later reply (its runs then hit their deadline)."""
        own = self.km.session
        session = Session(
            key=own.key, signature_scheme=own.signature_scheme, digest_history_size=own.digest_history_size
        )
        return self.km.client(context=self.km.context, session=session)

    async def start(self, cwd: str, env: dict[str, str], timeout: float, user: RunAs | None = None) -> None:
        """Launch the kernel (as `user`, if given, in a runtime dir that user owns) and wait until it answers."""
        self.workdir = cwd
        # Wrapper kernels keep their scratch files here; it goes with the kernel, even one killed
        # outright, which never runs its own clean-up.
        os.mkdir(self.scratch, 0o700)
        spawn: dict[str, Any] = {}
        if user is not None:
            env = user.environ(env)
            user.give(self.scratch)
            self.km.owner = user
            spawn = user.popen_kwargs()
        self.base_env = dict(env)
        await self.km.start_kernel(cwd=cwd, env={**env, SCRATCH_ENV: self.scratch}, **spawn)
        self.kc = self.km.client(context=self.km.context)
        # Only the channels the agent uses: liveness is the process's (km.is_alive), stdin is never
        # allowed, interrupts and shutdowns go through the manager. The heartbeat alone would cost a
        # thread with an event loop of its own per kernel.
        self.kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        if self.forked():
            await self._handshake(timeout)
        else:
            await self.kc.wait_for_ready(timeout=timeout)
        self._tasks = [
            asyncio.create_task(self._route(self.kc.get_iopub_msg, "iopub")),
            asyncio.create_task(self._route(self.kc.get_shell_msg, "shell")),
        ]
        self.started_at = time.time()
        self.execution_state = "idle"

    async def _handshake(self, timeout: float) -> None:
        """Wait until the kernel answers kernel_info on shell and iopub delivers to us: as
        jupyter_client's wait_for_ready, without its final 0.2 s of waiting for iopub to go quiet
        (a forked kernel is ready in less; the routers drop what arrives for no run). Launched
        kernels keep jupyter_client's wait: it costs them little beside their start."""
        deadline = time.monotonic() + timeout
        replied = False
        while time.monotonic() < deadline:
            self.kc.kernel_info()
            try:
                if not replied:
                    msg = await self.kc.shell_channel.get_msg(timeout=HANDSHAKE_POLL)
                    if msg["msg_type"] != "kernel_info_reply":
                        continue
                    self.kc._handle_kernel_info_reply(msg)
                    replied = True
                await self.kc.iopub_channel.get_msg(timeout=HANDSHAKE_POLL)
                return  # the subscription is live: outputs of the next request reach us
            except queue.Empty:
                if not await self.is_alive():
                    raise RuntimeError("the kernel died before it answered kernel_info") from None
        raise RuntimeError(f"the kernel did not answer within {timeout:g} s")

    async def _route(self, get, channel: str) -> None:
        await read_messages(get, lambda msg: self._to_run(channel, msg), f"kernel {self.id} {channel}")

    def _to_run(self, channel: str, msg: dict) -> None:
        run = self._runs.get(msg.get("parent_header", {}).get("msg_id"))
        if run is None:
            return
        if channel == "iopub":
            run.on_iopub(msg)
        elif msg["header"]["msg_type"] == "execute_reply":
            run.on_reply(msg)

    def submit(self, code: str, outputs: Outputs, silent: bool = False) -> Run:
        msg_id = self.kc.execute(code, silent=silent, store_history=not silent, allow_stdin=False, stop_on_error=False)
        run = Run(msg_id, outputs)
        self._runs[msg_id] = run
        self.execution_state = "busy"
        self.last_activity = time.time()
        return run

    async def wait(self, run: Run, timeout: float) -> str:
        """Wait for a run: "done", "timeout" (still running at the deadline) or "died"."""
        deadline = time.monotonic() + timeout
        while not run.finished.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            try:
                await asyncio.wait_for(run.finished.wait(), min(remaining, ALIVE_POLL))
            except TimeoutError:
                if not await self.is_alive():
                    self.execution_state = "dead"
                    return "died"
        if self.late_output_grace:
            await asyncio.sleep(self.late_output_grace)
        return "done"

    def release(self, run: Run) -> None:
        run.close()
        self._runs.pop(run.msg_id, None)
        self.last_activity = time.time()
        if not self._runs:
            self.execution_state = "idle"

    async def run_silent(self, code: str, timeout: float) -> Outputs:
        """Run set-up code out of history; returns its outputs (error included) for the caller to judge."""
        outputs = Outputs(64 << 10, 64 << 10, 1 << 20)
        run = self.submit(code, outputs, silent=True)
        try:
            state = await self.wait(run, timeout)
        finally:
            self.release(run)
        if state != "done":
            raise RuntimeError(f"kernel set-up code did not finish ({state})")
        return outputs

    async def is_alive(self) -> bool:
        return await self.km.is_alive()

    def exit_status(self) -> int | None:
        """The process's return code once it has exited (negative: killed by that signal); None
        while it runs, or when nobody saw how it ended (a forked kernel outliving its template)."""
        provisioner = self.km.provisioner
        process = getattr(provisioner, "process", None) if provisioner else None
        if process is None or not getattr(process, "status_known", True):
            return None
        return process.poll()

    def forked(self) -> bool:
        """Whether the kernel was forked from a template rather than launched."""
        return isinstance(getattr(self.km.provisioner, "process", None), ForkedProcess)

    def pid(self) -> int | None:
        provisioner = self.km.provisioner
        process = getattr(provisioner, "process", None) if provisioner else None
        return process.pid if process is not None else None

    async def interrupt(self) -> None:
        await self.km.interrupt_kernel()

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for run in list(self._runs.values()):
            run.close()
        self._runs.clear()
        if self.kc is not None:
            self.kc.stop_channels()
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception as exc:  # shutting down regardless
            log.warning("kernel %s: shutdown: %s", self.id, exc)
        await asyncio.to_thread(shutil.rmtree, self.scratch, True)
        self.execution_state = "dead"
