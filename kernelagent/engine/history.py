"""A context's history: the executions it ran, as their answers, bounded in cells and in size.

Every context keeps one (default contexts too). Each run's answer is recorded where the context
builds it, so the history holds exactly what the caller was given. The oldest executions go first
when a bound is reached, and the history counts what it dropped, so a notebook built from it can
say so. A restart or a delete clears it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from typing_extensions import TypedDict

from ..models.execute import ExecuteAnswer

# Answer fields that hold output; an execution too large to keep loses these, not its code or error.
OUTPUT_FIELDS = ("stdout", "stderr", "rich_outputs", "result", "png", "html", "svg", "markdown", "json")


def answer_size(code: str, answer: ExecuteAnswer) -> int:
    """What keeping an execution costs: its code and outputs, in characters (images count as base64)."""
    size = len(code) + len(answer.get("stdout", "")) + len(answer.get("stderr", "")) + len(answer.get("result", ""))
    for entry in answer.get("rich_outputs", ()):
        for value in entry["data"].values():
            size += len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
    return size


@dataclass(frozen=True)
class HistoryEntry:
    """One execution as its context ran it: the code, the answer the caller got, when it started."""

    seq: int  # 1, 2, ... in the order the context ran them (not reset by dropping)
    code: str
    answer: ExecuteAnswer
    started: float  # epoch seconds
    size: int
    outputs_dropped: int = 0  # > 0: the size of the outputs that were too large to keep


class HistoryLimits(TypedDict):
    """The bounds of a history (settings history_max_cells and history_max_bytes)."""

    cells: int
    bytes: int


class HistoryState(TypedDict):
    """How much a history holds, and what its bounds made it drop."""

    cells: int
    bytes: int
    dropped_cells: int  # the oldest executions dropped to stay within the bounds
    dropped_outputs: int  # executions kept without their outputs (each alone was over the size bound)
    truncated: bool
    limits: HistoryLimits


class History:
    """The executions of one context, oldest first, within `max_cells` and `max_bytes`."""

    def __init__(self, max_cells: int, max_bytes: int):
        self.max_cells = max_cells
        self.max_bytes = max_bytes
        self._entries: deque[HistoryEntry] = deque()
        self._seq = 0
        self.size = 0
        self.dropped_cells = 0
        self.dropped_outputs = 0

    def record(self, code: str, answer: ExecuteAnswer, started: float | None = None) -> None:
        """Keep one execution's answer; drop the oldest ones while the bounds are exceeded."""
        self._seq += 1
        if self.max_cells <= 0:
            self.dropped_cells += 1
            return
        if started is None:
            started = time.time() - answer.get("execution_time", 0.0)
        size = answer_size(code, answer)
        dropped = 0
        if size > self.max_bytes:  # alone over the bound: keep the code and how it ended, not the outputs
            dropped = size - len(code)
            answer = without_outputs(answer)
            size = len(code)
            self.dropped_outputs += 1
        while self._entries and (len(self._entries) >= self.max_cells or self.size + size > self.max_bytes):
            self.size -= self._entries.popleft().size
            self.dropped_cells += 1
        self._entries.append(HistoryEntry(self._seq, code, answer, started, size, dropped))
        self.size += size

    def entries(self) -> list[HistoryEntry]:
        """The executions kept, oldest first."""
        return list(self._entries)

    def clear(self) -> None:
        """Forget everything (the context's kernel was restarted: its state is gone)."""
        self._entries.clear()
        self.size = 0
        self.dropped_cells = 0
        self.dropped_outputs = 0

    def __len__(self) -> int:
        return len(self._entries)

    def state(self) -> HistoryState:
        return {
            "cells": len(self._entries),
            "bytes": self.size,
            "dropped_cells": self.dropped_cells,
            "dropped_outputs": self.dropped_outputs,
            "truncated": bool(self.dropped_cells or self.dropped_outputs),
            "limits": {"cells": self.max_cells, "bytes": self.max_bytes},
        }


def without_outputs(answer: ExecuteAnswer) -> ExecuteAnswer:
    """The answer with its outputs left out (its status, counts and error kept)."""
    kept: dict[str, Any] = {k: v for k, v in answer.items() if k not in OUTPUT_FIELDS}
    kept.update(stdout="", stderr="", rich_outputs=[])
    return kept  # type: ignore[return-value]
