"""One channels WebSocket on a context's kernel: Jupyter messages relayed both ways.

Each WebSocket gets a jupyter_client client of its own on the context's kernel (its own shell,
control and stdin sockets, so replies come back to it alone, and its own iopub subscription, so it
sees every output of the kernel, the agent's own runs included). Messages go through as they are,
except execute requests: those wait for the context's turn (`Context.turn`), the same one-at-a-time
order as /execute, and hold it until the kernel has replied and gone idle; before each, the kernel's
environment is brought to the agent's global variables (/env), and after each the cell is kept in the
context's history (its notebook), as for /execute. When the context gets a
new kernel (restart, a deadline, a death), the relay follows it; when the context is deleted, the
relay ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ..core.errors import AgentError
from ..engine import render
from ..engine.context import Context
from ..engine.kernel import Kernel, read_messages
from ..engine.outputs import Outputs
from ..models.gateway import ChannelFrame
from . import messages

log = logging.getLogger("kernelagent.gateway")

FOLLOW_INTERVAL = 0.5  # how often a relay checks that its context still has the same kernel
NUDGE_TRIES = 50  # kernel_info requests sent until the new iopub subscription hears one
NUDGE_WAIT = 0.1
STOPPED = object()  # ends the execute worker


class PendingRun:
    """An execute_request sent to the kernel: done once it has replied and reported idle. Its
    outputs are gathered, within the agent's caps, for the context's history."""

    def __init__(self, outputs: Outputs) -> None:
        self.reply: dict[str, Any] | None = None
        self.idle = False
        self.done = asyncio.Event()
        self.outputs = outputs
        self.started = time.monotonic()

    def on_reply(self, msg: dict[str, Any]) -> None:
        self.reply = msg
        if self.idle:
            self.done.set()

    def on_idle(self) -> None:
        self.idle = True
        if self.reply is not None:
            self.done.set()


class KernelChannels:
    """The relay between one WebSocket (`send` takes its text frames) and a context's kernel."""

    def __init__(
        self,
        context_id: str,
        context: Callable[[], Context],
        global_env: Callable[[], dict[str, str]],
        send: Callable[[str], None],
        on_gone: Callable[[], None],
        deadline: float,
        grace: float,
    ):
        """`context()` returns the context now (AgentError once deleted); `on_gone()` ends the socket;
        an execution still running after `deadline` seconds is interrupted, and after `grace` more
        the turn passes on."""
        self.context_id = context_id
        self.context = context
        self.global_env = global_env
        self.send = send
        self.on_gone = on_gone
        self.deadline = deadline
        self.grace = grace
        self.kernel: Kernel | None = None
        self.client: Any = None  # the AsyncKernelClient on self.kernel
        self._readers: list[asyncio.Task] = []
        self._worker: asyncio.Task | None = None
        self._follower: asyncio.Task | None = None
        self._connecting = asyncio.Lock()
        self._executes: asyncio.Queue[Any] = asyncio.Queue()
        self._pending: dict[str, PendingRun] = {}
        self._own: set[str] = set()  # ids of the relay's own requests, whose answers are not relayed

    # --- life cycle ---

    async def open(self) -> None:
        await self._attach(self.context().kernel)
        self._worker = asyncio.create_task(self._run_executes())
        self._follower = asyncio.create_task(self._follow())

    def close(self) -> None:
        """The socket is gone: drop what waits; a run already sent ends (or meets its deadline) first,
        then the relay lets go of the kernel."""
        while not self._executes.empty():
            self._executes.get_nowait()
        self._executes.put_nowait(STOPPED)
        if self._follower is not None:
            self._follower.cancel()

    async def _attach(self, kernel: Kernel) -> None:
        """Relay to `kernel`, unless already relaying to it."""
        async with self._connecting:
            if self.kernel is not kernel or self.client is None:
                await self._connect(kernel)

    def _disconnect(self) -> None:
        for task in self._readers:
            task.cancel()
        self._readers = []
        if self.client is not None:
            self.client.stop_channels()
            self.client = None

    async def _connect(self, kernel: Kernel) -> None:
        self._disconnect()
        # A Session of its own (side_client): a shared one would also see each iopub message
        # twice (once per subscriber) and drop the second as a replay, starving the agent's reader.
        client = kernel.side_client()
        client.start_channels(hb=False)
        self.client, self.kernel = client, kernel
        await self._nudge(client)
        self._readers = [
            asyncio.create_task(self._read(client.get_iopub_msg, "iopub")),
            asyncio.create_task(self._read(client.get_shell_msg, "shell")),
            asyncio.create_task(self._read(client.get_control_msg, "control")),
            asyncio.create_task(self._read(client.get_stdin_msg, "stdin")),
        ]

    async def _nudge(self, client: Any) -> None:
        """Wait until the new iopub subscription hears the kernel (a SUB socket misses what is
        published before it has joined), so no output of the first request is lost."""
        for _ in range(NUDGE_TRIES):
            msg_id = client.kernel_info()
            self._own.add(msg_id)
            try:
                while True:
                    msg = await client.get_iopub_msg(timeout=NUDGE_WAIT)
                    if messages.parent_id(msg) in self._own:
                        return
            except Exception:  # queue.Empty: not joined yet, ask again
                continue
        log.warning("kernel %s: iopub did not answer; relaying anyway", self.kernel and self.kernel.id)

    async def _follow(self) -> None:
        """Follow the context to its new kernel, and end the socket when the context is deleted."""
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL)
            try:
                ctx = self.context()
            except AgentError:
                self._stop()
                self.on_gone()
                return
            if ctx.kernel is not self.kernel and not self._pending:
                await self._attach(ctx.kernel)

    def _stop(self) -> None:
        self._executes.put_nowait(STOPPED)

    # --- from the kernel ---

    async def _read(self, get: Callable[[], Any], channel: str) -> None:
        await read_messages(get, lambda msg: self._from_kernel(channel, msg), f"gateway {channel}")

    def _from_kernel(self, channel: str, msg: dict[str, Any]) -> None:
        parent = messages.parent_id(msg)
        if parent in self._own:
            return  # the answer to a nudge
        run = self._pending.get(parent) if parent else None
        if run is not None:
            kind = msg["header"]["msg_type"]
            if channel == "shell" and kind == "execute_reply":
                run.on_reply(msg)
            elif channel == "iopub":
                run.outputs.add_message(kind, msg["content"])
                if kind == "status" and msg["content"].get("execution_state") == "idle":
                    run.on_idle()
        self.send(messages.to_text(channel, msg))

    # --- from the client ---

    def receive(self, frame: ChannelFrame) -> None:
        """One message from the client: an execute request waits for the context's turn, the rest
        goes to the kernel at once."""
        msg = frame.message()
        if frame.channel == "shell" and frame.header.msg_type == "execute_request":
            self._executes.put_nowait(msg)
        elif self.client is not None:
            getattr(self.client, f"{frame.channel}_channel").send(msg)

    async def _run_executes(self) -> None:
        try:
            while (msg := await self._executes.get()) is not STOPPED:
                try:
                    ctx = self.context()
                    async with ctx.turn():
                        await ctx.apply_env(self.global_env())
                        failed = await self._execute(ctx, msg)
                except AgentError as exc:  # too many runs waiting (429), the context is gone, a bad env name
                    self._end_unrun(msg, "error", exc.code, exc.message)
                    continue
                if failed and msg["content"].get("stop_on_error", True):
                    self._abort_queued()  # as a kernel does with what was queued behind an error
        finally:
            self._disconnect()

    async def _execute(self, ctx: Context, msg: dict[str, Any]) -> bool:
        """Send one execute request and wait for its end; True if it failed."""
        await self._attach(ctx.kernel)
        kernel, msg_id = ctx.kernel, msg["header"]["msg_id"]
        s = ctx.settings
        run = self._pending[msg_id] = PendingRun(Outputs(s.max_stdout_bytes, s.max_stderr_bytes, s.max_rich_bytes))
        try:
            self.client.shell_channel.send(msg)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.deadline
            interrupted = False
            while not run.done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run.done.wait(), FOLLOW_INTERVAL)
                if run.done.is_set():
                    break
                if ctx.kernel is not kernel:  # restarted or replaced meanwhile: this run is gone with it
                    self._end_unrun(msg, "error", "KernelRestarted", "the kernel was restarted; its state was lost")
                    return True
                if loop.time() > deadline:
                    if interrupted:
                        self._end_unrun(msg, "error", "TimeoutError", f"still running after {self.deadline:g} s")
                        return True
                    interrupted = True
                    await ctx.interrupt()
                    deadline = loop.time() + self.grace
            if msg["content"].get("store_history", True) and not msg["content"].get("silent"):
                self._record(ctx, msg, run)
            return (run.reply or {}).get("content", {}).get("status") == "error"
        finally:
            del self._pending[msg_id]

    @staticmethod
    def _record(ctx: Context, msg: dict[str, Any], run: PendingRun) -> None:
        """Keep a finished cell in the context's history, as /execute's runs are kept."""
        reply = (run.reply or {}).get("content")
        outputs = run.outputs
        answer = render.answer(
            outputs=outputs,
            reply=reply,
            exit_code=render.exit_code(reply, outputs),
            error=render.kernel_error(outputs.error) if outputs.error else None,
            execution_time=time.monotonic() - run.started,
            language=ctx.language.name,
            context_id=ctx.id,
            restarted=False,
        )
        ctx.history.record(str(msg["content"].get("code", "")), answer)

    def _abort_queued(self) -> None:
        while not self._executes.empty():
            msg = self._executes.get_nowait()
            if msg is STOPPED:
                self._executes.put_nowait(STOPPED)
                return
            self._end_unrun(msg, "aborted")

    def _end_unrun(self, msg: dict[str, Any], status: str, ename: str = "", evalue: str = "") -> None:
        for _channel, text in messages.unfinished_reply(msg, status, ename, evalue):
            self.send(text)
