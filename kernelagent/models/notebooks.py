"""Requests and answers of notebooks: a context's history as a notebook, and a notebook run through the agent."""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from pydantic import Field

# pydantic reads TypedDicts from typing_extensions on Python < 3.12
from typing_extensions import TypedDict

from .base import EnvVars, IdempotencyField, OsText, Timeout, WorkdirFields
from .execute import ExecutionError

# a path, checked by the file API's policy; an empty one is refused here, naming its field
NotebookPath = Annotated[OsText, Field(min_length=1)]


class NotebookRunRequest(WorkdirFields, IdempotencyField):
    """POST /notebooks/run: run a notebook's code cells in order, in a fresh context or a named one.

    The notebook comes as JSON (`notebook`) or as a file in the workspace (`path`); the working
    directory defaults to that file's directory (else the workspace).
    """

    notebook: dict[str, Any] | None = Field(None, description="the notebook itself (nbformat v4, or older: converted)")
    path: NotebookPath | None = Field(None, description="a notebook file the file API may read, instead of `notebook`")
    context_id: str | None = Field(None, description="run in this context; default: a fresh one, deleted after")
    language: str | None = Field(None, description="a fresh context's language; default: the notebook's kernelspec")
    keep_context: bool = Field(False, description="keep the fresh context after the run (its id is in the summary)")
    timeout: Timeout | None = Field(None, description="seconds each cell may run before its kernel is interrupted")
    total_timeout: Timeout | None = Field(None, description="seconds the whole run may take; default max_timeout")
    continue_on_error: bool = Field(False, description="run the cells after a failing one too")
    env: EnvVars | None = Field(None, description="variables for this run only, over the global ones")
    write: bool = Field(False, description="write the executed notebook beside the input: NAME.executed.ipynb")
    output_path: NotebookPath | None = Field(None, description="write the executed notebook here (implies write)")


# --- answers ---


class Notebook(TypedDict):
    """An nbformat v4 notebook (see the nbformat schema for its cells and outputs)."""

    nbformat: int
    nbformat_minor: int
    metadata: dict[str, Any]
    cells: list[dict[str, Any]]


class NotebookRunSummary(TypedDict):
    """How a run went: which cells ran, the first that failed and why, how long it took."""

    success: bool  # every code cell ran, and none failed (cells tagged raises-exception may)
    cells: int  # all cells of the notebook
    code_cells: int
    cells_run: int
    failed_cell: int | None  # index (in `cells`) of the first failing cell
    failed_cells: list[int]
    error: NotRequired[ExecutionError]  # the first failing cell's
    stopped: str | None  # "error" (at the first failure), "deadline" (total_timeout), or null: ran to the end
    execution_time: float
    context_id: str
    context_kept: bool
    written: str | None  # where the executed notebook was written


class NotebookRunAnswer(TypedDict):
    """The executed notebook (outputs and execution counts filled in) and the run's summary."""

    notebook: Notebook
    summary: NotebookRunSummary
