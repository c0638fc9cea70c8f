"""Where kernels come from and go: the kernelspecs, the languages they offer, the warm pool that
starts and warms kernels ahead of need, and the background shutdown of retired ones.

Kernels live with their sockets and connection files in a private runtime directory (mode 0700),
removed at shutdown.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import stat
import tempfile

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpecManager
from kernelagent_kernels import kernelspecs_dir

from ..core import proc
from ..core.errors import AgentError
from ..core.runas import run_as, shared_base
from ..core.statedir import fresh_run_dir
from ..environment import agent_base_env
from ..settings import Settings
from .kernel import Kernel
from .languages import LANGUAGES, Language
from .pool import KernelPool
from .template import KernelTemplate

log = logging.getLogger("kernelagent.engine")

KERNELS_DIR = kernelspecs_dir()  # the kernelspecs, package data of kernelagent_kernels


# A kernel's IPC socket path, `<runtime>/kernel-<uuid>-ipc-<n>`, must fit in sun_path (107 bytes).
MAX_RUNTIME_PATH = 107 - len("/kernel-") - 36 - len("-ipc-99") - len("/run-4194304")


# Every kernel's client sockets (shell, iopub, the manager's control) live in one ZMQ context.
MAX_ZMQ_SOCKETS = 8192
RECONNECT_IVL_MS = 5


def kernel_tree(kernel: Kernel) -> str:
    """The process-tree marker of a kernel (core.proc): everything it starts inherits it."""
    return f"{os.getpid()}-{kernel.id}"


def runtime_base(state_dir: str, outside: bool = False) -> str:
    """Where run directories with kernel connection files go: `<state_dir>/runtime`, or, where
    that path is too long for the kernels' sockets (or kernels run as another user, who must not
    enter the state dir: `outside`), a `kernelagent-<uid>` dir (`kernelagent-<uid>-runas`) in /tmp."""
    base = os.path.join(os.path.abspath(state_dir), "runtime")
    if outside:  # its own base: a private one's mode (0700) would keep the other user out
        return shared_base()
    if len(base.encode()) <= MAX_RUNTIME_PATH:
        return base
    return os.path.join(tempfile.gettempdir(), f"kernelagent-{os.getuid()}")


def _ours(path: str) -> bool:
    """Whether `path` is a real directory (not a link) owned by the agent's user."""
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


class KernelSupply:
    """Starts, lends and retires kernels: the contexts' one source of kernels."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.ksm = KernelSpecManager(kernel_dirs=[str(KERNELS_DIR)])
        self.runtime_dir = ""
        self.available: list[str] = []
        self.pool: KernelPool | None = None
        self._retiring: set[asyncio.Task] = set()
        self.templates: dict[str, KernelTemplate] = {}  # per language whose kernelspec forks from one
        # One ZMQ context for every kernel's sockets, made and ended with the supply (see Kernel).
        self.zmq: zmq.asyncio.Context | None = None

    async def start(self) -> None:
        # under the state dir (0700), not /tmp; a killed agent's leftover is cleared here
        user = run_as(self.settings.run_as_user)
        base = runtime_base(self.settings.state_dir, outside=user is not None)
        if user is not None and os.path.lexists(base) and not _ours(base):  # in /tmp: anyone may have made it
            raise RuntimeError(f"{base} is not a directory of the agent's own; remove it")
        self.runtime_dir = fresh_run_dir(base)
        if user is not None:
            # kernels run as that user: they bind their sockets in a run dir of their own (0700),
            # reached through a base the agent owns that lets others through but not list (0711)
            os.chmod(base, 0o711)
            user.give(self.runtime_dir)
        self.zmq = zmq.asyncio.Context()
        # a context of its own per kernel had no socket limit to share; lift libzmq's default of 1023
        self.zmq.set(zmq.MAX_SOCKETS, MAX_ZMQ_SOCKETS)
        # a client connects before its kernel has bound (a forked one binds within milliseconds):
        # retry soon, backing off to libzmq's usual 100 ms
        self.zmq.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
        self.zmq.setsockopt(zmq.RECONNECT_IVL_MAX, 100)
        self.available = self._find_languages()
        self._start_templates()
        sizes = dict.fromkeys(self.settings.languages_warm(self.available), self.settings.pool_size)
        self.pool = KernelPool(self._start_kernel, self.retire, sizes)
        self.pool.fill()

    async def stop(self, in_use: list[Kernel]) -> None:
        """Shut down the pool, the kernels `in_use` and those still retiring; remove the runtime directory."""
        if self.pool:
            await self.pool.close()
        await asyncio.gather(*(self.end(k) for k in in_use), *self._retiring, return_exceptions=True)
        await asyncio.gather(*(t.stop() for t in self.templates.values()))  # last: it reports its kernels' ends
        if self.zmq is not None:
            self.zmq.destroy(linger=0)  # the kernels' sockets are closed by now; nothing may linger
            self.zmq = None
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def _start_templates(self) -> None:
        """A template per language whose kernelspec's provisioner forks kernels (setting kernel_templates)."""
        if not self.settings.kernel_templates:
            return
        for name in self.available:
            spec = self.ksm.get_kernel_spec(LANGUAGES[name].kernel_name)
            if spec.metadata.get("kernel_provisioner", {}).get("provisioner_name") == "kernelagent-fork":
                env = proc.marked_env(agent_base_env(), f"{os.getpid()}-template-{name}")
                template = KernelTemplate(name, env, self.settings.workspace, self.settings.kernel_start_timeout)
                template.start()
                self.templates[name] = template

    def modes(self) -> dict[str, dict]:
        """How each language's kernels start: forked from a template (and its state), or launched."""
        launched = {"mode": "launch"}
        return {lang: self.templates[lang].info() if lang in self.templates else launched for lang in self.available}

    def _find_languages(self) -> list[str]:
        specs = self.ksm.find_kernel_specs()
        found = []
        for lang in LANGUAGES.values():
            if (
                lang.kernel_name in specs
                and all(shutil.which(exe) for exe in lang.requires)
                and all(importlib.util.find_spec(mod) for mod in lang.requires_modules)
            ):
                found.append(lang.name)
            else:
                log.warning(
                    "language %s is not available (needs %s)",
                    lang.name,
                    ", ".join(lang.requires + lang.requires_modules) or "its kernelspec",
                )
        return found

    async def _start_kernel(self, language: str) -> Kernel:
        lang = LANGUAGES[language]
        assert self.zmq is not None, "a kernel started before start() or after stop()"
        kernel = Kernel(lang, self.ksm, self.runtime_dir, self.zmq, self.settings.kernel_digest_history)
        kernel.km.template = self.templates.get(language)
        try:
            env = proc.marked_env(agent_base_env(), kernel_tree(kernel))  # found again when it ends
            user = run_as(self.settings.run_as_user)
            await kernel.start(self.settings.workspace, env, self.settings.kernel_start_timeout, user)
            warmup = lang.warmup
            if lang.stream_limit:
                kernel.stream_limit = self.source_cap(None)
                warmup += lang.stream_limit(kernel.stream_limit)
            if lang.charts:
                warmup += lang.charts(self.settings.chart_max_points)
            if warmup:
                outputs = await kernel.run_silent(warmup, self.settings.kernel_start_timeout)
                if outputs.error:
                    raise RuntimeError(f"warm-up failed: {outputs.error['ename']}: {outputs.error['evalue']}")
        except BaseException:
            await kernel.shutdown()
            raise
        return kernel

    def source_cap(self, wanted: int | None) -> int:
        """The output cap set inside kernels that can trim at the source: a little over what the
        agent keeps (or what a listener `wanted`), so the agent still sees the overflow and reports it."""
        cap = max(self.settings.max_stdout_bytes, self.settings.max_stderr_bytes, wanted or 0)
        return cap + 4096

    async def take(self, language: Language) -> Kernel:
        """A ready kernel of `language` (a warm one when the pool has it); 500 if none can start."""
        assert self.pool is not None, "take() before start()"
        try:
            return await self.pool.take(language.name)
        except Exception as exc:  # any start failure is this 500
            raise AgentError("EXECUTION_FAILED", 500, f"Could not start a {language.name} kernel: {exc}") from None

    def retire(self, kernel: Kernel) -> None:
        """Shut a kernel no context holds any more down in the background (its whole tree)."""
        task = asyncio.create_task(self.end(kernel))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def end(self, kernel: Kernel) -> None:
        """Shut a kernel down, then end what it started, even what left its group or session."""
        await kernel.shutdown()
        await proc.kill_tree([], self.settings.kill_grace, tree=kernel_tree(kernel))

    def pool_state(self) -> dict:
        return self.pool.state() if self.pool else {}
