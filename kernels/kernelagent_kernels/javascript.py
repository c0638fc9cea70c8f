"""JavaScript kernel: drives one long-lived `node` process running node_host.js.

Cells go to node as JSON lines on one pipe; events (stream, display, result, done) come back as
JSON lines on another, so console output keeps its order and leaves while the cell runs. Node's
real stdout/stderr are forwarded too: they carry output of child processes using
`stdio: 'inherit'`.

Interrupt: SIGINT goes to the whole process group; node_host.js turns it into an interrupted
cell (synchronous code via vm's breakOnSigint, an awaiting cell via its SIGINT handler) and keeps
its state. A busy loop that starts after an `await` inside a cell cannot be interrupted; the
agent's restart-after-grace handles that case.

Replies: errors carry ename/evalue/traceback (the JS stack) and exit_code 1; an interrupt has
ename "KeyboardInterrupt" and exit_code 130. If node exits (process.exit, crash) the reply says
so and the kernel process exits, so the agent sees a dead kernel.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

from .wrapper import INTERRUPTED_EXIT_CODE, FdReader, WrapperKernel, require_executable, watch_exit

HOST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_host.js")


class NodeKernel(WrapperKernel):
    """One long-lived node process running node_host.js, which evaluates the cells."""

    implementation = "kernelagent-node"
    language = "javascript"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._node = require_executable("node")
        self.language_info = {
            "name": "javascript",
            "mimetype": "application/javascript",
            "file_extension": ".js",
            "version": subprocess.run([self._node, "--version"], capture_output=True, text=True)
            .stdout.strip()
            .lstrip("v"),
        }
        self._proc: subprocess.Popen | None = None
        self._ready: asyncio.Future | None = None
        self._cell: tuple[int, asyncio.Future] | None = None
        self._next_id = 0
        self._events_buf = ""

    async def start_child(self) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        event_r, event_w = os.pipe()
        command_r, command_w = os.pipe()
        # --expose-internals lets node_host.js use node's bundled acorn parser when no acorn
        # package is installed; no other internal module is used.
        self._proc = subprocess.Popen(
            [self._node, "--expose-internals", HOST, str(event_w), str(command_r)],
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            pass_fds=(event_w, command_r),
        )
        for fd in (event_w, out_w, err_w):
            os.close(fd)
        os.close(command_r)
        self._commands = os.fdopen(command_w, "wb", buffering=0)
        self._ready = asyncio.get_running_loop().create_future()
        self._node_stdout = FdReader(out_r, lambda t: self.stream("stdout", t))
        self._node_stderr = FdReader(err_r, lambda t: self.stream("stderr", t))
        self._events = FdReader(event_r, self._on_events)
        watch_exit(self._proc, self._on_node_exit)
        await self._ready

    def _on_events(self, text: str) -> None:
        self._events_buf += text
        *lines, self._events_buf = self._events_buf.split("\n")
        for line in lines:
            event = json.loads(line)
            kind = event["t"]
            if kind == "stream":
                self.stream(event["name"], event["text"])
            elif kind == "display":
                self.display(event["data"], event.get("metadata"))
            elif kind == "result":
                self.result(event["data"])
            elif kind == "done" and self._cell and self._cell[0] == event["id"]:
                if not self._cell[1].done():
                    self._cell[1].set_result(event)
            elif kind == "ready" and self._ready and not self._ready.done():
                self._ready.set_result(event)

    def _on_node_exit(self, code: int) -> None:
        self._events.drain()
        for fut in (self._ready, self._cell[1] if self._cell else None):
            if fut and not fut.done():
                fut.set_exception(EOFError(code))
        self.exit_soon(1)

    async def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kw):
        try:
            await self.ensure_started()
            self._next_id += 1
            fut = asyncio.get_running_loop().create_future()
            self._cell = (self._next_id, fut)
            command = {"id": self._next_id, "code": code, "count": self.execution_count, "silent": silent}
            self._commands.write((json.dumps(command) + "\n").encode())
            done = await fut
        except (EOFError, BrokenPipeError) as exc:
            code_ = exc.args[0] if isinstance(exc, EOFError) and exc.args else 1
            return self.error_reply(
                "KernelDied", f"node exited with code {code_}; this kernel has stopped", [], code_ or 1
            )
        finally:
            self._cell = None
        self._node_stdout.drain()
        self._node_stderr.drain()
        if done["ok"]:
            return self.ok_reply()
        exit_code = INTERRUPTED_EXIT_CODE if done["ename"] == "KeyboardInterrupt" else 1
        return self.error_reply(done["ename"], done["evalue"], done["traceback"], exit_code)

    async def do_shutdown(self, restart):
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
        return {"status": "ok", "restart": restart}


def main() -> None:
    """Run the kernel: `python -m kernelagent_kernels.javascript -f CONNECTION_FILE`."""
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=NodeKernel)


if __name__ == "__main__":
    main()
