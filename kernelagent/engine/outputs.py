"""Bounded gathering of one execution's iopub messages (rendered into the answer by render.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.clock import utc_now_iso
from ..core.text import BoundedText
from ..models.execute import RichOutput

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")

# Preference when naming an output's main type (the old SDK's `type` field).
PREFERENCE = [
    "image/png",
    "image/jpeg",
    "image/svg+xml",
    "text/html",
    "application/json",
    "text/markdown",
    "text/latex",
    "text/plain",
]


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def _bundle_size(data: dict) -> int:
    total = 0
    for value in data.values():
        total += len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
    return total


def main_type(data: dict) -> str:
    for mime in PREFERENCE:
        if mime in data:
            return mime
    return next(iter(data), "text/plain")


@dataclass
class Outputs:
    """Everything one execution produced, each kind bounded by its own cap."""

    max_stdout: int
    max_stderr: int
    max_rich: int
    listener: Callable[[str, Any], None] | None = None
    forward_limit: int | None = None  # stream characters the listener gets; None: what is kept
    stdout: BoundedText = field(init=False)
    stderr: BoundedText = field(init=False)
    rich: list[RichOutput] = field(default_factory=list)
    rich_size: int = 0
    rich_dropped: int = 0
    result: str | None = None
    error: dict | None = None
    execution_count: int | None = None

    def __post_init__(self) -> None:
        self._forwarded = {"stdout": 0, "stderr": 0}
        self.stdout = BoundedText(self.max_stdout)
        self.stderr = BoundedText(self.max_stderr)

    def _emit(self, kind: str, payload: Any) -> None:
        if self.listener is not None:
            self.listener(kind, payload)

    def add_message(self, kind: str, content: dict) -> None:
        """An iopub message of the run, by its msg_type; what is not output (status, input) is left."""
        if kind == "stream":
            self.add_stream(content.get("name", "stdout"), content.get("text", ""))
        elif kind in ("display_data", "execute_result", "update_display_data"):
            self.add_display(kind, content)
        elif kind == "error":
            self.add_error(content)

    def add_stream(self, name: str, text: str) -> None:
        name = "stderr" if name == "stderr" else "stdout"
        buf = self.stderr if name == "stderr" else self.stdout
        kept = buf.add(text)
        if self.forward_limit is None:
            forward = kept
        else:  # the listener may take more than is kept here (a job spilling to a file)
            sent = self._forwarded[name]
            forward = text[: max(self.forward_limit - sent, 0)]
            self._forwarded[name] = sent + len(forward)
        if forward:
            self._emit(name, forward)

    def add_display(self, msg_type: str, content: dict) -> None:
        data = content.get("data") or {}
        if msg_type == "execute_result":
            self.execution_count = content.get("execution_count")
            if "text/plain" in data:
                self.result = data["text/plain"]
            if set(data) <= {"text/plain"}:
                return  # a plain value is the `result`, not a rich output
        size = _bundle_size(data)
        if self.rich_size + size > self.max_rich:
            self.rich_dropped += 1
            return
        self.rich_size += size
        entry: RichOutput = {
            "type": main_type(data),
            "data": data,
            "metadata": content.get("metadata") or {},
            "output_type": msg_type,
            "timestamp": utc_now_iso(),
        }
        self.rich.append(entry)
        self._emit("display", entry)

    def add_error(self, content: dict) -> None:
        tb = [strip_ansi(line) for line in content.get("traceback") or []]
        self.error = {
            "ename": content.get("ename", "Error"),
            "evalue": content.get("evalue", ""),
            "traceback": tb,
        }
        # Wrapper kernels send an empty traceback when stderr already says it all (bash's exit status,
        # go's compiler output): the structured `error` carries it then.
        if tb:
            text = "\n".join(tb)
            self.add_stream("stderr", text if text.endswith("\n") else text + "\n")

    @property
    def truncated(self) -> bool:
        return self.stdout.truncated or self.stderr.truncated or self.rich_dropped > 0
