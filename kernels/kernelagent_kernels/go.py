"""Go kernel: each cell becomes one small program, built with the go tool and run.

Semantics (Go has no interpreter, so "state" means source, not values):
- Top-level declarations (imports, funcs, methods, types, consts, package vars) persist as
  source: every later program includes them. Declaring a name again replaces the old one.
- Statements run once, inside `main`, in the cell that contains them; they are not re-run.
  Each cell is a fresh process, so values computed at run time (including changes to package
  vars) do not carry over; package var initialisers run again in each cell.
- Declarations are kept only if the cell compiles. A cell that declares `func main` runs that
  main and does not persist it.
- A cell whose first line is `//kernelagent:setup {json}` changes the kernel's environment and
  working directory instead (see kernelagent/engine/setup_codes.py): JSON carries any value.

goimports adds and removes standard imports; the go tool runs with `-mod=mod`, so explicit
module imports download through whatever GOPROXY the environment names. Programs are cached by
a hash of their source (and go.mod/go.sum and build env), so a repeated cell skips the build.
They are kept in `kernelagent/` inside Go's build cache directory (GOCACHE, which reaches the
kernel like any variable that is not the agent's own), beside the build cache itself.

Replies: `exit_code` is the program's exit status. Compile errors -> ename "CompileError"
(compiler output in stderr, exit_code 1); non-zero exit -> ename "ExitCode"; interrupt ->
"KeyboardInterrupt", exit_code 130.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from typing import Any

from .wrapper import INTERRUPTED_EXIT_CODE, FdReader, WrapperKernel, require_executable, watch_exit

HERE = os.path.dirname(os.path.abspath(__file__))
SETUP_MARKER = "//kernelagent:setup "
KEEP_BINARIES = 64  # programs kept in the cache; each is a few MB


def go_cache_dir() -> str:
    """Go's build cache directory as the go tool resolves it: GOCACHE, else the user cache dir.

    "" when there is none (no GOCACHE, XDG_CACHE_HOME or HOME): the kernel then names one."""
    gocache = os.environ.get("GOCACHE", "")
    if os.path.isabs(gocache):
        return gocache
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else ""
    )
    return os.path.join(base, "go-build") if os.path.isabs(base) else ""


def cache_root() -> str:
    """Where the kernel keeps built programs and its cell splitter: `kernelagent/` inside Go's
    build cache (GOCACHE), so one setting moves both; `go clean -cache` leaves it alone."""
    gocache = go_cache_dir()
    if gocache:
        return os.path.join(gocache, "kernelagent")
    return os.path.join(tempfile.gettempdir(), "kernelagent-go")


class GoKernel(WrapperKernel):
    """Builds each cell, with the declarations kept from earlier cells, into a program and runs it."""

    implementation = "kernelagent-go"
    language = "go"
    language_info = {"name": "go", "mimetype": "text/x-go", "file_extension": ".go"}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.go = require_executable("go")
        self.goimports = require_executable("goimports")
        self.root = cache_root()
        os.makedirs(os.path.join(self.root, "bin"), exist_ok=True)
        self.project = tempfile.mkdtemp(prefix="ka-go-", dir=os.environ.get("KA_KERNEL_SCRATCH"))
        with open(os.path.join(self.project, "go.mod"), "w") as f:
            f.write("module cell\n\ngo 1.19\n")
        self.imports: list[tuple[list[str], str]] = []  # (names, source)
        self.decls: list[tuple[list[str], str, str]] = []  # (names, source, //line directive)

    async def start_child(self) -> str:
        """Build the cell splitter (a small Go program) before the first cell; returns its path."""
        src_dir = os.path.join(HERE, "gocell")
        with open(os.path.join(src_dir, "main.go"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        path = os.path.join(self.root, f"gocell-{digest}")
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}"
            # no VCS stamping: the source may sit in a git checkout of another user (run_as_user), where it fails
            code, out = await self._run_tool([self.go, "build", "-buildvcs=false", "-o", tmp, "."], cwd=src_dir)
            if code != 0:
                raise RuntimeError(f"cannot build the Go cell splitter:\n{out}")
            os.replace(tmp, path)
        return path

    def build_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if not go_cache_dir():  # nowhere for the go tool to keep its build cache: give it one
            env["GOCACHE"] = os.path.join(self.root, "go-build")
        if not (env.get("GOPATH") or env.get("HOME")):  # nor its module cache
            env["GOPATH"] = os.path.join(self.root, "gopath")
        env["GOFLAGS"] = ("-mod=mod " + env.get("GOFLAGS", "")).strip()
        return env

    async def _run_tool(self, argv: list[str], cwd: str, stdin: bytes | None = None) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=self.build_env(),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await proc.communicate(stdin)
        assert proc.returncode is not None  # communicate() returns once the tool has exited
        return proc.returncode, out.decode("utf-8", "replace")

    # -- cells -------------------------------------------------------------------------------
    def _apply_setup(self, payload: str) -> dict:
        spec = json.loads(payload)
        for key in spec.get("unset", []):
            os.environ.pop(key, None)
        os.environ.update(spec.get("set", {}))
        if spec.get("workdir") is not None:
            os.chdir(spec["workdir"])
        return self.ok_reply()

    def _program(self, imports, decls, stmts: list[str], own_main: str | None) -> str:
        parts = ["package main\n"]
        parts += [src for _, src in imports]
        for _, src, line in decls:
            parts.append(f"{line}\n{src}")
        if own_main is not None:
            parts.append(own_main)
        else:
            parts.append("func main() {\n" + "\n".join(stmts) + "\n}")
        return "\n\n".join(parts) + "\n"

    async def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kw):
        if code.startswith(SETUP_MARKER):
            try:
                return self._apply_setup(code[len(SETUP_MARKER) :].split("\n", 1)[0])
            except (ValueError, OSError, TypeError, AttributeError) as exc:
                return self.error_reply("SetupError", str(exc), [], 1)
        if not code.strip():
            return self.ok_reply()
        interrupts_before = self.interrupts
        helper = await self.ensure_started()
        rc, out = await self._run_tool([helper], cwd=self.project, stdin=code.encode())
        parsed: dict[str, Any] = json.loads(out) if rc == 0 else {"error": out}
        if "error" in parsed:
            return self._compile_error(parsed["error"])

        # //line directives make compiler errors and panics point into cells. The running cell
        # is "cell", so that running the same cell again yields the same program (a cache hit);
        # declarations kept for later cells are renamed "cell[N]" after the cell they came from.
        imports, decls, stmts, own_main = list(self.imports), list(self.decls), [], None
        new_decls = []
        for item in parsed["items"]:
            names, src, line = item["names"] or [], item["src"], item["line"]
            directive = f"//line cell:{line}"
            if item["kind"] == "stmt":
                stmts.append(f"{directive}\n{src}")
            elif names == ["func:main"]:
                own_main = f"{directive}\n{src}"
            elif item["kind"] == "import":
                imports = [i for i in imports if not set(i[0]) & set(names)] + [(names, src)]
            else:
                decls = [d for d in decls if not set(d[0]) & set(names)] + [(names, src, directive)]
                new_decls.append((names, src, f"//line cell[{self.execution_count}]:{line}"))
        if own_main is not None and stmts:
            return self._compile_error("cell: a cell that declares func main cannot also contain statements")

        binary, build_rc = await self._build(self._program(imports, decls, stmts, own_main))
        if binary is None:
            if self.interrupts != interrupts_before:
                return self.error_reply("KeyboardInterrupt", "interrupted during build", [], INTERRUPTED_EXIT_CODE)
            return self._compile_error(build_rc)
        self.imports = imports
        self.decls = [d for d in decls if d[2].startswith("//line cell[")] + new_decls
        status = await self._run_program(binary)
        if status == 0:
            return self.ok_reply()
        if status == -signal.SIGINT or (self.interrupts != interrupts_before and status in (2, 130)):
            return self.error_reply("KeyboardInterrupt", "interrupted", [], INTERRUPTED_EXIT_CODE)
        exit_code = 128 - status if status < 0 else status
        return self.error_reply("ExitCode", f"exit status {exit_code}", [], exit_code)

    def _compile_error(self, message: str) -> dict:
        lines = [ln for ln in message.splitlines() if ln.strip() and not ln.startswith("# ")]
        self.stream("stderr", "\n".join(lines) + "\n")
        return self.error_reply("CompileError", lines[0] if lines else "compile error", [], 1)

    async def _build(self, source: str) -> tuple[str | None, str]:
        """Path of the built program (from the cache when seen before), or (None, compiler output)."""
        key = hashlib.sha256(source.encode())
        env = self.build_env()
        for name in ("go.mod", "go.sum"):
            path = os.path.join(self.project, name)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    key.update(f.read())
        for var in ("GOFLAGS", "GOOS", "GOARCH", "CGO_ENABLED", "GOEXPERIMENT", "CC"):
            key.update(f"{var}={env.get(var, '')}\n".encode())
        binary = os.path.join(self.root, "bin", key.hexdigest()[:32])
        if os.path.exists(binary):
            os.utime(binary)  # keeps it among the newest when pruning
            return binary, ""
        main = os.path.join(self.project, "main.go")
        with open(main, "w", encoding="utf-8") as f:
            f.write(source)
        rc, out = await self._run_tool([self.goimports, "-w", "main.go"], cwd=self.project)
        if rc != 0:
            return None, out.replace(main, "main.go")
        tmp = f"{binary}.{os.getpid()}.tmp"
        rc, out = await self._run_tool([self.go, "build", "-buildvcs=false", "-o", tmp, "."], cwd=self.project)
        if rc != 0:
            return None, out
        os.replace(tmp, binary)
        self._prune()
        return binary, ""

    def _prune(self) -> None:
        folder = os.path.join(self.root, "bin")
        entries = sorted(os.scandir(folder), key=lambda e: e.stat().st_mtime, reverse=True)
        for entry in entries[KEEP_BINARIES:]:
            try:
                os.unlink(entry.path)
            except OSError:
                pass

    async def _run_program(self, binary: str) -> int:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            proc = subprocess.Popen([binary], stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w)
        finally:
            os.close(out_w)
            os.close(err_w)
        done = asyncio.get_running_loop().create_future()
        out = FdReader(out_r, lambda t: self.stream("stdout", t))
        err = FdReader(err_r, lambda t: self.stream("stderr", t))
        watch_exit(proc, lambda code: done.set_result(code))
        status = await done
        # The pipes may still hold the last output, or be held open by a child left running.
        out.drain()
        err.drain()
        out.close()
        err.close()
        return status

    async def do_shutdown(self, restart):
        shutil.rmtree(self.project, ignore_errors=True)
        return {"status": "ok", "restart": restart}


def main() -> None:
    """Run the kernel: `python -m kernelagent_kernels.go -f CONNECTION_FILE`."""
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=GoKernel)


if __name__ == "__main__":
    main()
