"""What a kernel says about itself: its kernelspec and its `language_info` (for notebook metadata).

`language_info` comes from the kernel's own kernel_info_reply, asked over a short-lived client of
its own (a kernel serves many clients), so the kernel's main client and its message routing are
left alone. The answer is the same for every kernel of a kernelspec, so it is asked once per
language and kept.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .kernel import Kernel

log = logging.getLogger("kernelagent.engine")

ASK_TIMEOUT = 5.0  # seconds a kernel has to answer kernel_info (it may be busy with a cell)


def kernelspec(kernel: Kernel) -> dict[str, str]:
    """The notebook's `kernelspec` metadata: name, display name and language of the kernel's spec."""
    spec = kernel.km.kernel_spec
    return {
        "name": kernel.language.kernel_name,
        "display_name": getattr(spec, "display_name", "") or kernel.language.name,
        "language": getattr(spec, "language", "") or kernel.language.name,
    }


async def ask_language_info(kernel: Kernel, timeout: float = ASK_TIMEOUT) -> dict[str, Any] | None:
    """The kernel's `language_info` from its kernel_info_reply; None if it does not answer in time."""
    kc = kernel.side_client()
    kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = kc.kernel_info()
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            msg = await kc.get_shell_msg(timeout=remaining)
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                info = msg["content"].get("language_info")
                return dict(info) if isinstance(info, dict) else None
    except Exception as exc:  # no answer in time (queue.Empty) or a closed kernel: the caller falls back
        log.info("kernel %s: no kernel_info (%s)", kernel.id, exc or type(exc).__name__)
    finally:
        kc.stop_channels()
    return None


class KernelInfoCache:
    """`language_info` per language, asked of the first kernel of that language that answers."""

    def __init__(self) -> None:
        self._infos: dict[str, dict[str, Any]] = {}

    async def language_info(self, kernel: Kernel, ask: bool = True) -> dict[str, Any]:
        """The language's `language_info`; `ask=False` (the kernel is busy running a cell) takes what is
        known without asking, at least the language's name."""
        name = kernel.language.name
        info = self._infos.get(name)
        if info is None:
            info = await ask_language_info(kernel) if ask else None
            if info is None:
                return {"name": kernel_language(kernel)}  # the least nbformat asks for; not kept
            self._infos[name] = info
        return info


def kernel_language(kernel: Kernel) -> str:
    return kernelspec(kernel)["language"]
