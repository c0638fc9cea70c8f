"""One execution's answer as nbformat v4 outputs and as a code cell.

Pure functions of the /execute answer, so a notebook holds what the API returned: stdout and stderr
as stream outputs, each rich output as its display_data or execute_result (a plain value as an
execute_result of its text), and the error as an error output. The answer keeps streams apart
from rich outputs, so within a cell streams come first, then the rich outputs in their order.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..core.clock import iso_from_epoch
from ..engine.history import HistoryEntry
from ..models.execute import ExecuteAnswer

# nbformat's mimebundle: any key "type/subtype"; only JSON types may hold a non-string value
MIME = re.compile(r"^[a-zA-Z0-9.+\-]+/[a-zA-Z0-9.+\-]+$")
JSON_MIME = re.compile(r"^application/(.*\+)?json$")
CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def mimebundle(data: dict[str, Any]) -> dict[str, Any]:
    """A MIME bundle nbformat accepts: well-formed keys, text values except for JSON types."""
    out: dict[str, Any] = {}
    for mime, value in data.items():
        if not MIME.match(mime) or "//" in mime:
            continue
        if JSON_MIME.match(mime) or isinstance(value, str):
            out[mime] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[mime] = "".join(value)
        else:
            out[mime] = json.dumps(value, default=str)
    return out


def stderr_without_traceback(stderr: str, traceback: list[str]) -> str:
    """stderr less the traceback the agent appended to it (the error output carries it)."""
    if not traceback:
        return stderr
    text = "\n".join(traceback)
    text = text if text.endswith("\n") else text + "\n"
    return stderr[: -len(text)] if stderr.endswith(text) else stderr


def outputs(answer: ExecuteAnswer) -> list[dict[str, Any]]:
    """The nbformat outputs of one answer."""
    out: list[dict[str, Any]] = []
    error = answer.get("error")
    count = answer.get("execution_count")
    stdout = answer.get("stdout", "")
    stderr = answer.get("stderr", "")
    if error is not None:
        stderr = stderr_without_traceback(stderr, error.get("traceback") or [])
    if stdout:
        out.append({"output_type": "stream", "name": "stdout", "text": stdout})
    if stderr:
        out.append({"output_type": "stream", "name": "stderr", "text": stderr})
    has_result = False
    for rich in answer.get("rich_outputs", ()):
        data = mimebundle(rich.get("data") or {})
        metadata = rich.get("metadata") or {}
        if rich.get("output_type") == "execute_result":
            has_result = True
            out.append({"output_type": "execute_result", "execution_count": count, "data": data, "metadata": metadata})
        else:
            out.append({"output_type": "display_data", "data": data, "metadata": metadata})
    result = answer.get("result")
    if result is not None and not has_result:
        out.append(
            {"output_type": "execute_result", "execution_count": count, "data": {"text/plain": result}, "metadata": {}}
        )
    if error is not None:
        out.append(
            {
                "output_type": "error",
                "ename": str(error.get("ename", "Error")),
                "evalue": str(error.get("evalue", "")),
                "traceback": list(error.get("traceback") or []) or [f"{error.get('ename')}: {error.get('evalue')}"],
            }
        )
    return out


def run_metadata(answer: ExecuteAnswer, started: float) -> dict[str, Any]:
    """A cell's `execution` timing (JupyterLab's keys) and how the run ended (kernelagent's)."""
    took = float(answer.get("execution_time", 0.0))
    meta: dict[str, Any] = {
        "execution": {
            "iopub.execute_input": iso_from_epoch(started),
            "shell.execute_reply": iso_from_epoch(started + took),
        },
        "kernelagent": {
            "success": answer.get("success", True),
            "exit_code": answer.get("exit_code", 0),
            "execution_time": took,
        },
    }
    if answer.get("truncated"):
        meta["kernelagent"]["truncated"] = True
    return meta


def code_cell(entry: HistoryEntry, limit: int) -> dict[str, Any]:
    """A history entry as a code cell (`limit`: the history's size bound, named when outputs were dropped)."""
    cell_outputs = outputs(entry.answer)
    metadata = run_metadata(entry.answer, entry.started)
    if entry.outputs_dropped:
        note = (
            f"[kernelagent] this execution's outputs ({entry.outputs_dropped} characters) were over the "
            f"history's limit ({limit}) and were not kept\n"
        )
        cell_outputs.insert(0, {"output_type": "stream", "name": "stderr", "text": note})
        metadata["kernelagent"]["outputs_dropped"] = entry.outputs_dropped
    return {
        "cell_type": "code",
        "id": f"exec-{entry.seq}",
        "execution_count": entry.answer.get("execution_count"),
        "metadata": metadata,
        "source": entry.code,
        "outputs": cell_outputs,
    }
