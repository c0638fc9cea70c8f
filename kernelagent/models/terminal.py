"""WS /terminal: its size query and its client frames."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import QueryModel, RequestModel

MAX_DIMENSION = 1000

Dimension = Annotated[int, Field(ge=1, le=MAX_DIMENSION)]


class TerminalSize(QueryModel):
    """`?cols=&rows=` of the upgrade: the PTY's size at start."""

    cols: Dimension = Field(80, description="columns")
    rows: Dimension = Field(24, description="rows")


class TerminalInput(RequestModel):
    """{"type": "input", "data": "ls\\n"}: text typed into the shell."""

    type: Literal["input"]
    data: str


class TerminalResize(RequestModel):
    """{"type": "resize", "cols": 120, "rows": 40}: a new PTY size."""

    type: Literal["resize"]
    cols: Dimension
    rows: Dimension


# client frame types and their models; frames of other types are skipped, as the contract says
FRAMES: dict[str, type[TerminalInput | TerminalResize]] = {"input": TerminalInput, "resize": TerminalResize}
