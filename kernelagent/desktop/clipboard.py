"""The CLIPBOARD selection, through xclip: it owns the selection for the agent and reads it back.

Owning a selection means answering other programs' requests for as long as the text is held, so
the owner is a process of its own (one `xclip -quiet`, replaced on each set and ended at stop).
What was set or read is kept, bounded, as the history.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque

from kernelagent_kernels.provisioning import die_with_parent

from ..core import proc
from ..core.errors import AgentError
from .display import Display

READ_TIMEOUT = 5.0  # seconds to wait for the selection's owner to answer
OWNED_TIMEOUT = 2.0  # seconds to wait for xclip to take the selection


class Clipboard:
    """Sets and reads the clipboard as UTF-8 text; keeps the last texts seen."""

    def __init__(self, display: Display, history: int):
        self.display = display
        self.history: deque[str] = deque(maxlen=max(1, history))
        self.owner: asyncio.subprocess.Process | None = None

    def _env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display.name}

    def _remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)

    async def set(self, text: str) -> None:
        await self.release()
        owner = await asyncio.create_subprocess_exec(
            "xclip", "-quiet", "-selection", "clipboard", "-target", "UTF8_STRING", "-in",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=self._env(),
            start_new_session=True,
            preexec_fn=die_with_parent(),  # dies with the agent, even one killed outright
        )  # fmt: skip
        assert owner.stdin is not None
        owner.stdin.write(text.encode("utf-8"))
        await owner.stdin.drain()
        owner.stdin.close()
        self.owner = owner
        self._remember(text)
        # answer once the selection is ours, so that a read right after sees the new text
        deadline = asyncio.get_running_loop().time() + OWNED_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            if await self._read() == text or owner.returncode is not None:
                break
            await asyncio.sleep(0.01)

    async def _read(self) -> str | None:
        reader = await asyncio.create_subprocess_exec(
            "xclip", "-selection", "clipboard", "-target", "UTF8_STRING", "-out",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self._env(),
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(reader.communicate(), READ_TIMEOUT)
        except TimeoutError:
            reader.kill()
            await reader.wait()
            raise AgentError("CLIPBOARD_TIMEOUT", 504, "The clipboard's owner did not answer") from None
        if reader.returncode != 0:
            return None  # nothing owns the clipboard, or it holds no text
        return out.decode("utf-8", "replace")

    async def get(self) -> str:
        text = await self._read() or ""
        self._remember(text)
        return text

    def texts(self) -> list[str]:
        return list(self.history)

    def owner_pid(self) -> int | None:
        return self.owner.pid if self.owner is not None and self.owner.returncode is None else None

    async def release(self) -> None:
        if self.owner is not None and self.owner.returncode is None:
            await proc.kill_tree(proc.descendants(self.owner.pid), grace=1.0)
            await self.owner.wait()
        self.owner = None
