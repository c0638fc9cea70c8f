"""Bash kernel: one long-lived bash, stdout and stderr kept apart, the cell's exit status reported.

Why an interactive bash (`-i`) with job control off (`set +m`):
- an interactive shell answers SIGINT by abandoning the whole command line and going back to
  reading input, with its state intact; a non-interactive one would exit, and a `trap` would
  only kill the current command while the rest of a loop carried on;
- without job control, commands stay in the kernel's process group, so jupyter_client's SIGINT
  to the group reaches them (and their children) directly;
- aliases are expanded, as a user at a terminal expects.

Each cell is written to a private file and run with `source FILE </dev/null` (so aliases defined
in a cell apply to its later lines and to later cells, and a command reading stdin cannot eat
our protocol). The next input line, `__ka_done $? ID`, writes the status to a private pipe
(fd 3 inside bash); it runs even when SIGINT abandoned the cell's line.

Replies: `exit_code` is the cell's exit status. Non-zero -> status "error", ename "ExitCode",
evalue "exit status N" (interrupt: ename "KeyboardInterrupt", exit_code 130), traceback [].
If bash itself exits (`exit`, `set -e`), the reply says so and the kernel process exits.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile

from .wrapper import INTERRUPTED_EXIT_CODE, FdReader, WrapperKernel, require_executable, watch_exit

INIT = r"""set +m +o history +H
PS1=''; PS2=''; PS0=''; PS4='+ '; unset PROMPT_COMMAND HISTFILE
shopt -s expand_aliases checkwinsize
__ka_done() { printf '%s %s\n' "$2" "$1" >&3; }
"""


class BashKernel(WrapperKernel):
    """One long-lived interactive bash; each cell is sourced from a file and reports its status."""

    implementation = "kernelagent-bash"
    language = "bash"
    language_info = {"name": "bash", "mimetype": "text/x-sh", "file_extension": ".sh", "codemirror_mode": "shell"}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._bash = require_executable("bash")
        self._proc: subprocess.Popen | None = None
        self._cell_id = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self._status_buf = ""
        self._dir = tempfile.mkdtemp(prefix="ka-bash-", dir=os.environ.get("KA_KERNEL_SCRATCH"))  # mode 0700
        self._bash_newline_due = False

    async def start_child(self) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        status_r, status_w = os.pipe()
        env = dict(os.environ, TERM="dumb", PS1="", PS2="")
        self._proc = subprocess.Popen(
            [self._bash, "--noprofile", "--norc", "--noediting", "-i"],
            stdin=subprocess.PIPE,
            stdout=out_w,
            stderr=err_w,
            pass_fds=(status_w,),
            env=env,
        )
        for fd in (status_w, out_w, err_w):
            os.close(fd)
        # bash's own startup chatter ("no job control in this shell") is dropped until ready.
        self._quiet = True
        self._out = FdReader(out_r, lambda t: self._emit("stdout", t))
        self._err = FdReader(err_r, lambda t: self._emit("stderr", t))
        self._status = FdReader(status_r, self._on_status)
        watch_exit(self._proc, self._on_bash_exit)
        self._send(INIT + f"exec 3>&{status_w} {status_w}>&-\n")
        await self._run_line(":")
        self._out.drain()
        self._err.drain()
        self._quiet = False

    def _emit(self, name: str, text: str) -> None:
        if self._quiet:
            return
        if name == "stderr" and text == "\n" and self._bash_newline_due:
            # an interactive bash writes a bare newline when SIGINT abandons a line; not output
            self._bash_newline_due = False
            return
        self.stream(name, text)

    def _on_sigint(self, signum, frame) -> None:
        super()._on_sigint(signum, frame)
        self._bash_newline_due = True

    def _send(self, text: str) -> None:
        assert self._proc and self._proc.stdin
        self._proc.stdin.write(text.encode())
        self._proc.stdin.flush()

    def _on_status(self, text: str) -> None:
        self._status_buf += text
        *lines, self._status_buf = self._status_buf.split("\n")
        for line in lines:
            cell_id, _, code = line.partition(" ")
            fut = self._waiting.pop(int(cell_id), None)
            if fut and not fut.done():
                fut.set_result(int(code))

    def _on_bash_exit(self, code: int) -> None:
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(EOFError(code))
        self._waiting.clear()
        self.exit_soon(1)  # also when idle: the agent must see that this kernel's state is gone

    async def _run_line(self, line: str) -> int:
        self._cell_id += 1
        fut = asyncio.get_running_loop().create_future()
        self._waiting[self._cell_id] = fut
        self._send(f"{line}\n__ka_done $? {self._cell_id}\n")
        return await fut

    async def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kw):
        await self.ensure_started()
        if not code.strip():
            return self.ok_reply()
        path = os.path.join(self._dir, "cell.sh")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code if code.endswith("\n") else code + "\n")
        interrupts_before = self.interrupts
        try:
            status = await self._run_line(f"source {path} </dev/null 3>&-")
        except EOFError as exc:
            self._out.drain()
            self._err.drain()
            code_ = exc.args[0] if exc.args else 1
            self.exit_soon(1)
            return self.error_reply(
                "ShellExited", f"bash exited with status {code_}; this kernel has stopped", [], code_
            )
        self._out.drain()
        self._err.drain()
        self._bash_newline_due = False
        if status == 0:
            return self.ok_reply()
        if status == INTERRUPTED_EXIT_CODE and self.interrupts != interrupts_before:
            return self.error_reply("KeyboardInterrupt", "interrupted", [], status)
        return self.error_reply("ExitCode", f"exit status {status}", [], status)

    async def do_shutdown(self, restart):
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
        shutil.rmtree(self._dir, ignore_errors=True)
        return {"status": "ok", "restart": restart}


def main() -> None:
    """Run the kernel: `python -m kernelagent_kernels.bash -f CONNECTION_FILE`."""
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=BashKernel)


if __name__ == "__main__":
    main()
