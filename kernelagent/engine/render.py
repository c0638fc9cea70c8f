"""One run, rendered into the /execute answer: outputs, exit code, and the error that says how it ended.

Pure functions of what a run gathered; the stream and job handlers read the same answer.
"""

from __future__ import annotations

import signal
from typing import Any

from kernelagent_kernels.charts import MIME as CHART_MIME

from ..core.clock import utc_now_iso
from ..core.text import BoundedText
from ..models.execute import ExecuteAnswer, ExecutionError, OutputFields
from .outputs import Outputs

EXIT_TIMEOUT = 124  # as coreutils' `timeout`

# MIME types that get a top-level field of their own in the /execute answer (the first of each).
TOP_LEVEL = {
    "image/png": "png",
    "text/html": "html",
    "image/svg+xml": "svg",
    "text/markdown": "markdown",
    "application/json": "json",
    CHART_MIME: "chart",
}


def output_fields(outputs: Outputs) -> OutputFields:
    """The output part of an /execute answer."""
    result = None
    if outputs.result is not None:  # the last expression's value: held to the stdout cap like print()
        result = BoundedText(outputs.max_stdout)
        result.add(outputs.result)
    result_cut = result is not None and result.truncated
    out: dict[str, Any] = {
        "stdout": outputs.stdout.text(),
        "stderr": outputs.stderr.text(),
        "rich_outputs": outputs.rich,
        "truncated": outputs.truncated or result_cut,
    }
    if out["truncated"]:
        # Kernels may trim at the source too, so these say what was cut, not how much.
        out["truncation"] = {
            "stdout": outputs.stdout.truncated,
            "stderr": outputs.stderr.truncated,
            "rich_outputs_dropped": outputs.rich_dropped,
            "limits": {
                "stdout_bytes": outputs.stdout.limit,
                "stderr_bytes": outputs.stderr.limit,
                "rich_bytes": outputs.max_rich,
            },
        }
        if result_cut:
            out["truncation"]["result"] = True
    if result is not None:
        out["result"] = result.text()
    for entry in outputs.rich:
        for mime, key in TOP_LEVEL.items():
            if key not in out and mime in entry["data"]:
                out[key] = entry["data"][mime]
    return out  # type: ignore[return-value]


def exit_code(reply: dict[str, Any] | None, outputs: Outputs) -> int:
    """The run's exit code: a wrapper kernel's own (bash: the cell's status), else 1 on error, 0 on success."""
    if reply is not None and isinstance(reply.get("exit_code"), int):
        return int(reply["exit_code"])
    if outputs.error or (reply is not None and reply.get("status") not in (None, "ok")):
        return 1
    return 0


def kernel_error(error: dict[str, Any], kernel_restarted: bool = False) -> ExecutionError:
    """An error the code raised (EXECUTION_ERROR); `kernel_restarted` when it also ended the runtime."""
    out: ExecutionError = {
        "ename": error["ename"],
        "evalue": error["evalue"],
        "traceback": error["traceback"],
        "code": "EXECUTION_ERROR",
        "message": f"{error['ename']}: {error['evalue']}",
    }
    if kernel_restarted:
        out["state_preserved"] = False
        out["kernel_restarted"] = True
    return out


def timeout_message(timeout: float, preserved: bool) -> str:
    how = (
        "the kernel was interrupted; its state is kept"
        if preserved
        else "the kernel ignored the interrupt and was restarted; its state was lost"
    )
    return f"Execution timed out after {timeout:g} s: {how}"


def timeout_error(message: str, preserved: bool) -> ExecutionError:
    """The deadline passed: interrupted (state kept) or restarted (state lost)."""
    return {
        "code": "EXECUTION_TIMEOUT",
        "message": message,
        "ename": "TimeoutError",
        "evalue": message,
        "traceback": [],
        "state_preserved": preserved,
        "kernel_restarted": not preserved,
    }


def death_cause(status: int | None) -> tuple[str, int]:
    """How a kernel process ended (its return code; negative: the signal), in words, and the exit
    code a shell would report."""
    if status is not None and status < 0:
        try:
            cause = f"killed by {signal.Signals(-status).name}"
        except ValueError:
            cause = f"killed by signal {-status}"
        if status == -signal.SIGKILL:
            cause += " (possibly out of memory)"
        return cause, 128 - status
    if status is None:
        return "exit status unknown", 1
    return f"exited with status {status}", status if status else 1


def death_error(cause: str) -> ExecutionError:
    """The kernel died while running the code; a fresh one replaces it."""
    message = f"The kernel died ({cause}); its state was lost and a fresh kernel replaces it"
    return {
        "code": "KERNEL_DIED",
        "message": message,
        "ename": "KernelDied",
        "evalue": message,
        "traceback": [],
        "state_preserved": False,
        "kernel_restarted": True,
    }


def answer(
    *,
    outputs: Outputs,
    reply: dict[str, Any] | None,
    exit_code: int,
    error: ExecutionError | None,
    execution_time: float,
    language: str,
    context_id: str,
    restarted: bool,
) -> ExecuteAnswer:
    """The /execute answer of one run."""
    result: dict[str, Any] = {
        "success": exit_code == 0,
        "exit_code": exit_code,
        "execution_time": round(execution_time, 6),
        "language": language,
        "context_id": context_id,
        "execution_count": (reply or {}).get("execution_count"),
        "timestamp": utc_now_iso(),
        **output_fields(outputs),
    }
    if error is not None:
        result["error"] = error
    if restarted:
        result["kernel_restarted"] = True
    return result  # type: ignore[return-value]
