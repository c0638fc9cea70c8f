"""Running a notebook's code cells in order in one context, under a per-cell and a total deadline.

Each cell is one execution of the context (recorded in its history like any other), and its
outputs are the answer's, as in GET /contexts/{id}/notebook. Markdown and raw cells, and code cells
with nothing to run, are left as they are. The run stops at the first failing cell unless asked to
go on; a cell tagged `raises-exception` may fail (nbclient's convention).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import nbformat

from ..engine.context import Context, Execution
from ..models.execute import ExecuteAnswer, ExecutionError
from .cells import outputs, run_metadata

MAY_FAIL_TAG = "raises-exception"


@dataclass(frozen=True)
class RunPlan:
    """How to run: the deadlines and what every cell's execution is given."""

    cell_timeout: float
    total_timeout: float
    continue_on_error: bool
    workdir: str
    env: dict[str, str]


@dataclass
class RunOutcome:
    """What running the cells did (the service adds where the run happened and what it wrote)."""

    cells: int = 0
    code_cells: int = 0
    cells_run: int = 0
    failed_cells: list[int] = field(default_factory=list)
    error: ExecutionError | None = None
    stopped: str | None = None  # "error", "deadline", or None: every code cell ran
    execution_time: float = 0.0

    @property
    def success(self) -> bool:
        return not self.failed_cells and self.stopped is None


def runnable(cell: Any) -> bool:
    return bool(cell.get("cell_type") == "code" and str(cell.get("source", "")).strip())


def may_fail(cell: Any) -> bool:
    return MAY_FAIL_TAG in (cell.get("metadata", {}).get("tags") or [])


def fill(cell: Any, answer: ExecuteAnswer, started: float) -> None:
    """Put a run's outputs, execution count and timing into its cell."""
    cell["outputs"] = [nbformat.from_dict(o) for o in outputs(answer)]
    cell["execution_count"] = answer.get("execution_count")
    cell.setdefault("metadata", nbformat.NotebookNode())
    cell["metadata"].update(nbformat.from_dict(run_metadata(answer, started)))


async def run_cells(nb: nbformat.NotebookNode, ctx: Context, plan: RunPlan) -> RunOutcome:
    """Run `nb`'s code cells in `ctx`, in order, filling their outputs in place."""
    outcome = RunOutcome(cells=len(nb.cells), code_cells=sum(1 for c in nb.cells if c.get("cell_type") == "code"))
    begun = time.monotonic()
    deadline = begun + plan.total_timeout
    for index, cell in enumerate(nb.cells):
        if not runnable(cell):
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            outcome.stopped = "deadline"
            break
        timeout = min(plan.cell_timeout, remaining)
        started = time.time()
        answer = await ctx.execute(Execution(cell["source"], timeout, plan.env, plan.workdir))
        fill(cell, answer, started)
        outcome.cells_run += 1
        if answer.get("success", True) or may_fail(cell):
            continue
        outcome.failed_cells.append(index)
        error = answer.get("error")
        if outcome.error is None and error is not None:
            outcome.error = error
        if timeout < plan.cell_timeout and error is not None and error.get("code") == "EXECUTION_TIMEOUT":
            outcome.stopped = "deadline"  # the total deadline cut this cell short
            break
        if not plan.continue_on_error:
            outcome.stopped = "error"
            break
    outcome.execution_time = round(time.monotonic() - begun, 6)
    return outcome
