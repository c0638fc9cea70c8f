"""jupyter_client kernel provisioners for kernels whose launch needs more than a command line.

A kernelspec names its provisioner in `metadata.kernel_provisioner.provisioner_name`;
jupyter_client finds it through the `jupyter_client.kernel_provisioners` entry point group
(see pyproject.toml).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
from collections.abc import Callable
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent() -> Callable[[], None]:
    """A Popen `preexec_fn` that makes the child get SIGKILL when the thread that forked it ends.

    PR_SET_PDEATHSIG survives exec. It is tied to the forking thread, not the process: the agent
    starts kernels from its event-loop thread, which lives as long as the agent. Everything the
    hook needs is looked up here, in the parent, so the forked child only makes one libc call.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return hook


class DenoProvisioner(LocalProvisioner):
    """Starts Deno's Jupyter kernel (`deno jupyter --kernel --conn FILE`) locally.

    What sets it apart from the LocalProvisioner it extends:
    - transport: Deno's kernel can only bind tcp, so the kernel manager is switched to tcp on
      127.0.0.1 (messages are signed with the connection key) before the connection file is
      written, whatever transport the caller chose;
    - the deno executable: argv[0] "deno" becomes the binary of the `deno` Python package;
    - lifetime: ipykernel and our wrapper kernels watch their parent, Deno does not; so Deno
      gets PR_SET_PDEATHSIG before exec and dies with the process that started it, even one
      killed outright.
    Interrupts stay as the kernelspec says (message mode: Deno ignores SIGINT for cells).
    """

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if km is not None and km.transport != "tcp":
            km.transport = "tcp"
            km.ip = "127.0.0.1"
        kwargs = await super().pre_launch(**kwargs)
        cmd = kwargs["cmd"]
        if cmd and cmd[0] == "deno":
            kwargs["cmd"] = [deno_executable(), *cmd[1:]]
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        kwargs["preexec_fn"] = die_with_parent()
        return await super().launch_kernel(cmd, **kwargs)


def deno_executable() -> str:
    """The binary of the `deno` Python package (the version the project pins), else deno on PATH."""
    try:
        from deno import find_deno_bin
    except ImportError:
        return shutil.which("deno") or "deno"
    return os.fsdecode(find_deno_bin())
